"""The default run of ``twin analytics``: a stray run cannot take it over (real InfluxDB)."""

from __future__ import annotations

import dataclasses

import pytest

from analytics.service import AnalyticsService, InfluxConfig, InfluxQL, LineWriter, RunReader
from analytics.service.backfill import LineEncoder
from analytics.service.run_choice import MAX_AHEAD_MS, FollowedRuns, default_run
from analytics.service.writer import make_sink
from plant_sim.records import RunStart, StateChange
from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer

pytestmark = pytest.mark.integration
YEAR_2100_MS = 4_102_444_800_000


def test_a_run_without_run_start_or_dated_2100_does_not_take_over(
    influxd: InfluxServer, influx_db: str
) -> None:
    records = h.run_log(3 * 3600, seed=5)
    start = records[0]
    assert isinstance(start, RunStart)
    config = InfluxConfig(influxd.url, influx_db)
    writer = LineWriter(make_sink(config))
    writer.write(LineEncoder(start.run_id, start.start_epoch_ms).lines(records))
    state = next(r for r in records if isinstance(r, StateChange))
    # a record of a run that never started, dated 2100
    writer.write(LineEncoder("ghost", YEAR_2100_MS).lines([state]))
    # a run that declares a start in 2100
    future = dataclasses.replace(start, run_id="future", start_epoch_ms=YEAR_2100_MS)
    writer.write(LineEncoder("future", YEAR_2100_MS).lines([future, state]))

    service = AnalyticsService(RunReader(InfluxQL(config)), LineWriter(make_sink(config)))
    results = service.cycle()
    assert [r.run_id for r in results] == [start.run_id]
    assert results[0].lines > 0


def test_default_run_reasons() -> None:
    start = RunStart(0.0, "r", "s", 1, 1_000_000, 3600.0, "e", "s", "a")
    now = 2_000_000
    best, ignored = default_run({"r": 1_000_000 + 3_600_000, "x": 10**13}, {"r": start}, now)
    assert best == "r" and ignored == {"x": "no run_start stored"}
    late = dataclasses.replace(start, start_epoch_ms=now + MAX_AHEAD_MS + 1)
    assert default_run({"r": now}, {"r": late}, now)[0] is None
    assert default_run({"r": 1_000_000 + 7_200_000}, {"r": start}, now)[0] is None  # past horizon


def test_followed_runs_keep_the_newest_and_let_the_others_go() -> None:
    """``FollowedRuns``: an ended run stays until its windows are final, even when no run is
    the newest one (all ignored); a run gone from the data is forgotten; one without run_end
    is let go ``settle_ms`` after it was last the newest."""
    followed = FollowedRuns(settle_ms=1_000)
    latest = {"a": 1, "b": 2, "c": 3}
    ended = {"a"}.__contains__
    assert followed.runs("a", latest, ended, now_ms=0) == ["a"]
    assert followed.runs("b", latest, ended, now_ms=10) == ["b", "a"]
    assert followed.runs("c", latest, ended, now_ms=20) == ["c", "a", "b"]
    assert followed.runs(None, latest, ended, now_ms=500) == ["a", "b", "c"]  # within settle
    assert followed.runs(None, latest, ended, now_ms=1_015) == ["a", "c"]  # b let go: 1.005 s
    followed.all_final("a", None)  # no newest run: a goes all the same
    assert followed.runs(None, latest, ended, now_ms=1_015) == ["c"]
    assert followed.runs(None, {"b": 2}, ended, now_ms=1_016) == []  # c's data gone
    assert followed.runs("c", {"c": 3}, ended, now_ms=2_000) == ["c"]
    followed.all_final("c", "c")  # the newest stays
    assert followed.runs(None, {"c": 3}, ended, now_ms=2_500) == ["c"]
