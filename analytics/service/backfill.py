"""Backfill: simulate the past days and write telemetry and KPIs straight into InfluxDB.

The run starts at UTC midnight ``days`` before ``end_ms`` (the scenario's ``start_time`` is moved
there, so its calendar lines up with the clock) and runs up to ``end_ms``. It is simulated one
chunk (a day) at a time; each chunk's records become the same points the gateway would store
(``plant_sim.telemetry_schema``, ``seq`` numbering, ``source="backfill"``) and are written from a
background thread while the next chunk is simulated. After each chunk, the KPI windows (hours,
shifts, days) that ended are computed from the records since the earliest open window plus the
carry-in, exactly as the analytics service computes them from InfluxDB, and written to ``kpi``.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter

from analytics.columns import to_columns
from analytics.service.carry import CarryState
from analytics.service.compute import compute_windows
from analytics.service.kpi_schema import RunMeta
from analytics.service.windows import (
    DAY_MS,
    Window,
    current_windows,
    floor_to,
    windows_between,
)
from plant_sim.payloads import epoch_ms
from plant_sim.records import Record, RunStart, ShiftChange
from plant_sim.scenario import Scenario
from plant_sim.simulation import Simulation
from plant_sim.telemetry_schema import point_parts

logger = logging.getLogger(__name__)
SOURCE = "backfill"
_T = attrgetter("t")


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """What a backfill wrote."""

    run_id: str
    start_ms: int
    end_ms: int
    records: int
    kpi_lines: int
    windows: int
    seconds: float
    done_s: float | None = None  # simulated seconds written when stopped early (no run_end)

    @property
    def sim_days(self) -> float:
        """Simulated days (of the whole span: see ``complete``)."""
        return (self.end_ms - self.start_ms) / DAY_MS

    @property
    def complete(self) -> bool:
        """Whether the whole span and its ``run_end`` were written (not stopped early)."""
        return self.done_s is None


class LineEncoder:
    """Records of one run -> line protocol, numbering records that share a series and ms."""

    def __init__(self, run_id: str, start_epoch_ms: int, source: str | None = SOURCE) -> None:
        self.run_id = run_id
        self.start_epoch_ms = start_epoch_ms
        self.source = source
        self._last: dict[str, tuple[int, int]] = {}

    def lines(self, records: Iterable[Record]) -> list[str]:
        """Return one line per record, in order (raises ``SchemaError`` naming a bad field)."""
        out = []
        last = self._last
        for r in records:
            series, fields = point_parts(r, self.run_id, self.source)
            ts_ms = epoch_ms(self.start_epoch_ms, r.t)
            prev = last.get(series)
            seq = prev[1] + 1 if prev is not None and prev[0] == ts_ms else 0
            last[series] = (ts_ms, seq)
            out.append(f"{series} {fields} {ts_ms * 1_000_000 + seq}")
        return out


def aligned_start(end_ms: int, days: float) -> int:
    """Return UTC midnight at or before ``end_ms - days``."""
    return floor_to(end_ms - round(days * DAY_MS), DAY_MS)


def shifted(scenario: Scenario, start_ms: int) -> Scenario:
    """Return ``scenario`` starting at ``start_ms`` (its calendar moves with it)."""
    return scenario.model_copy(update={"start_time": datetime.fromtimestamp(start_ms / 1000, UTC)})


def default_run_id(scenario: Scenario, start_ms: int, seed: int) -> str:
    """Return ``NAME-backfill-YYYYMMDD-sSEED``: the same backfill gets the same id."""
    day = datetime.fromtimestamp(start_ms / 1000, UTC).strftime("%Y%m%d")
    return f"{scenario.name}-backfill-{day}-s{seed}"


class _KpiFeed:
    """Keeps the records of the open windows and computes windows as they end."""

    def __init__(self, meta: RunMeta) -> None:
        self.meta = meta
        self.carry = CarryState()
        self.span: list[Record] = []
        self.span_from_ms = meta.start_epoch_ms
        self.marks: list[tuple[int, str | None]] = []
        self.done: set[tuple[str, int]] = set()

    def add(self, records: Sequence[Record]) -> None:
        self.span.extend(records)
        self.marks += [
            (epoch_ms(self.meta.start_epoch_ms, r.t), r.shift)
            for r in records
            if isinstance(r, ShiftChange)
        ]

    def ended_windows(self, now_ms: int, final: bool) -> list[str]:
        """Compute windows that ended by ``now_ms`` (all of them when ``final``)."""
        todo = [
            w
            for w in windows_between(self.meta.start_epoch_ms, now_ms, self.marks)
            if w.key not in self.done and (final or w.complete_at(now_ms))
        ]
        long = [w for w in todo if w.kind != "hour"]
        lines = self._hours([w for w in todo if w.kind == "hour"], now_ms)
        if long:
            t_from = self._sim(self.span_from_ms)
            lines += self._compute(self.carry.records(t_from) + self.span, long, now_ms)
        self.done.update(w.key for w in todo)
        self._advance(current_windows(now_ms, self.marks))
        return lines

    def _sim(self, ms: int) -> float:
        return (ms - self.meta.start_epoch_ms) / 1000.0

    def _compute(self, records: list[Record], windows: list[Window], known_ms: int) -> list[str]:
        """Return the lines of ``windows`` from records whose states are known to ``known_ms``."""
        cols = to_columns(records)
        cols.end_s = max(cols.end_s, self._sim(known_ms))  # the model has run to there
        return [line for r in compute_windows(cols, windows, self.meta) for line in r.lines]

    def _hours(self, hours: list[Window], now_ms: int) -> list[str]:
        """Compute hour windows each from its own records plus the carry-in at its start.

        Faster than one span for all: the engine's cost grows with the records it is given.
        """
        carry = self.carry.copy()
        pos, lines = 0, []
        for w in sorted(hours, key=lambda w: w.start_ms):
            t0 = self._sim(max(w.start_ms, self.span_from_ms))
            start = bisect.bisect_left(self.span, t0, key=_T)
            carry.feed(self.span[pos:start])
            pos = start
            end_ms = min(w.end_ms or now_ms, now_ms)
            stop = (
                len(self.span)
                if end_ms >= now_ms
                else bisect.bisect_left(self.span, self._sim(end_ms), key=_T)
            )
            lines += self._compute(carry.records(t0) + self.span[start:stop], [w], end_ms)
        return lines

    def _advance(self, open_windows: list[Window]) -> None:
        """Move records before the earliest open window into the carry-in."""
        from_ms = max(min(w.start_ms for w in open_windows), self.span_from_ms)
        t_from = (from_ms - self.meta.start_epoch_ms) / 1000.0
        cut = bisect.bisect_left(self.span, t_from, key=_T)
        self.carry.feed(self.span[:cut])
        del self.span[:cut]
        self.span_from_ms = from_ms


def backfill(  # noqa: PLR0913 (a scenario, a span and how to run it)
    scenario: Scenario,
    end_ms: int,
    days: float,
    put: Callable[[Sequence[str]], None],
    seed: int | None = None,
    run_id: str | None = None,
    chunk_s: float = 86_400.0,
    on_progress: Callable[[float, float], None] | None = None,
    stop: threading.Event | None = None,
) -> BackfillResult:
    """Simulate ``days`` before ``end_ms`` and hand telemetry and KPI lines to ``put``.

    ``on_progress(done_s, total_s)`` is called after each chunk (else progress is logged).
    Once ``stop`` is set the backfill ends after the chunk it is in, without ``run_end``
    (``BackfillResult.complete`` is False).
    """
    started = time.perf_counter()
    start_ms = aligned_start(end_ms, days)
    seed = scenario.seed if seed is None else seed
    run_id = run_id or default_run_id(scenario, start_ms, seed)
    pending: list[Record] = []
    sim = Simulation(
        shifted(scenario, start_ms),
        pending.append,
        seed=seed,
        run_id=run_id,
        start_epoch_ms=start_ms,
    )
    first = pending[0]
    assert isinstance(first, RunStart)
    feed = _KpiFeed(RunMeta(run_id, start_ms, first.site))
    encoder = LineEncoder(run_id, start_ms)
    horizon_s = (end_ms - start_ms) / 1000.0
    n_records = n_kpi = 0
    t = 0.0
    while t < horizon_s:
        t = min(t + chunk_s, horizon_s)
        sim.run(t)
        if t >= horizon_s:
            sim.finish()
        chunk, pending[:] = list(pending), []
        put(encoder.lines(chunk))
        feed.add(chunk)
        kpi = feed.ended_windows(epoch_ms(start_ms, t), final=t >= horizon_s)
        put(kpi)
        n_records += len(chunk)
        n_kpi += len(kpi)
        if on_progress is not None:
            on_progress(t, horizon_s)
        else:
            logger.info("backfill %s: %.1f of %.1f days", run_id, t / 86400, horizon_s / 86400)
        if stop is not None and stop.is_set() and t < horizon_s:
            break
    seconds = time.perf_counter() - started
    stopped_at = t if t < horizon_s else None
    return BackfillResult(
        run_id, start_ms, end_ms, n_records, n_kpi, len(feed.done), seconds, stopped_at
    )
