"""The KPI report folded while a run streams equals the report of all its records."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from analytics import stream_report
from analytics.columns import to_columns
from analytics.report import compute_report
from analytics.stream_report import StreamedReport
from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600.0


def _records(name: str, hours: float, seed: int) -> list:
    return run_batch(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), hours * HOUR, seed).records


def _streamed(records: list, batch: int) -> StreamedReport:
    acc = StreamedReport()
    for i in range(0, len(records), batch):
        acc.add(records[i : i + batch])
    return acc


@pytest.mark.parametrize(
    ("name", "hours", "seed"),
    [("bottling_line", 30, 3), ("plant_3lines", 26, 1), ("tandem_mm1", 40, 2)],
)
@pytest.mark.parametrize("fold_rows", [1, 50_000])
def test_streamed_report_equals_the_report_of_all_records(
    name, hours, seed, fold_rows, monkeypatch
):
    """Folded at every batch (batches cut anywhere, not at shift changes) or rarely, the
    rows are those of ``compute_report`` over the whole run, value for value, and so are
    the per-shift occurrences, built one at a time when asked for. Releases, exits and
    stock records too are folded at every batch or rarely (as shift occurrences are)."""
    records = _records(name, hours, seed)
    monkeypatch.setattr(stream_report, "FOLD_ROWS", fold_rows)
    monkeypatch.setattr(stream_report, "FLOW_ROWS", fold_rows)
    got = _streamed(records, 777).report()
    want = compute_report(to_columns(records))
    assert got.to_rows() == want.to_rows()
    assert list(got.shifts) == want.shifts and got.shifts[1:3] == want.shifts[1:3]
    assert got.shift_totals == want.shift_totals
    assert len(want.shifts) > 1 or name == "tandem_mm1"  # tandem_mm1 has no calendar


def test_a_record_before_a_folded_shift_is_refused(monkeypatch) -> None:
    """Records are folded per shift occurrence as they come, so a state record older than
    an occurrence already folded cannot be counted: a clear error, not a wrong KPI."""
    records = _records("bottling_line", 20, 3)
    monkeypatch.setattr(stream_report, "FOLD_ROWS", 1)
    acc = StreamedReport()
    half = len(records) // 2
    acc.add(records[:half])
    late = next(r for r in records[half:] if r.kind == "state")
    with pytest.raises(ValueError, match="out of time order"):
        acc.add([replace(late, t=0.0)])


def test_a_stream_without_its_run_end_is_refused() -> None:
    records = _records("tandem_mm1", 4, 1)
    acc = _streamed(records[:-1], 500)
    with pytest.raises(ValueError, match="run_end"):
        acc.report()


def test_a_shift_change_before_a_folded_shift_is_refused(monkeypatch) -> None:
    """A shift change older than the occurrences already folded would split one of them."""
    records = _records("bottling_line", 30, 3)
    monkeypatch.setattr(stream_report, "FOLD_ROWS", 1)
    half = len(records) // 2
    acc = _streamed(records[:half], 500)
    first = next(r for r in records[:half] if r.kind == "shift" and r.t > 0)
    acc.add([replace(first, t=first.t / 2), *records[half:]])
    with pytest.raises(ValueError, match="shift change out of time order"):
        acc.report()
