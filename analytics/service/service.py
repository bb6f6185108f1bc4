"""The analytics service: every N seconds, KPIs of the current hour, shift and day into ``kpi``.

One cycle, per followed run (default: the run with the newest data):

1. the run's "now" is the time of its latest stored record (the data's clock, see ``windows``);
2. the windows holding it (hour, shift, day) and, once each, the windows just before them
   (finished with their full data when a boundary passes) are chosen;
3. the records from the earliest window start on, plus the carry-in, are read with InfluxQL;
4. the KPI engine computes each window; the lines (one point per scope and window, stamped
   with the window start) are written, overwriting the previous cycle's values.

A window whose end the data has passed by ``settle_s`` (data time; late records of other
stations may still be on their way before that) is final and not computed again. The
service writes its own figures to ``analytics_stats`` (wall-clock time, like ``gateway_stats``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analytics.columns import to_columns
from analytics.service.compute import compute_windows
from analytics.service.reader import RunClock, RunReader
from analytics.service.windows import ShiftMarks, Window, current_windows, previous_windows
from analytics.service.writer import LineWriter
from plant_sim.payloads import epoch_ms
from plant_sim.telemetry_schema import encode_point
from twin_io.influx import InfluxError

logger = logging.getLogger(__name__)
STATS_MEASUREMENT = "analytics_stats"


@dataclass(frozen=True, slots=True)
class CycleResult:
    """What one cycle did for one run."""

    run_id: str
    latest_ms: int
    windows: tuple[Window, ...]
    records: int
    lines: int
    seconds: float


class AnalyticsService:
    """Computes and writes the KPI windows of stored runs; see the module docstring."""

    def __init__(
        self,
        reader: RunReader,
        writer: LineWriter,
        run_ids: Sequence[str] = (),
        name: str = "analytics",
        health_file: Path | None = None,
        settle_s: float = 900.0,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.run_ids = tuple(run_ids)
        self.name = name
        self.health_file = health_file
        self.settle_ms = round(settle_s * 1000)
        self._final: set[tuple[str, str, int]] = set()

    def cycle(self) -> list[CycleResult]:
        """Run one cycle over the followed runs; raises ``InfluxError``."""
        latest = self.reader.latest_by_run()
        if self.run_ids:
            runs = [r for r in self.run_ids if r in latest]
        else:
            runs = [max(latest, key=latest.__getitem__)] if latest else []
        out = []
        for run_id in runs:
            result = self.run_cycle(run_id, latest[run_id])
            if result is not None:
                out.append(result)
        self._report(out)
        return out

    def run_cycle(self, run_id: str, latest_ms: int) -> CycleResult | None:
        """Compute and write the open windows of one run; None when nothing is to do."""
        started = time.perf_counter()
        clock = self.reader.clock(run_id, latest_ms)
        if clock is None:
            logger.warning("run %s: no run_start stored yet; skipped", run_id)
            return None
        marks = self._marks(clock)
        current = current_windows(latest_ms, marks)
        todo = [
            w
            for w in [*previous_windows(current, marks), *current]
            if (run_id, *w.key) not in self._final
        ]
        if not todo:
            return None
        from_ms = max(min(w.start_ms for w in todo), clock.meta.start_epoch_ms)
        records = self.reader.read_span(clock, from_ms)
        results = compute_windows(to_columns(records), todo, clock.meta)
        lines = [line for r in results for line in r.lines]
        self.writer.write(lines)
        for w in todo:
            if clock.ended or w.complete_at(latest_ms, self.settle_ms):
                self._final.add((run_id, *w.key))
        seconds = time.perf_counter() - started
        logger.info(
            "run %s: %d windows, %d records read, %d points written in %.2f s",
            run_id,
            len(results),
            len(records),
            len(lines),
            seconds,
        )
        windows = tuple(r.window for r in results)
        return CycleResult(run_id, latest_ms, windows, len(records), len(lines), seconds)

    def _marks(self, clock: RunClock) -> ShiftMarks:
        start = clock.meta.start_epoch_ms
        changes = self.reader.shift_changes(clock.meta.run_id)
        return [(epoch_ms(start, r.t), r.shift) for r in changes]

    def _report(self, results: list[CycleResult]) -> None:
        now_ms = int(time.time() * 1000)
        if results:
            fields = {
                "cycle_s": float(sum(r.seconds for r in results)),
                "records": float(sum(r.records for r in results)),
                "points": float(sum(r.lines for r in results)),
                "runs": float(len(results)),
            }
            line = encode_point(STATS_MEASUREMENT, {"service": self.name}, fields, now_ms * 10**6)
            if line is not None:
                self.writer.write([line])
        if self.health_file is not None:
            self.health_file.touch()

    def run_forever(self, interval_s: float, stop: threading.Event | None = None) -> None:
        """Run a cycle every ``interval_s`` seconds until ``stop`` is set; log failures.

        InfluxDB 1.x makes the fields of a point visible one by one (influxdb#8546), so a row
        read while it is written can lack a field: an unreadable row is a warning the first
        time and an error when the next cycle finds it unreadable again.
        """
        stop = stop or threading.Event()
        unreadable = None  # the last cycle's unreadable row, if any
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.cycle()
                unreadable = None
            except InfluxError as exc:
                logger.warning("cycle failed, retrying in %.0f s: %s", interval_s, exc)
            except ValueError as exc:  # an unreadable stored row (SchemaError names the field)
                level = logging.ERROR if str(exc) == unreadable else logging.WARNING
                unreadable = str(exc)
                logger.log(level, "cycle skipped, retrying in %.0f s: %s", interval_s, exc)
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
