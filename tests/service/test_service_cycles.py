"""The service's cycle logic with an in-memory reader: which windows, when they become final."""

from __future__ import annotations

import logging
import re
import time

import pytest

from analytics.columns import to_columns
from analytics.service.carry import CarryState
from analytics.service.compute import compute_windows
from analytics.service.kpi_schema import RunMeta
from analytics.service.reader import GatewayPoint, RunClock
from analytics.service.service import AnalyticsService
from analytics.service.windows import HOUR_MS
from plant_sim.payloads import epoch_ms
from plant_sim.records import Record, RunEnd, RunStart, ShiftChange
from tests.gateway.helpers import run_log


class MemoryReader:
    """Serves a batch run's records up to a movable "latest" time, like a growing database."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        start = records[0]
        assert isinstance(start, RunStart)
        self.start = start
        self.latest_s = 0.0
        self.spans: list[int] = []
        self.ended = False  # run_end stored
        self.late: set[int] = set()  # ids of records not stored yet
        self.gateways: dict[str, GatewayPoint] = {}  # newest gateway_stats points

    def _upto(self) -> list[Record]:
        return [
            r
            for r in self.records
            if r.t <= self.latest_s
            and id(r) not in self.late
            and (self.ended or not isinstance(r, RunEnd))
        ]

    def latest_by_run(self) -> dict[str, int]:
        return {self.start.run_id: epoch_ms(self.start.start_epoch_ms, self.latest_s)}

    def clock(self, run_id: str, latest_ms: int) -> RunClock:
        meta = RunMeta(run_id, self.start.start_epoch_ms, self.start.site)
        return RunClock(meta, latest_ms, self.start, ended=self.ended)

    def shift_changes(self, run_id: str) -> list[ShiftChange]:
        return [r for r in self._upto() if isinstance(r, ShiftChange)]

    def run_starts(self) -> dict[str, RunStart]:
        return {self.start.run_id: self.start}

    def gateway_points(self, within_ms: int) -> dict[str, GatewayPoint]:
        return self.gateways

    def read_span(self, run: RunClock, from_ms: int, to_ms: int | None = None) -> list[Record]:
        self.spans.append(from_ms)
        t_from = (from_ms - run.meta.start_epoch_ms) / 1000.0
        t_to = float("inf") if to_ms is None else (to_ms - run.meta.start_epoch_ms) / 1000.0
        carry = CarryState()
        carry.feed(r for r in self._upto() if r.t < t_from)
        return carry.records(t_from) + [r for r in self._upto() if t_from <= r.t < t_to]


class ListWriter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, lines: list[str]) -> None:
        self.lines += lines


def test_previous_windows_are_recomputed_until_they_settle() -> None:
    reader = MemoryReader(run_log(until_s=10 * 3600, seed=6))
    writer = ListWriter()
    service = AnalyticsService(reader, writer, settle_s=600)  # type: ignore[arg-type]
    t0 = reader.start.start_epoch_ms
    reader.latest_s = 7 * 3600 + 300  # 07:05, early shift since 06:00
    first = service.cycle()[0]
    assert {(w.kind, w.start_ms) for w in first.windows} >= {
        ("hour", t0 + 7 * HOUR_MS),
        ("hour", t0 + 6 * HOUR_MS),
        ("shift", t0 + 6 * HOUR_MS),
    }
    reader.latest_s = 7 * 3600 + 900  # 07:15: the 06:00 hour settled (10 min past its end)
    second = service.cycle()[0]
    assert ("hour", t0 + 6 * HOUR_MS) in {(w.kind, w.start_ms) for w in second.windows}
    reader.latest_s = 7 * 3600 + 1200
    third = service.cycle()[0]
    assert ("hour", t0 + 6 * HOUR_MS) not in {(w.kind, w.start_ms) for w in third.windows}
    assert reader.spans[-1] == t0  # still reads from the day's start
    assert all(
        line.startswith(("kpi,", "kpi_loss,", "kpi_slice,", "kpi_stop,", "analytics_stats,"))
        for line in writer.lines
    )


def test_every_window_of_a_run_that_came_at_once_is_computed_once() -> None:
    """A 2-day run stored before the first cycle (a fast run, an outage): every window, a day
    of data at a time, with the same KPIs as computed from the whole run in one piece."""
    records = run_log(until_s=2 * 86_400, seed=6)
    reader = MemoryReader(records)
    reader.latest_s = records[-1].t
    writer = ListWriter()
    service = AnalyticsService(reader, writer, settle_s=600)  # type: ignore[arg-type]
    t0 = reader.start.start_epoch_ms
    latest = epoch_ms(t0, reader.latest_s)
    result = service.cycle()[0]
    hours = sorted(w.start_ms for w in result.windows if w.kind == "hour")
    assert hours == [t0 + k * HOUR_MS for k in range(len(hours))]
    data_end = epoch_ms(t0, to_columns(reader._upto()).end_s)  # the last state or part
    assert len(hours) == -(-(data_end - t0) // HOUR_MS)  # every hour that has data
    assert len(hours) > 40
    assert len(set(result.windows)) == len(result.windows)  # each once
    assert len(reader.spans) >= 2  # read in day-sized pieces
    whole = compute_windows(
        to_columns(reader._upto()), list(result.windows), reader.clock(result.run_id, 0).meta
    )
    assert sorted(line for r in whole for line in r.lines) == sorted(
        line for line in writer.lines if not line.startswith("analytics_stats")
    )
    second = service.cycle()  # final windows are not computed again
    assert all(
        w.end_ms is None or not w.complete_at(latest, 600_000) for r in second for w in r.windows
    )


def _last_writes(lines: list[str]) -> dict[tuple[str, str], str]:
    """The point each series and time holds after ``lines`` are written in order (InfluxDB
    keeps the last write), without the service's own statistics."""
    out = {}
    for line in lines:
        if not line.startswith("analytics_stats"):
            series = re.split(r"(?<!\\) ", line, maxsplit=1)[0]
            out[series, line.rsplit(" ", 1)[1]] = line
    return out


def test_windows_of_an_ended_run_wait_for_its_last_records() -> None:
    """run_end stored before the run's last records (a partitioned gateway, a partition
    retrying an InfluxDB error): the last windows are computed again when those records land,
    and are final only once two cycles in a row read the same records."""
    records = run_log(until_s=10 * 3600, seed=6)
    end = records[-1]
    assert isinstance(end, RunEnd)
    reader = MemoryReader(records)
    reader.latest_s = end.t
    reader.ended = True
    station = next(r.station for r in reversed(records) if r.kind == "state")
    reader.late = {
        id(r)
        for r in records
        if r.kind in ("state", "part") and r.station == station and r.t > end.t - 1800
    }
    assert len(reader.late) > 5
    writer = ListWriter()
    service = AnalyticsService(reader, writer, settle_s=600)  # type: ignore[arg-type]
    first = service.cycle()[0]  # every window; run_end seen
    whole = compute_windows(
        to_columns(records), list(first.windows), reader.clock(first.run_id, 0).meta
    )
    expected = _last_writes([line for r in whole for line in r.lines])
    assert _last_writes(writer.lines) != expected  # without the late records
    reader.late = set()  # they land
    second = service.cycle()[0]
    last_hour = max(w.start_ms for w in first.windows if w.kind == "hour")
    assert {("hour", last_hour), ("day", reader.start.start_epoch_ms)} <= {
        (w.kind, w.start_ms) for w in second.windows
    }
    assert _last_writes(writer.lines) == expected  # every stored KPI counts them
    third = service.cycle()[0]  # the same records again: final now
    assert set(third.windows) == set(second.windows)
    assert service.cycle() == []
    assert _last_writes(writer.lines) == expected


def test_a_gateway_that_goes_silent_is_no_longer_waited_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The last windows of an ended run wait for a gateway whose newest point predates the
    end; when it stores nothing for ``settle_s`` it is taken as gone and they become final."""
    records = run_log(until_s=10 * 3600, seed=6)
    reader = MemoryReader(records)
    reader.latest_s = records[-1].t
    reader.ended = True
    reader.gateways = {"gw-p1": GatewayPoint(int(time.time() * 1000) - 5000, 7)}
    service = AnalyticsService(reader, ListWriter(), settle_s=600)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="analytics.service")
    first = service.cycle()[0]
    last = {w for w in first.windows if w.end_ms is None or w.end_ms >= first.latest_ms}
    for _ in range(3):
        assert last <= set(service.cycle()[0].windows)  # waiting
    reader.gateways = {}  # nothing from it in the last settle_s
    assert last <= set(service.cycle()[0].windows)  # same records again: final now
    assert service.cycle() == []
    messages = [r.getMessage() for r in caplog.records if "gateway gw-p1" in r.getMessage()]
    run_id = reader.start.run_id
    assert len(messages) == 2  # each once
    assert re.fullmatch(
        rf"run {run_id}: last windows wait for gateway gw-p1 \(7 records buffered [\d.]+ s ago\)",
        messages[0],
    ), messages
    assert messages[1] == (
        f"run {run_id}: last windows no longer wait for gateway gw-p1: "
        "no gateway_stats point for 600 s, taken as gone"
    )
