"""``twin run`` says why KPIs are empty when the run holds no planned time."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from twin.cli import main

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_a_run_before_the_first_shift_says_when_it_starts(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.WARNING, logger="twin")
    code = main(["run", str(SCENARIOS / "bottling_line.yaml"), "--until", "2h", "-f", "json"])
    assert code == 0
    assert "no planned time in the run's 2 h" in caplog.text
    assert "first shift (early) starts Mon 2026-01-05 06:00 UTC, 6 h into the run" in caplog.text
    capsys.readouterr()


def test_a_run_with_planned_time_has_no_such_note(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="twin")
    code = main(["run", str(SCENARIOS / "bottling_line.yaml"), "--until", "8h", "-f", "json"])
    assert code == 0
    assert "no planned time" not in caplog.text


@pytest.mark.parametrize("name", ["run.jsonl", "run.parquet"])
def test_kpi_of_a_window_without_planned_time_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    log = tmp_path / name
    bottling = str(SCENARIOS / "bottling_line.yaml")
    assert main(["run", bottling, "--until", "8h", "--out", str(log), "-f", "json"]) == 0
    capsys.readouterr()
    assert main(["kpi", str(log), "--window", "0h:6h", "-f", "json"]) == 0
    assert "no planned time in 0 h to 6 h" in capsys.readouterr().err
    assert main(["kpi", str(log), "--window", "6h:8h", "-f", "json"]) == 0
    assert "no planned time" not in capsys.readouterr().err


def test_a_run_whose_shifts_are_all_planned_downtime_does_not_ask_for_a_longer_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """The note said the first shift starts 6 h into the 48-h run and to use a longer
    --until, though the shifts were in the run, all of them maintenance."""
    text = (SCENARIOS / "bottling_line.yaml").read_text()
    old = "{start: 2d6h, duration: 2h, stations: [filler]}"
    assert old in text
    scenario = tmp_path / "maintained.yaml"
    scenario.write_text(text.replace(old, "{start: 0, duration: 30d}"))
    caplog.set_level(logging.WARNING, logger="twin")
    assert main(["run", str(scenario), "--until", "2d", "-f", "json"]) == 0
    assert "no planned time in the run's 48 h" in caplog.text
    assert "breaks and planned maintenance take all of its shift time" in caplog.text
    assert "longer --until" not in caplog.text
    capsys.readouterr()
