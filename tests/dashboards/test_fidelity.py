"""What a panel shows equals the KPI of its time range: dashboards against the event log.

A plant run is backfilled into a real InfluxDB; every stat and table panel that reads
``kpi_slice`` runs with ``$timeFilter`` set to a range that cuts through hours and shifts, a
whole day, a shift occurrence and a week, and each value is compared with the KPI engine over
the simulator's own event log for the same range: ratios to 0.1 pp (they agree to float noise),
counts exactly. Time series: the bucket values are the KPIs of the buckets, and counts per
bucket add up to the range total.
"""

from __future__ import annotations

import re

import pytest

from analytics.columns import PlantColumns, to_columns
from analytics.elements import Elements
from analytics.kpis import compute_kpis
from analytics.registry import KPI_BY_ID
from analytics.report import KpiReport, ScopeResult, compute_report
from analytics.service.kpi_schema import planned_output
from analytics.service.slices import OFF_SHIFT, SLICE_MEASUREMENT
from dashboards.checks import expand, queries
from dashboards.files import build_all
from dashboards.queries import (
    HEADLINE,
    RANGE_TOTALS,
    range_query,
    range_values,
    shift_occurrences_query,
)
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import Backfilled, backfilled_db

pytestmark = pytest.mark.integration
HOUR_S = 3600.0
ALL = dict.fromkeys(("site", "run", "line", "station"), ".*")
_LEVEL = re.compile(r"\"level\" = '(\w+)'")
_BUCKET = re.compile(r"GROUP BY time\((\d+)d\)")


@pytest.fixture(scope="module")
def bf(influxd: InfluxServer) -> Backfilled:
    return backfilled_db(influxd)


_COLS: dict[int, PlantColumns] = {}
_REPORTS: dict[tuple[int, float, float], KpiReport] = {}


def _report(bf: Backfilled, t0: float, t1: float) -> KpiReport:
    if id(bf.truth) not in _COLS:
        _COLS[id(bf.truth)] = to_columns(bf.truth)
    key = (id(bf.truth), t0, t1)
    if key not in _REPORTS:
        _REPORTS[key] = compute_report(_COLS[id(bf.truth)], (t0, t1), shifts=True)
    return _REPORTS[key]


def _end(bf: Backfilled) -> float:
    return (bf.result.end_ms - bf.result.start_ms) / 1000.0


def _ranges(bf: Backfilled) -> dict[str, tuple[float, float]]:
    """Named ranges in simulation seconds (the run starts at a UTC midnight)."""
    end = (bf.result.end_ms - bf.result.start_ms) / 1000.0
    shifts = sorted(r.t for r in bf.truth if r.kind == "shift")
    return {
        "cut": (3 * HOUR_S + 20 * 60, 17 * HOUR_S + 40 * 60),  # through hours and shifts
        "day": (0.0, 24 * HOUR_S),
        "shift": (shifts[0], shifts[1]),
        "week": (-3 * 24 * HOUR_S, 4 * 24 * HOUR_S),  # holds the whole run
        "tail": (20 * HOUR_S + 7 * 60, end),  # up to the run's end
    }


def _run(influxd: InfluxServer, bf: Backfilled, query: str, t0: float, t1: float, interval="1m"):
    """Run a panel query over ``[t0, t1)`` as Grafana would (its end is inclusive)."""
    start = bf.result.start_ms
    q = expand(query, start + round(t0 * 1000), start + round(t1 * 1000), interval, ALL)
    res = influxd.query(q, bf.db, epoch="ms")
    assert "error" not in res["results"][0], f"{q}\n{res}"
    return res["results"][0].get("series", []) or []


def _truth(report: KpiReport, scope: str, name: str) -> float | None:
    if name == "otd":
        return report.supply.otd
    if name == "delivered_orders":
        return report.supply.delivered_orders
    if name == "on_time_orders":  # otd = on time / delivered
        return round((report.supply.otd or 0.0) * report.supply.delivered_orders)
    if name == "line_lead_time_avg_s":  # a flow KPI of lines and the plant
        return report.flow[scope].line_lead_time_avg_s
    return _value(report.scope(scope), name)


def _value(result: ScopeResult, name: str) -> float | None:
    if name == "planned_output":
        return planned_output(result)
    if name in RANGE_TOTALS and not hasattr(result.kpis, name):
        return result.elements.as_dict()[name]
    return getattr(result.kpis, name)


def _assert_equal(name: str, shown: float | None, truth: float | None, where: str) -> None:
    if truth is None:  # undefined (denominator 0): InfluxQL divides by zero as 0
        assert shown in (0, None), f"{where} {name}: {shown} for an undefined KPI"
    elif name in RANGE_TOTALS:
        assert shown == pytest.approx(truth, rel=1e-9, abs=1e-9), f"{where} {name}"
        if name in ("failures", "minor_stops", "pq", "gq", "sq", "delivered_orders"):
            assert shown == truth, f"{where} {name}: count {shown} != {truth}"
    elif name in KPI_BY_ID and KPI_BY_ID[name].is_ratio:
        assert abs(shown - truth) <= 0.001, f"{where} {name}: {shown} vs {truth} (0.1 pp)"
        assert shown == pytest.approx(truth, rel=1e-9, abs=1e-12), f"{where} {name}"
    else:
        assert shown == pytest.approx(truth, rel=1e-9, abs=1e-9), f"{where} {name}"


def _range_targets() -> list:
    """Every stat/table/gauge target of the boards that reads range KPIs (one value per scope)."""
    out = []
    for name, board in build_all().items():
        for p, t in queries(board):
            q = t["query"]
            if f'FROM "{SLICE_MEASUREMENT}"' in q and "$__interval" not in q:
                out.append(pytest.param(p, t, id=f"{name}:{p['title']}:{t['refId']}"))
    return out


@pytest.mark.parametrize("range_name", ["cut", "day", "shift", "week", "tail"])
@pytest.mark.parametrize(("panel", "target"), _range_targets())
def test_range_panels_equal_event_log(
    influxd: InfluxServer, bf: Backfilled, panel: dict, target: dict, range_name: str
) -> None:
    t0, t1 = _ranges(bf)[range_name]
    query = target["query"]
    level = _LEVEL.search(query).group(1)  # type: ignore[union-attr]
    report = _report(bf, max(t0, 0.0), min(t1, _end(bf)))
    series = _run(influxd, bf, query, t0, t1)
    assert series, query
    checked = 0
    bucket = _BUCKET.search(query)
    for s in series:
        tags = s.get("tags") or {}
        scope = tags.get("scope", "plant" if level == "plant" else None)
        assert scope is not None, f"a {level} panel must group by scope: {query}"
        for row in s["values"]:
            if bucket:  # a fixed bucket (day over day): the KPIs of that bucket in range
                b0 = max((row[0] - bf.result.start_ms) / 1000.0, t0, 0.0)
                step = int(bucket.group(1)) * 86_400.0
                b1 = min(b0 - b0 % step + step, t1, _end(bf))
                report = _report(bf, b0, b1)
            for col, shown in zip(s["columns"][1:], row[1:], strict=True):
                if "shift" in tags:
                    truth = _shift_truth(report, tags["shift"], scope, col)
                else:
                    truth = _truth(report, scope, col)
                _assert_equal(col, shown, truth, f"{range_name} {scope} {tags}")
                checked += 1
    assert checked >= len(series)


def _shift_truth(report: KpiReport, shift: str, scope: str, name: str) -> float | None:
    if shift == OFF_SHIFT:  # the range minus every shift: what no shift covers
        whole = report.scope(scope).elements.as_fields()
        for total in report.shift_totals:
            for r in [total.plant, *total.lines, *total.stations]:
                if r.scope == scope:
                    whole = {k: v - r.elements.as_fields()[k] for k, v in whole.items()}
        e = Elements(**{k: 0 * v if abs(v) < 1e-6 else v for k, v in whole.items()})
        return _value(ScopeResult("", scope, None, e, compute_kpis(e)), name)
    for total in report.shift_totals:
        if total.shift == shift:
            for r in [total.plant, *total.lines, *total.stations]:
                if r.scope == scope:
                    return _value(r, name)
    raise AssertionError(f"no shift {shift} in the event log's range")


def test_headline_row_over_a_cut_range_equals_event_log(
    influxd: InfluxServer, bf: Backfilled
) -> None:
    """The range query itself, every level: the stat rows' values are the range's KPIs."""
    t0, t1 = _ranges(bf)["cut"]
    report = _report(bf, t0, t1)
    names = [*HEADLINE, "failures", "pq", "gq"]
    for level in ("plant", "line", "station"):
        for s in _run(influxd, bf, range_query(names, level, group_by='"scope"'), t0, t1):
            for col, shown in zip(s["columns"][1:], s["values"][0][1:], strict=True):
                if col == "otd" and level != "plant":
                    continue
                _assert_equal(col, shown, _truth(report, s["tags"]["scope"], col), level)
    assert report.plant.kpis.failures > 0  # the range holds breakdowns (MTBF/MTTR defined)
    start = bf.result.start_ms
    got = range_values(
        lambda q: influxd.query(q, bf.db, epoch="ms")["results"][0]["series"],
        ["oee", "gq"],
        "line",
        start + round(t0 * 1000),
        start + round(t1 * 1000),
        {"line": "assembly_b"},
    )
    line = report.scope("assembly_b")
    assert got == {"assembly_b": {"oee": pytest.approx(line.kpis.oee), "gq": line.elements.gq}}


def _series_targets() -> list:
    """Every time series target of the boards that reads ``kpi_slice`` per interval."""
    return [
        pytest.param(p, t, id=f"{name}:{p['title']}:{t['refId']}")
        for name, board in build_all().items()
        for p, t in queries(board)
        if f'FROM "{SLICE_MEASUREMENT}"' in t["query"] and "$__interval" in t["query"]
    ]


@pytest.mark.parametrize(("panel", "target"), _series_targets())
def test_time_series_panels_show_each_bucket_kpis(
    influxd: InfluxServer, bf: Backfilled, panel: dict, target: dict
) -> None:
    """Each point is the KPI of its bucket (hours here, cut at the range's ends)."""
    t0, t1 = _ranges(bf)["cut"]
    query = target["query"]
    level = _LEVEL.search(query).group(1)  # type: ignore[union-attr]
    points = 0
    for s in _run(influxd, bf, query, t0, t1, interval="1h"):
        scope = (s.get("tags") or {}).get("scope")
        if scope is None:  # no scope: the plant, or the sum over all lines (totals only)
            assert level == "plant" or all(c in RANGE_TOTALS for c in s["columns"][1:]), query
            scope = "plant"
        for row in s["values"]:
            b0 = max((row[0] - bf.result.start_ms) / 1000.0, t0)
            b1 = min(b0 - b0 % HOUR_S + HOUR_S, t1)
            report = _report(bf, b0, b1)
            for col, shown in zip(s["columns"][1:], row[1:], strict=True):
                _assert_equal(col, shown, _truth(report, scope, col), f"{scope} bucket {b0}")
                points += 1
    assert points >= 15


def test_time_series_buckets_are_bucket_kpis_and_add_up(
    influxd: InfluxServer, bf: Backfilled
) -> None:
    t0, t1 = _ranges(bf)["cut"]
    q = range_query(["oee", "availability", "pq", "failures"], "plant", by_time=True)
    (series,) = _run(influxd, bf, q, t0, t1, interval="1h")
    start_ms = bf.result.start_ms
    totals = {"pq": 0.0, "failures": 0.0}
    for row in series["values"]:
        b0 = max((row[0] - start_ms) / 1000.0, t0)
        b1 = min(b0 - b0 % HOUR_S + HOUR_S, t1)
        truth = _report(bf, b0, b1)
        for col, shown in zip(series["columns"][1:], row[1:], strict=True):
            _assert_equal(col, shown, _truth(truth, "plant", col), f"bucket {b0}")
            if col in totals:
                totals[col] += shown
    whole = _report(bf, t0, t1)
    assert totals == {"pq": whole.plant.elements.pq, "failures": whole.plant.kpis.failures}
    assert len(series["values"]) == 15  # 03:20-04:00, 14 whole hours, 17:00-17:40


def test_shift_over_shift_rows_are_each_occurrence_kpis(
    influxd: InfluxServer, bf: Backfilled
) -> None:
    """One row per shift occurrence, tagged with its shift, holding that occurrence's KPIs."""
    names = ("oee", "availability", "effectiveness", "quality_ratio")
    changes = sorted((r.t, r.shift) for r in bf.truth if r.kind == "shift")
    rows = {}
    for s in _run(influxd, bf, shift_occurrences_query(names), -HOUR_S, _end(bf) + HOUR_S):
        for row in s["values"]:
            rows[(row[0] - bf.result.start_ms) / 1000.0] = (s["tags"]["shift"], row[1:])
    expected = {t: name for t, name in changes if name is not None}
    assert {t: shift for t, (shift, _) in rows.items()} == expected
    for i, (t, name) in enumerate(changes):
        if name is None:
            continue
        end = changes[i + 1][0] if i + 1 < len(changes) else _end(bf)
        truth = _report(bf, t, end).plant.kpis
        for col, shown in zip(names, rows[t][1], strict=True):
            _assert_equal(col, shown, getattr(truth, col), f"shift {name} at {t}")


def test_the_old_mean_of_hourly_ratios_misses_the_range_value(
    influxd: InfluxServer, bf: Backfilled
) -> None:
    """Why: the old panel's mean("oee") of hour windows over a day is not the day's OEE."""
    t0, t1 = _ranges(bf)["day"]
    old = (
        'SELECT mean("oee") FROM "kpi" WHERE "level" = \'plant\' AND "window" = \'hour\' '
        "AND $timeFilter"
    )
    (series,) = _run(influxd, bf, old, t0, t1 - 1)
    truth = _report(bf, t0, t1).plant.kpis.oee
    (new,) = _run(influxd, bf, range_query(["oee"], "plant"), t0, t1)
    assert abs(series["values"][0][1] - truth) > 0.001  # more than 0.1 pp off
    assert new["values"][0][1] == pytest.approx(truth, rel=1e-9)


def test_line_lead_time_panel_is_the_event_logs_mean_from_order_release(
    influxd: InfluxServer, bf: Backfilled
) -> None:
    """Line lead time of a range: sum of the finished parts' lead times / their count, equal
    to the KPI engine's mean over the range (it includes the wait in the release queue)."""
    t0, t1 = _ranges(bf)["cut"]
    report = _report(bf, t0, t1)
    series = _run(influxd, bf, range_query(["line_lead_time_avg_s"], "line", '"scope"'), t0, t1)
    shown = {s["tags"]["scope"]: s["values"][0][1] for s in series}
    assert set(shown) == {ln.scope for ln in report.lines}
    for line, value in shown.items():
        flow = report.flow[line]
        assert flow.line_lead_time_avg_s is not None and flow.finished > 0
        assert value == pytest.approx(flow.line_lead_time_avg_s, rel=1e-9), line
        assert value >= flow.flow_time_avg_s  # the queue in front of the line is included
    (plant,) = _run(influxd, bf, range_query(["line_lead_time_avg_s"], "plant"), t0, t1)
    assert plant["values"][0][1] == pytest.approx(report.flow["plant"].line_lead_time_avg_s)
