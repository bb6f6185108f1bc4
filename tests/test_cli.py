"""The ``twin`` command line: help everywhere, clear errors, and a headless run end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer.main

from plant_sim.eventlog import EventLog
from twin.cli import app, main

ROOT = Path(__file__).resolve().parents[1]


def command_names() -> list[str]:
    group = typer.main.get_group(app)
    names = []
    for name in group.list_commands(None):  # commands load lazily: get each one
        command = group.get_command(None, name)
        names.append(name)
        names += [f"{name} {sub}" for sub in getattr(command, "commands", {})]
    return names


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    names = command_names()
    assert {"run", "validate", "schema", "kpi"} <= set(names)
    for name in names:
        assert main([*name.split(), "--help"]) == 0, name
        assert "Usage" in capsys.readouterr().out, name


def test_run_prints_summary_and_kpis_and_writes_the_log(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run.jsonl.gz"
    code = main(
        ["run", str(ROOT / "scenarios/tandem_mm1.yaml"), "--until", "6h", "--out", str(out)]
    )
    assert code == 0
    text = capsys.readouterr().out
    for title in ("Stations", "Share of time", "Lines", "OEE", "Bottleneck tandem"):
        assert title in text, title
    log = EventLog.load(out)
    assert log.records[0].kind == "run_start" and log.records[-1].t == 6 * 3600


def _run_piped(env_extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | env_extra
    scenario = str(ROOT / "scenarios/plant_3lines.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "twin", "run", scenario, "--until", "4h"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return result.stdout.splitlines()


def test_run_tables_into_a_pipe_are_whole_not_cut_at_80_columns() -> None:
    lines = _run_piped({})
    assert "…" not in "\n".join(lines)  # rich's 80 columns cut station names and values
    assert max(map(len, lines)) > 80
    assert any(line.startswith("a_machining ") for line in lines)  # a whole cell
    narrow = _run_piped({"COLUMNS": "80"})  # a width the user sets wins
    assert max(map(len, narrow)) <= 80 and "…" in "\n".join(narrow)


def test_run_refuses_a_log_name_that_gives_no_format(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run.csv"  # was written as JSON Lines under a CSV name
    scenario = str(ROOT / "scenarios/tandem_mm1.yaml")
    assert main(["run", scenario, "--until", "1h", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "run.csv" in err and ".parquet, .jsonl, .jsonl.gz" in err
    assert not out.exists()


def test_run_writes_gzip_for_an_upper_case_name_and_kpi_reads_it(tmp_path: Path, capsys) -> None:
    out = tmp_path / "RUN.JSONL.GZ"
    scenario = str(ROOT / "scenarios/tandem_mm1.yaml")
    assert main(["run", scenario, "--until", "2h", "-f", "json", "--out", str(out)]) == 0
    from_run = json.loads(capsys.readouterr().out)
    assert out.read_bytes()[:2] == b"\x1f\x8b"  # gzip, as the name says
    assert main(["kpi", str(out), "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == from_run["rows"]


@pytest.mark.parametrize(
    ("sig", "name"), [(signal.SIGTERM, "run.parquet"), (signal.SIGINT, "run.jsonl.gz")]
)
def test_an_interrupted_run_leaves_a_readable_log(tmp_path: Path, sig: int, name: str) -> None:
    """Ctrl-C or SIGTERM (kill, docker stop) mid-run: the run stops at the next batch and
    closes its log, so the Parquet file has its footer and the gzip stream its end; the log
    holds whole batches up to then, and twin kpi reads it."""
    out = tmp_path / name
    scenario = str(ROOT / "scenarios/plant_3lines.yaml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", "run", scenario, "--until", "90d", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored
    )
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and out.stat().st_size > 200_000):  # some batches written
            assert proc.poll() is None and time.monotonic() < deadline, "no log written"
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and name in err, err
    records = EventLog.load(out).records
    assert records[0].kind == "run_start" and records[-1].kind != "run_end"
    assert records[-1].t < 90 * 86400
    kpi = subprocess.run(
        [sys.executable, "-m", "twin", "kpi", str(out), "-f", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert kpi.returncode == 0, kpi.stderr
    assert json.loads(kpi.stdout)["rows"]


def test_run_json_output_is_machine_readable(capsys) -> None:
    assert (
        main(["run", str(ROOT / "scenarios/tandem_mm1.yaml"), "--until", "2h", "-f", "json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"] == "tandem_mm1" and doc["rows"]


def test_bad_scenario_exits_2_naming_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "scenarios/tandem_mm1.yaml").read_text().replace("horizon: 10d", "horizn: 10d")
    )
    result = subprocess.run(
        [sys.executable, "-m", "twin", "run", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "horizn" in result.stderr and "Extra inputs are not permitted" in result.stderr


def test_bad_option_value_exits_2() -> None:
    assert main(["run", str(ROOT / "scenarios/tandem_mm1.yaml"), "--until", "soon"]) == 2


def test_validate_accepts_the_examples(capsys) -> None:
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        assert main(["validate", str(path)]) == 0
    assert "ok" in capsys.readouterr().out
