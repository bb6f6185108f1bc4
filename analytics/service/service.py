"""The analytics service: every N seconds, KPIs of the current hour, shift and day into ``kpi``.

One cycle, per followed run (default: the run with the newest data, and beside it each run
followed before whose windows are not all final: an ended run until they are, one that did
not end until ``settle_s`` after it was last the newest; ``run_choice``):

1. the run's "now" is the time of its latest stored record (the data's clock, see ``windows``);
2. every window (hour, shift, day) from the run's start to "now" that is not final yet is
   chosen: after a fast run, an outage or a restart of the service that is the whole backlog,
   otherwise the windows still open and those that just ended;
3. they are taken a day of data at a time (bounded memory): the records of that day plus the
   carry-in are read with InfluxQL;
4. the KPI engine computes each window; the lines (one point per scope and window, stamped
   with the window start) are written, overwriting the previous cycle's values.

A window whose end the data has passed by ``settle_s`` (data time; late records of other
stations may still be on their way before that) is final and not computed again: each window
gets its final KPIs once, however late its data came. Data time stops at a run's end, so the
last windows of a run that ended need another rule: ``run_end`` can be stored before the run's
last records (a partitioned gateway writes its partitions' batches independently, one of them
may be retrying InfluxDB errors or holding records through an outage, and InfluxDB 1.x does
not make one write visible at once), and a window made final without them keeps wrong KPIs for
good. Such a window is final on a cycle when both hold:

* the cycle read the same number of records for it as the cycle before, which saw the run
  ended too;
* no gateway may still hold records of the run: every gateway with a ``gateway_stats`` point
  made in the last ``settle_s`` (wall-clock time) has stored one made after this service first
  saw the run ended. A gateway writes those points through its store-and-forward buffer, in
  order with its records, so a stored point proves that every record it had put in its
  buffer before making it is stored too, whatever its ``buffered`` field says (waiting for
  ``buffered == 0`` would add nothing, and a next run's steady traffic could hold the windows
  for good); a gateway stuck retrying stores no newer point. One with no point for
  ``settle_s`` is taken as gone and not waited for (the service's bound on lateness, as for
  open windows); a run whose ``run_end`` came from ``twin backfill`` (``source`` "backfill",
  no gateway) waits for none, nor does any run when no gateway stores points. The points are
  read (one query) before the records, so the records a point vouches for are read on the
  same cycle. The gateways' clocks and the service's are taken to agree (one host, or NTP).

Until then the windows are computed again on every cycle (``ended_runs`` keeps the counts,
the gateways waited for and when each run was seen ended). The service writes its own figures
to ``analytics_stats`` (wall-clock time, like ``gateway_stats``).
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
from analytics.service.ended_runs import EndedRuns
from analytics.service.reader import RunClock, RunReader
from analytics.service.run_choice import FollowedRuns, default_run
from analytics.service.windows import DAY_MS, ShiftMarks, Window, windows_between
from analytics.service.writer import LineWriter
from plant_sim.durations import seconds_text
from plant_sim.payloads import epoch_ms
from plant_sim.telemetry_schema import encode_point
from twin_io.influx import InfluxError

logger = logging.getLogger(__name__)
STATS_MEASUREMENT = "analytics_stats"


def chunks(windows: list[Window], span_ms: int = DAY_MS) -> list[list[Window]]:
    """Split windows (sorted by start) into groups that start within ``span_ms`` of each other."""
    out: list[list[Window]] = []
    for w in sorted(windows, key=lambda w: (w.start_ms, w.kind)):
        if out and w.start_ms < out[-1][0].start_ms + span_ms:
            out[-1].append(w)
        else:
            out.append([w])
    return out


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
        source: str = "InfluxDB",
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.run_ids = tuple(run_ids)
        self.name = name
        self.health_file = health_file
        self.settle_ms = round(settle_s * 1000)
        self._final: set[tuple[str, str, int]] = set()
        self._ended = EndedRuns(reader, self.settle_ms)  # their last windows (see above)
        self._followed = FollowedRuns(self.settle_ms)
        self._unreadable: str | None = None  # the last cycle's unreadable row, if any
        self._ignored: dict[str, str] = {}  # runs the default choice ignores, and why
        self.source = source  # for the log: "InfluxDB at URL" (no password)
        self._failed_cycles = 0  # cycles in a row that InfluxDB failed

    def cycle(self) -> list[CycleResult]:
        """Run one cycle over the followed runs; raises ``InfluxError``."""
        latest = self.reader.latest_by_run()
        newest = None
        if self.run_ids:
            runs = [r for r in self.run_ids if r in latest]
        else:
            newest = self._default_run(latest)
            now_ms = int(time.time() * 1000)
            runs = self._followed.runs(newest, latest, self._ended.seen, now_ms)
        self._ended.keep_only(runs)
        out = []
        for run_id in runs:
            result = self.run_cycle(run_id, latest[run_id])
            if result is not None:
                out.append(result)
            else:  # every window final
                self._followed.all_final(run_id, newest)
        self._report(out)
        return out

    def _default_run(self, latest: dict[str, int]) -> str | None:
        """The real run with the newest data (``run_choice``); log the others once."""
        if not latest:
            return None
        best, ignored = default_run(latest, self.reader.run_starts(), int(time.time() * 1000))
        for run_id, reason in ignored.items():
            if self._ignored.get(run_id) != reason:
                if len(self._ignored) >= 10_000:  # bounded: a flood of stray runs logs again
                    self._ignored.clear()
                self._ignored[run_id] = reason
                logger.info("run %s not followed by default: %s", run_id, reason)
        return best

    def run_cycle(self, run_id: str, latest_ms: int) -> CycleResult | None:
        """Compute and write every window of one run that is not final; None if none is."""
        started = time.perf_counter()
        clock = self.reader.clock(run_id, latest_ms)
        if clock is None:
            logger.warning("run %s: no run_start stored yet; skipped", run_id)
            return None
        marks = self._marks(clock)
        todo = [
            w
            for w in windows_between(clock.meta.start_epoch_ms, latest_ms, marks)
            if (run_id, *w.key) not in self._final
        ]
        if not todo:
            self._ended.forget(run_id)
            return None
        behind = self._ended.gateways_behind(clock) if clock.ended else {}  # before the records
        held = False  # a window that the rule above would make final waits for a gateway
        done: list[Window] = []
        n_records = n_lines = 0
        for chunk in chunks(todo):  # a day of data at a time: bounded memory after an outage
            from_ms = max(chunk[0].start_ms, clock.meta.start_epoch_ms)
            to_ms = max(latest_ms if w.end_ms is None else w.end_ms for w in chunk)
            bounded = to_ms < latest_ms  # data goes on after this chunk
            records = self.reader.read_span(clock, from_ms, to_ms if bounded else None)
            cols = to_columns(records)
            if bounded:  # close the last states at the chunk's end, as the data beyond would
                cols.end_s = max(cols.end_s, (to_ms - clock.meta.start_epoch_ms) / 1000.0)
            results = compute_windows(cols, chunk, clock.meta)
            lines = [line for r in results for line in r.lines]
            self.writer.write(lines)
            for w in chunk:
                key = (run_id, *w.key)
                complete = w.complete_at(latest_ms, self.settle_ms)
                settled = not complete and clock.ended and self._ended.settled(key, len(records))
                held = held or (settled and bool(behind))
                if complete or (settled and not behind):
                    self._final.add(key)
                    self._ended.final(key)
            done += [r.window for r in results]
            n_records += len(records)
            n_lines += len(lines)
        if held:
            self._ended.log_waits(run_id, behind)
        seconds = time.perf_counter() - started
        logger.info(
            "run %s: %d windows, %d records read, %d points written in %.2f s",
            run_id,
            len(done),
            n_records,
            n_lines,
            seconds,
        )
        return CycleResult(run_id, latest_ms, tuple(done), n_records, n_lines, seconds)

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
        """Run ``guarded_cycle`` every ``interval_s`` seconds until ``stop`` is set."""
        stop = stop or threading.Event()
        while not stop.is_set():
            started = time.monotonic()
            self.guarded_cycle(interval_s)
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))

    def guarded_cycle(self, retry_s: float = 0.0) -> list[CycleResult]:
        """Run one cycle; log a failure instead of raising it (``retry_s``: for the log).

        InfluxDB 1.x makes the fields of a point visible one by one (influxdb#8546), so a row
        read while it is written can lack a field: an unreadable row is a warning the first
        time and an error when the next cycle finds it unreadable again.
        """
        try:
            results = self.cycle()
        except InfluxError as exc:
            self._failed_cycles += 1
            logger.warning("cycle failed, retrying in %s s: %s", seconds_text(retry_s), exc)
            return []
        except ValueError as exc:  # an unreadable stored row (SchemaError names the field)
            level = logging.ERROR if str(exc) == self._unreadable else logging.WARNING
            self._unreadable = str(exc)
            logger.log(level, "cycle skipped, retrying in %s s: %s", seconds_text(retry_s), exc)
            return []
        if self._failed_cycles:
            logger.info(
                "%s answers again after %d failed cycle%s",
                self.source,
                self._failed_cycles,
                "" if self._failed_cycles == 1 else "s",
            )
            self._failed_cycles = 0
        self._unreadable = None
        return results
