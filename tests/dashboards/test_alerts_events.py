"""Alert rules and annotations against a real InfluxDB holding a scripted faulty run.

Every rule is evaluated as Grafana does (``dashboards.alerts.evaluate``) at many instants and
must fire exactly where the event log says it should: the injected 20-minute failure, the
stopped feed, scripted gateway lag and dead letters, and nowhere else. Annotation queries must
return the event log's records one for one; state timelines every state change.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from analytics.columns import to_columns
from analytics.report import compute_report
from dashboards import queries
from dashboards.alerts import evaluate, rules
from dashboards.checks import expand
from gateway.stats import Stats
from plant_sim.records import ScenarioEvent, ShiftChange, StateChange
from plant_sim.states import STATE_INFO, StationState
from tests.dashboards.faulty_run import (
    FAULT_AT,
    FAULT_S,
    FAULT_STATION,
    HOUR,
    RUN_ID,
    START_MS,
    STOP_AT,
    FaultyRun,
    make_faulty_run,
)
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import Backfilled, backfilled_db

pytestmark = pytest.mark.integration
RULES = {r.uid: r for r in rules()}


def _rules(thresholds: dict[str, str]) -> dict:
    """The rules as ``twin dashboards build`` writes them with these thresholds."""
    return {r.uid: r for r in rules(thresholds)}


MINUTE = 60.0


@pytest.fixture(scope="module")
def run(influxd: InfluxServer) -> FaultyRun:
    return make_faulty_run(influxd)


def _runner(influxd: InfluxServer, db: str):
    def run_query(q: str) -> list[dict]:
        res = influxd.query(q, db, epoch="ms")
        assert "error" not in res["results"][0], f"{q}\n{res}"
        return res["results"][0].get("series", []) or []

    return run_query


def _seconds_in(run: FaultyRun, state: StationState, a: float, b: float) -> dict[str, float]:
    """Return per station the seconds spent in ``state`` within ``[a, b)`` (event log)."""
    out: dict[str, float] = {}
    changes: dict[str, list[StateChange]] = {}
    for r in run.records:
        if isinstance(r, StateChange):
            changes.setdefault(r.station, []).append(r)
    for station, seq in changes.items():
        ends = [c.t for c in seq[1:]] + [STOP_AT]
        out[station] = sum(
            max(0.0, min(e, b) - max(c.t, a))
            for c, e in zip(seq, ends, strict=True)
            if c.state == state
        )
    return out


def _fired_scopes(fired: set) -> set[str]:
    return {dict(labels)["scope"] for labels in fired}


@pytest.mark.parametrize(
    ("uid", "state", "minutes"),
    [
        ("twin-station-down", StationState.DOWN, 10),
        ("twin-buffer-full", StationState.BLOCKED, 15),
    ],
)
def test_duration_rules_fire_exactly_when_the_event_log_says(
    influxd: InfluxServer, run: FaultyRun, uid: str, state: StationState, minutes: int
) -> None:
    """Down (blocked) for more than N-1 of the last N minutes, every 5 minutes of the run."""
    run_query = _runner(influxd, run.db)
    fired_any = 0
    for t in np.arange(minutes * MINUTE, STOP_AT + MINUTE, 5 * MINUTE).tolist():
        fired = _fired_scopes(evaluate(RULES[uid], run_query, run.ms(t)))
        truth = _seconds_in(run, state, t - minutes * MINUTE, t)
        expected = {s for s, sec in truth.items() if sec / 60 - (minutes - 1) > 1e-9}
        assert fired == expected, f"{uid} at {t / HOUR:.2f} h"
        fired_any += len(fired)
    assert fired_any > 0


def test_injected_failure_fires_station_down_during_it_only(
    influxd: InfluxServer, run: FaultyRun
) -> None:
    run_query = _runner(influxd, run.db)
    rule = RULES["twin-station-down"]

    def fires(t: float) -> bool:
        return FAULT_STATION in _fired_scopes(evaluate(rule, run_query, run.ms(t)))

    assert not fires(FAULT_AT + 5 * MINUTE)  # down 5 of the last 10 minutes
    assert not fires(FAULT_AT + 9 * MINUTE)  # 9 minutes: not more than N - 1
    assert fires(FAULT_AT + 10 * MINUTE) and fires(FAULT_AT + FAULT_S)
    assert not fires(FAULT_AT + FAULT_S + 2 * MINUTE)  # up again: 8 of the last 10
    assert not fires(FAULT_AT + FAULT_S + 15 * MINUTE)
    # a shorter threshold (built into the rule) fires earlier
    rule = _rules({"TWIN_ALERT_DOWN_MIN": "4"})["twin-station-down"]
    short = evaluate(rule, run_query, run.ms(FAULT_AT + 5 * MINUTE))
    assert FAULT_STATION in _fired_scopes(short)


def test_line_oee_rule_fires_where_the_hour_is_under_target(
    influxd: InfluxServer, run: FaultyRun
) -> None:
    run_query = _runner(influxd, run.db)
    cols = to_columns(run.records)
    cols.end_s = STOP_AT
    outcomes = Counter()
    for target in ("0.5", "0.8"):
        rule = _rules({"TWIN_ALERT_OEE_TARGET": target})["twin-line-oee-low"]
        for t in np.arange(HOUR, STOP_AT + 1, 30 * MINUTE).tolist():
            fired = _fired_scopes(evaluate(rule, run_query, run.ms(t)))
            report = compute_report(cols, (t - HOUR, t), shifts=False)
            expected = {
                ln.scope
                for ln in report.lines
                if ln.elements.pbt_s > 0 and (ln.kpis.oee or 0.0) < float(target)
            }
            assert fired == expected, f"target {target} at {t / HOUR:.1f} h"
            outcomes[bool(fired)] += 1
    assert outcomes[True] and outcomes[False]  # fires at some instants, not at others


def test_stale_data_fires_after_the_feed_stops(influxd: InfluxServer, run: FaultyRun) -> None:
    run_query = _runner(influxd, run.db)
    rule = RULES["twin-data-stale"]
    healthy = [evaluate(rule, run_query, run.ms(t)) for t in np.arange(HOUR, STOP_AT, HOUR)]
    assert healthy == [set()] * len(healthy)
    last = max(run.ms(r.t) for r in run.records if r.kind == "sample")  # the feed's last sample
    assert last >= run.ms(STOP_AT - MINUTE)
    assert evaluate(rule, run_query, last + 5 * 60_000 - 1) == set()
    assert evaluate(rule, run_query, last + 5 * 60_000) == {()}  # 5 minutes without a sample
    assert evaluate(rule, run_query, last + 60 * 60_000) == {()}


def test_gateway_rules_fire_on_scripted_lag_and_dead_letters(
    influxd: InfluxServer, influx_db: str
) -> None:
    """Gateway metrics every minute: a lag spike at minute 30, dead letters at minute 60."""
    stats, lines = Stats(), []
    for minute in range(120):
        stats.add("mqtt", "records_in", 100)
        stats.add_lags([9000.0] * 50 if 30 <= minute < 33 else [20.0, 40.0])
        if minute == 60:
            stats.add("mqtt", "dead_lettered", 3)
        lines += stats.lines("gw1", START_MS + minute * 60_000)
    influxd_write(influxd, influx_db, lines)
    run_query = _runner(influxd, influx_db)
    lag, dead = RULES["twin-gateway-lag"], RULES["twin-dead-letters"]

    def at(minute: float) -> int:
        return START_MS + round(minute * 60_000)

    assert {m for m in range(5, 120) if evaluate(lag, run_query, at(m))} == set(range(30, 37))
    fired = {m for m in range(5, 120) if evaluate(dead, run_query, at(m))}
    # the counter rose between the points of minutes 59 and 60: seen while both are in the
    # 15-minute look-back (now - 15 min, now]
    assert fired == set(range(60, 74))


def influxd_write(influxd: InfluxServer, db: str, lines: list[str]) -> None:
    """Write lines with the project's writer."""
    from analytics.service import InfluxConfig, LineWriter, make_sink

    writer = LineWriter(make_sink(InfluxConfig(influxd.url, db)))
    writer.write(lines)
    writer.close()


def _annotation_rows(influxd: InfluxServer, run: FaultyRun, query: str) -> list[tuple]:
    q = expand(query, START_MS, run.ms(STOP_AT), "1m", {"run": RUN_ID})
    rows = []
    for s in _runner(influxd, run.db)(q):
        rows += [tuple(row) for row in s["values"]]
    return rows


def test_annotations_return_the_event_log_records_one_for_one(
    influxd: InfluxServer, run: FaultyRun
) -> None:
    def ms(t: float) -> int:
        return run.ms(t)

    shifts = [(ms(r.t), r.shift) for r in run.records if isinstance(r, ShiftChange)]
    assert Counter(_annotation_rows(influxd, run, queries.SHIFT_CHANGES)) == Counter(shifts)
    maintenance = [
        (ms(r.t), r.station, r.reason)
        for r in run.records
        if isinstance(r, StateChange) and r.state == StationState.PLANNED_DOWNTIME
    ]
    assert maintenance
    rows = _annotation_rows(influxd, run, queries.PLANNED_MAINTENANCE)
    assert Counter(rows) == Counter(maintenance)
    breakdowns = _breakdowns(run)
    shown = [
        (t, station, reason, round(duration, 3))
        for t, text, station, reason, duration in _annotation_rows(influxd, run, queries.BREAKDOWNS)
        if station in text and reason in text
    ]
    assert Counter(shown) == Counter(breakdowns)
    assert (ms(FAULT_AT), FAULT_STATION, "injected", FAULT_S) in shown
    events = [
        (ms(r.t), r.name, r.target, r.event, r.phase)
        for r in run.records
        if isinstance(r, ScenarioEvent)
    ]
    assert len(events) >= 5  # surge, outage, maintenance: starts and ends before the stop
    assert Counter(_annotation_rows(influxd, run, queries.SCENARIO_EVENTS)) == Counter(events)


def _breakdowns(run: FaultyRun) -> list[tuple]:
    """Return each entry into DOWN: (ms, station, reason, seconds until the next state)."""
    by_station: dict[str, list[StateChange]] = {}
    for r in run.records:
        if isinstance(r, StateChange):
            by_station.setdefault(r.station, []).append(r)
    out = []
    for station, seq in by_station.items():
        for i, r in enumerate(seq):
            if r.state != StationState.DOWN or (i and seq[i - 1].state == StationState.DOWN):
                continue
            nxt = next((c.t for c in seq[i + 1 :] if c.state != StationState.DOWN), STOP_AT)
            out.append((run.ms(r.t), station, r.reason or "unspecified", round(nxt - r.t, 3)))
    return out


@pytest.fixture(scope="module")
def bf(influxd: InfluxServer) -> Backfilled:
    return backfilled_db(influxd)


def test_a_short_minor_stop_shows_at_a_24_hour_zoom(influxd: InfluxServer, bf: Backfilled) -> None:
    """The timeline query returns every state change; a 10-minute bucket query loses stops."""
    by_station: dict[str, list[StateChange]] = {}
    for r in bf.truth:
        if isinstance(r, StateChange):
            by_station.setdefault(r.station, []).append(r)
    short = [
        (station, a, b)
        for station, seq in by_station.items()
        for a, b in itertools.pairwise(seq)
        if a.state == StationState.MINOR_STOP and b.t - a.t <= 60 and a.t < 24 * HOUR
    ]
    assert short, "no minor stop of a minute or less in the run"
    station, stop, after = min(short, key=lambda s: s[2].t - s[1].t)
    assert after.t - stop.t < 40  # about the 30 s the scenario's shortest stops last
    q = expand(
        queries.state_query(),
        bf.result.start_ms,
        bf.result.start_ms + 24 * 3_600_000,
        "2m",  # what Grafana picks for 24 h on a wide panel
        {"run": ".*", "station": station},
    )
    res = influxd.query(q, bf.db, epoch="ms")["results"][0]
    (series,) = res["series"]
    times = [row[0] for row in series["values"]]
    expected = [
        bf.result.start_ms + round(r.t * 1000) for r in by_station[station] if r.t < 24 * HOUR
    ]
    assert times == expected  # every state change, in order
    minor = STATE_INFO[StationState.MINOR_STOP].number
    at = times.index(bf.result.start_ms + round(stop.t * 1000))
    assert series["values"][at][1] == minor and times[at + 1] > times[at]
    old = q.replace('SELECT "state_num"', 'SELECT last("state_num")').replace(
        'GROUP BY "station"', 'GROUP BY time(10m), "station" fill(previous)'
    )
    old_values = influxd.query(old, bf.db, epoch="ms")["results"][0]["series"][0]["values"]
    stops = sum(
        1 for r in by_station[station] if r.state == StationState.MINOR_STOP and r.t < 24 * HOUR
    )
    assert sum(1 for row in series["values"] if row[1] == minor) == stops
    assert sum(1 for row in old_values if row[1] == minor) < stops  # buckets lose stops
