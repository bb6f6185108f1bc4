"""Every command example of the README and docs/ parses, so the documentation cannot rot.

Each ``twin ...`` line in a fenced code block (continuations joined, comments dropped) must name
an existing command whose options and arguments parse with click exactly as typed. The asyncua
command-line examples (``uals``, ``uaread``, ``uacall``) run against a real ``twin sim``.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from twin.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```")


def code_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, command) of fenced code blocks, continuations joined."""
    inside, pending, start = False, "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        if _FENCE.match(raw.strip()):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        line = raw.strip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


_INLINE = re.compile(r"`((?:\./scripts/)?twin [^`]+)`")
_PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b|\[|\.\.\.|…|\|")


def inline_commands(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, command) of inline code that is a complete ``twin`` command.

    Syntax summaries (``twin run SCENARIO [--until 7d]``) have placeholders and are skipped.
    """
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        for match in _INLINE.finditer(raw):
            if not _PLACEHOLDER.search(match.group(1)):
                yield number, match.group(1)


def _strip(command: str) -> list[str]:
    words = shlex.split(command, comments=True)
    if words and words[0] == "$":
        words = words[1:]
    while words and words[-1] == "&":
        words.pop()
    return words


def examples(programs: tuple[str, ...], inline: bool = False) -> list[tuple[str, list[str]]]:
    """Every example whose program is one of ``programs``: (where, argv).

    ``inline``: the inline code of the prose instead of the fenced code blocks.
    """
    out = []
    for path in DOCS:
        for number, line in inline_commands(path) if inline else code_lines(path):
            words = _strip(line) if re.match(r"^(\$ )?[\w./-]+ ", line) else []
            if words and Path(words[0]).name in programs:
                out.append((f"{path.name}:{number}", words))
    return out


TWIN_EXAMPLES = examples(("twin",))
TWIN_MENTIONS = examples(("twin",), inline=True)


def test_the_docs_have_twin_examples() -> None:
    assert len(TWIN_EXAMPLES) >= 15
    assert {argv[1] for _, argv in TWIN_EXAMPLES} >= {"run", "sim", "gateway", "demo", "top"}


@pytest.mark.parametrize(("where", "argv"), TWIN_EXAMPLES, ids=[w for w, _ in TWIN_EXAMPLES])
def test_twin_example_parses(where: str, argv: list[str]) -> None:
    parse(where, argv, strict=True)


@pytest.mark.parametrize(("where", "argv"), TWIN_MENTIONS, ids=[w for w, _ in TWIN_MENTIONS])
def test_twin_mention_names_real_commands_and_options(where: str, argv: list[str]) -> None:
    """Inline code in the prose may leave out required arguments, nothing else."""
    parse(where, argv, strict=False)


def parse(where: str, argv: list[str], strict: bool) -> None:
    """Parse ``argv`` as ``twin`` would (strict: required parameters too), running nothing."""
    command = typer.main.get_command(app)  # typer's click: parse as `twin` would, run nothing
    name, args, ctx = "twin", argv[1:], None
    try:
        while hasattr(command, "resolve_command"):  # a group: twin, twin dashboards
            ctx = command.make_context(name, list(args), parent=ctx, resilient_parsing=not strict)
            protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
            if not [*protected, *ctx.args]:  # only the group's own options: twin --version
                return
            name, command, args = command.resolve_command(ctx, [*protected, *ctx.args])
            if command is None:  # resilient parsing lets an unknown command through
                pytest.fail(f"{where}: {' '.join(argv)}: no command {name!r}")
        command.make_context(name, list(args), parent=ctx, resilient_parsing=not strict)
    except Exception as exc:  # typer vendors click: its UsageError has no public import path
        if getattr(exc, "exit_code", None) == 0:  # --help, --version: a clean exit
            return
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        pytest.fail(f"{where}: {' '.join(argv)}: {message}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


UA_EXAMPLES = examples(("uals", "uaread", "uacall"))


@pytest.mark.integration
def test_opcua_examples_run_against_the_live_twin(tmp_path: Path) -> None:
    assert {argv[0] for _, argv in UA_EXAMPLES} == {"uals", "uaread", "uacall"}
    if shutil.which("uacall") is None:
        pytest.skip("asyncua's command-line tools are not on PATH")
    port = _free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/twin/"
    log = tmp_path / "sim.log"
    with log.open("wb") as out:
        sim = subprocess.Popen(
            [
                *(sys.executable, "-m", "twin", "sim", str(ROOT / "scenarios/bottling_line.yaml")),
                *("--no-mqtt", "--opcua-endpoint", endpoint, "--opcua-cert-dir", str(tmp_path)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert sim.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "twin sim did not serve OPC UA"
                time.sleep(0.2)
        for where, argv in UA_EXAMPLES:
            argv = [a.replace("opc.tcp://127.0.0.1:4840/twin/", endpoint) for a in argv]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            output = done.stdout + done.stderr
            assert done.returncode == 0, f"{where}: {' '.join(argv)}: {output}"
            assert "Bad" not in output and "Traceback" not in output, f"{where}: {output}"
    finally:
        sim.terminate()
        sim.wait(30)
