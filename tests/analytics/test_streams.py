"""Record streams as they may arrive: no RunStart, shared station names, disorder, bad input."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analytics import compute_report
from plant_sim.records import RunStart, StateChange
from tests.analytics.builders import LogBuilder, S

HOUR = 3600.0
_PURE = (
    "bottleneck",
    "columns",
    "elements",
    "flow",
    "kpis",
    "losses",
    "registry",
    "report",
    "rows",
    "supply",
    "timeline",
)
_IO = {
    "io",
    "os",
    "pathlib",
    "gzip",
    "json",
    "orjson",
    "csv",
    "typer",
    "rich",
    "socket",
    "httpx",
    "influxdb_client",
    "asyncio",
    "sys",
}


def _log() -> list:
    b = LogBuilder({"l1": ["a", "b"]})
    b.states("a", 0.0, [(HOUR, S.PROCESSING), (HOUR, S.BLOCKED)])
    b.states("b", 0.0, [(HOUR, S.STARVED), (HOUR, S.PROCESSING)])
    b.parts("b", HOUR + 60, 60, 60.0, spacing=60.0)
    return b.build(2 * HOUR)


def test_without_run_start_stations_come_in_order_of_appearance():
    """A read-back without RunStart still finds lines and stations; the end is the last record."""
    records = [r for r in _log() if not isinstance(r, RunStart)]
    r = compute_report(records)
    assert [s.scope for s in r.stations] == ["a", "b"]
    assert r.scope("l1").elements.pq == 60  # b, the last station to appear, is the output
    assert r.t0_s == 0.0 and r.t1_s == 2 * HOUR


def test_same_station_name_on_two_lines_is_two_stations():
    """Stations are keyed by (line, station)."""
    b = LogBuilder({"l1": ["s1"], "l2": ["s1x"]})
    b.states("s1", 0.0, [(HOUR, S.PROCESSING)])
    records = b.build(HOUR)
    records.insert(2, StateChange(0.0, "l2", "s1", S.DOWN, "x", 1.0))
    records[0].lines[1]["stations"] = ["s1"]
    r = compute_report(records)
    by_line = {s.line: s.elements for s in r.stations}
    assert by_line["l1"].apt_s == HOUR and by_line["l2"].down_s == HOUR


def test_records_out_of_order_per_station_are_sorted():
    """Shuffled records give the same report as ordered ones."""
    records = _log()
    shuffled = [records[0], *reversed(records[1:-1]), records[-1]]
    assert compute_report(shuffled).plant == compute_report(records).plant


def test_several_runs_or_foreign_objects_are_rejected():
    """A stream of two runs, or of non-records, is a clear error."""
    records = _log()
    other = RunStart(0.0, "run2", "x", 1, 0, None, "e", "s", "a", [])
    with pytest.raises(ValueError, match="2 runs"):
        compute_report([*records, other])
    with pytest.raises(ValueError, match="not a record"):
        compute_report([*records, {"kind": "state"}])


def test_kpi_modules_do_no_io():
    """The KPI modules import no I/O, network, CLI or file libraries."""
    root = Path(__file__).resolve().parents[2] / "analytics"
    for name in _PURE:
        tree = ast.parse((root / f"{name}.py").read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            for m in mods:
                assert m.split(".")[0] not in _IO, (name, m)


def test_columns_are_the_same_when_power_and_pri_vary_per_record(monkeypatch):
    """State power and part PRI are coded per (station, state) combination while there are
    few; past the limit they are read per record; both give every record's own value."""
    import numpy as np

    import analytics.columns as columns

    b = LogBuilder({"l1": ["a", "b"]})
    b.states("a", 0.0, [(HOUR, S.PROCESSING), (HOUR, S.DOWN, "motor")])
    b.states("b", 0.0, [(HOUR, S.STARVED, "material"), (HOUR, S.PROCESSING)])
    b.parts("b", HOUR + 60, 60, 60.0, spacing=60.0)
    records = b.build(2 * HOUR)
    for i, r in enumerate(records):  # a distinct power and PRI on every record
        if isinstance(r, StateChange):
            r.power_kw = 1.0 + i / 7
        elif r.kind == "part":
            r.planned_cycle_time_s = 50.0 + i / 3
    coded = columns.to_columns(records)
    monkeypatch.setattr(columns, "_COMBO_LIMIT", 2)
    read = columns.to_columns(records)
    for x, y in zip(coded.stations, read.stations, strict=True):
        for name in ("t", "code", "power_kw", "reason", "part_t", "part_result", "part_pri_s"):
            assert np.array_equal(getattr(x, name), getattr(y, name)), name
    b_cols = coded.stations[1]
    assert b_cols.code[0] == columns.MATERIAL_STARVED and b_cols.reason[0] == "material"
    assert sorted(b_cols.part_pri_s) == sorted(
        r.planned_cycle_time_s for r in records if r.kind == "part"
    )
