"""A fast ``twin``: commands load lazily, so help imports no heavy module; ``--version``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from twin.cli import COMMANDS, app, main, version

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("asyncua", "influxdb_client", "scipy", "dask", "matplotlib", "pyarrow", "paho")


def imported_after(args: list[str], modules: tuple[str, ...] = HEAVY) -> list[str]:
    """Return which of ``modules`` a fresh interpreter has loaded after ``twin ARGS``."""
    code = (
        "import json, sys, contextlib, io\n"
        "from twin.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({args!r})\n"
        f"heavy = [m for m in {modules!r} if m in sys.modules]\n"
        "print(json.dumps([code, heavy]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    code, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert code == 0, out.stderr
    return heavy


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["--version"]])
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    assert imported_after(args) == []


def test_kpi_of_a_json_log_loads_no_parquet_or_service_module(tmp_path: Path) -> None:
    from analytics.eventlog import write_event_log
    from tests.analytics.builders import worked_example

    log = tmp_path / "run.jsonl"
    write_event_log(worked_example(), log)
    assert imported_after(["kpi", str(log), "-f", "json"]) == []


def test_root_help_renders_without_rich() -> None:
    """Plain click help: rendering it with rich cost about 0.1 s of ``twin --help``."""
    assert imported_after(["--help"], ("rich",)) == []


def test_kpi_of_a_parquet_log_imports_no_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas for ``pa.array``, ``pa.scalar`` or ``to_numpy`` (0.2-0.3 s), and
    pyarrow.compute (0.1 s) for ``take`` or ``dictionary_encode``: the Parquet reader of
    ``twin kpi`` uses none of them; JSON output needs no rich."""
    from analytics.eventlog import write_event_log
    from tests.analytics.builders import worked_example

    log = tmp_path / "run.parquet"
    write_event_log(worked_example(), log)
    modules = ("pandas", "pyarrow.compute", "rich")
    assert imported_after(["kpi", str(log), "-f", "json"], modules) == []


def test_run_writing_a_parquet_log_imports_no_pandas(tmp_path: Path) -> None:
    """The Parquet writer builds its columns from buffers, not with ``pa.array`` (which
    imports pandas: 0.2-0.3 s and about 40 MB of a ``twin run --out run.parquet``)."""
    log = tmp_path / "run.parquet"
    scenario = str(ROOT / "scenarios" / "tandem_mm1.yaml")
    args = ["run", scenario, "--until", "2h", "--out", str(log), "-f", "json"]
    assert imported_after(args, ("pandas",)) == []
    assert log.stat().st_size > 0


def test_listed_help_is_each_commands_own_first_line() -> None:
    """``twin --help`` lists commands from a table; it must say what the commands say."""
    group = typer.main.get_group(app)
    for name, spec in COMMANDS.items():
        command = group.get_command(None, name)
        assert command is not None, name
        assert (command.help or "").strip().splitlines()[0] == spec.help, name


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"twin {version()}"


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_run_without_a_log_loads_only_what_it_prints(tmp_path: Path) -> None:
    """``twin run`` with its tables and no ``--out`` needs no log writer or reader, no JSON
    rows, no telemetry schema and (stderr not a terminal) no progress bar: each was imported
    and paid for on every run."""
    scenario = str(ROOT / "scenarios" / "tandem_mm1.yaml")
    modules = (
        "plant_sim.eventlog",
        "analytics.eventlog",
        "analytics.rows",
        "orjson",
        "plant_sim.telemetry_schema",
        "rich.progress",
        "rich.live",
    )
    assert imported_after(["run", scenario, "--until", "2h"], modules) == []


def test_the_program_leaves_its_objects_out_of_the_exit_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run as the program (no argv), ``twin`` freezes what it built before the interpreter
    exits (the collection at exit freed every module one by one: about 0.08 s CPU); called
    with arguments (in process, as here in tests) it leaves the collector alone."""
    import gc

    before = gc.get_freeze_count()
    assert main(["--version"]) == 0
    assert gc.get_freeze_count() == before
    monkeypatch.setattr(sys, "argv", ["twin", "--version"])
    try:
        assert main() == 0
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
