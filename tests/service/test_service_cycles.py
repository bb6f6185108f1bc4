"""The service's cycle logic with an in-memory reader: which windows, when they become final."""

from __future__ import annotations

from analytics.service.carry import CarryState
from analytics.service.kpi_schema import RunMeta
from analytics.service.reader import RunClock
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

    def _upto(self) -> list[Record]:
        return [r for r in self.records if r.t <= self.latest_s and not isinstance(r, RunEnd)]

    def latest_by_run(self) -> dict[str, int]:
        return {self.start.run_id: epoch_ms(self.start.start_epoch_ms, self.latest_s)}

    def clock(self, run_id: str, latest_ms: int) -> RunClock:
        meta = RunMeta(run_id, self.start.start_epoch_ms, self.start.site)
        return RunClock(meta, latest_ms, self.start, ended=False)

    def shift_changes(self, run_id: str) -> list[ShiftChange]:
        return [r for r in self._upto() if isinstance(r, ShiftChange)]

    def read_span(self, run: RunClock, from_ms: int) -> list[Record]:
        self.spans.append(from_ms)
        t_from = (from_ms - run.meta.start_epoch_ms) / 1000.0
        carry = CarryState()
        carry.feed(r for r in self._upto() if r.t < t_from)
        return carry.records(t_from) + [r for r in self._upto() if r.t >= t_from]


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
