"""Shift windows and day buckets in the plant's time zone, across a daylight-saving change.

plant_3lines in Europe/Berlin from Saturday 2026-03-28 00:00 local time: clocks go forward on
Sunday 29 March at 02:00, so the night shift from Saturday 22:00 to Sunday 06:00 lasts seven
hours, Sunday is a 23-hour day and Monday's early shift starts at 04:00 UTC instead of 05:00.
The run is stored in a real InfluxDB 1.6.7 with its KPI windows and minute elements; the
boards built with ``timezone="Europe/Berlin"`` must show exactly the event log's shifts and
local days.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.columns import to_columns
from analytics.report import compute_report
from dashboards.checks import expand, queries
from dashboards.files import build_all
from dashboards.queries import SHIFT_CHANGES, range_query
from plant_sim.records import Record, ShiftChange
from plant_sim.scenario import load_scenario
from plant_sim.simulation import Simulation
from tests.dashboards.faulty_run import store_with_windows
from tests.dashboards.test_fidelity import _assert_equal, _value
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import SCENARIO

pytestmark = pytest.mark.integration
ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
START = datetime(2026, 3, 28, tzinfo=BERLIN)  # Saturday 00:00 local = 27 March 23:00 UTC
START_MS = int(START.timestamp() * 1000)
HOURS = 60.0
RUN_ID = "dst"
FACTORS = ("oee", "availability", "effectiveness", "quality_ratio", "failures", "gq")
ALL = dict.fromkeys(("site", "run", "line", "station"), ".*")


@pytest.fixture(scope="module")
def stored(influxd: InfluxServer) -> tuple[str, list[Record]]:
    scenario = load_scenario(SCENARIO).model_copy(
        update={"timezone": ZONE, "start_time": START.astimezone(UTC)}
    )
    records: list[Record] = []
    sim = Simulation(scenario, records.append, run_id=RUN_ID, start_epoch_ms=START_MS)
    sim.run(HOURS * 3600.0)
    sim.finish()
    db = store_with_windows(influxd, records, RUN_ID, START_MS, HOURS * 3600.0)
    return db, records


def _run(influxd: InfluxServer, db: str, query: str, t0: float, t1: float) -> list[dict]:
    q = expand(query, START_MS + round(t0 * 1000), START_MS + round(t1 * 1000), "1m", ALL)
    res = influxd.query(q, db, epoch="ms")["results"][0]
    assert "error" not in res, f"{q}\n{res}"
    return res.get("series", []) or []


def _local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(BERLIN)


def test_shift_annotations_are_the_shift_changes_at_local_times(
    influxd: InfluxServer, stored: tuple[str, list[Record]]
) -> None:
    db, records = stored
    changes = [
        (START_MS + round(r.t * 1000), r.shift) for r in records if isinstance(r, ShiftChange)
    ]
    (series,) = _run(influxd, db, SHIFT_CHANGES, 0.0, HOURS * 3600.0)
    # one annotation per shift start (an end with no shift after it stores no shift name)
    assert [tuple(row) for row in series["values"]] == [c for c in changes if c[1] is not None]
    early = [_local(ms) for ms, name in changes if name == "early"]
    assert {(d.hour, d.minute) for d in early} == {(6, 0)}  # 06:00 on the plant's clock
    utc_hours = [d.astimezone(UTC).hour for d in early]
    assert utc_hours == [5, 4]  # Saturday in winter time, Monday in summer time
    (saturday_night,) = [
        b - a for (a, name), (b, _) in itertools.pairwise(changes) if _local(a).hour == 22
    ]
    assert saturday_night == 7 * 3_600_000  # Saturday 22:00 to Sunday 06:00, clocks forward


def test_by_shift_panel_gives_each_occurrences_kpis_across_the_change(
    influxd: InfluxServer, stored: tuple[str, list[Record]]
) -> None:
    db, records = stored
    cols = to_columns(records)
    (panel,) = {
        p["title"]: t
        for p, t in queries(build_all(ZONE)["plant_overview.json"])
        if p["title"].startswith("OEE by shift")
    }.values()
    shifts = [(r.t, r.shift) for r in records if isinstance(r, ShiftChange)]
    checked = 0
    for (t0, name), (t1, _) in zip(shifts, [*shifts[1:], (HOURS * 3600.0, None)], strict=True):
        series = _run(influxd, db, panel["query"], t0, t1)
        assert [s["tags"]["shift"] for s in series] == [name or "off"]
        truth = compute_report(cols, (t0, t1)).plant
        for col, shown in zip(series[0]["columns"][1:], series[0]["values"][0][1:], strict=True):
            _assert_equal(col, shown, _value(truth, col), f"{name} from {t0} s")
            checked += 1
    assert checked >= 6 * len(FACTORS)


def test_day_over_day_buckets_are_the_plants_local_days(
    influxd: InfluxServer, stored: tuple[str, list[Record]]
) -> None:
    db, records = stored
    cols = to_columns(records)
    (target,) = {
        p["title"]: t
        for p, t in queries(build_all(ZONE)["plant_overview.json"])
        if p["title"].startswith("Day over day")
    }.values()
    assert target["query"].endswith(f"tz('{ZONE}')")
    (series,) = _run(influxd, db, target["query"], 0.0, HOURS * 3600.0)
    starts = [_local(row[0]) for row in series["values"]]
    assert starts == [
        START,
        START + timedelta(days=1),
        START + timedelta(days=2),
    ]  # local midnights
    lengths = [(b.timestamp() - a.timestamp()) / 3600 for a, b in itertools.pairwise(starts)]
    assert lengths == [24.0, 23.0]  # Sunday, 29 March, has 23 hours
    for row in series["values"]:
        t0 = (row[0] - START_MS) / 1000.0
        day_end = _local(row[0]) + timedelta(days=1)
        t1 = min((day_end.timestamp() * 1000 - START_MS) / 1000.0, HOURS * 3600.0)
        truth = compute_report(cols, (t0, t1), shifts=False).plant
        for col, shown in zip(series["columns"][1:], row[1:], strict=True):
            _assert_equal(col, shown, _value(truth, col), f"local day {_local(row[0])}")
    # the same panel without the zone buckets by UTC days: other numbers for the same range
    utc = range_query(list(FACTORS[:4]), "plant", group_by="time(1d)")
    (utc_series,) = _run(influxd, db, utc, 0.0, HOURS * 3600.0)
    assert [row[0] for row in utc_series["values"]] != [row[0] for row in series["values"]]


def test_every_board_shows_the_plants_zone() -> None:
    for name, board in build_all(ZONE).items():
        assert board["timezone"] == ZONE, name
    for name, board in build_all().items():
        assert board["timezone"] == "utc", name
        assert all("tz(" not in t["query"] for _, t in queries(board)), name
