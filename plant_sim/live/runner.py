"""Drive the plant model in paced time and hand its records to the live sinks (OPC UA, MQTT).

The model runs in the event loop's thread, in small slices of simulation time (``env.run``
splits do not change the event order, so the records equal a batch run's for the same seed).
Between slices the records go to every sink; then the runner sleeps until the next event is due
or a command wakes it. Commands first bring the model up to the clock, then act.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from plant_sim.live import commands as cmds
from plant_sim.live.clock import PacedClock
from plant_sim.records import Emit, Record

logger = logging.getLogger(__name__)


class LiveModel(Protocol):
    """What the runner needs of ``plant_sim.simulation.Simulation``."""

    @property
    def now(self) -> float: ...
    def peek(self) -> float: ...
    def run(self, until_s: float) -> None: ...
    def finish(self) -> None: ...
    def inject_failure(self, station_id: str, duration_s: float, reason: str = ...) -> None: ...
    def clear_failure(self, station_id: str) -> None: ...


class RecordSink(Protocol):
    """A live output: receives every record in order, and the clock once in a while.

    ``records[i]`` is record number ``first_n + i`` of the run (0, 1, 2, ... in emission order):
    the record's identity, which the sinks put in its payload (``n``).
    """

    async def publish(self, records: Sequence[Record], first_n: int | None = None) -> None: ...
    async def set_clock(self, sim_time: float, speed: float, lag_s: float) -> None: ...


@dataclass(slots=True)
class LiveStats:
    """How the run keeps up with the clock."""

    records: int = 0
    flushes: int = 0
    lag_s: float = 0.0  # lateness of the oldest record of the last flush, wall seconds
    max_lag_s: float = 0.0
    commands: int = 0
    undelivered: int = 0  # MQTT messages still held when the shutdown drain gave up
    gave_up: bool = False  # the drain stopped at a second stop signal, not at its timeout


class LiveRunner:
    """Runs one model against a ``PacedClock``; implements ``commands.CommandHandler``."""

    def __init__(
        self,
        make_model: Callable[[Emit], LiveModel],
        clock: PacedClock,
        sinks: Sequence[RecordSink] = (),
        *,
        slice_wall_s: float = 0.05,
        clock_interval_s: float = 0.5,
        max_batch: int = 2000,
        max_span_s: float = 60.0,
    ) -> None:
        self._pending: list[Record] = []
        self._next_n = 0  # the number of the next record handed to the sinks
        self.model = make_model(self._pending.append)
        self.clock = clock
        self.sinks = list(sinks)
        self.stats = LiveStats()
        self._slice_wall_s = slice_wall_s
        self._clock_interval_s = clock_interval_s
        self._max_batch = max_batch
        self._max_span_s = max_span_s
        self._span = 1.0  # simulated seconds per slice; adapts to the record rate
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._next_clock = 0.0  # event-loop time of the next clock update of the sinks
        self.notice = ""  # the latest thing an operator should know (OPC UA Simulator.Notice)
        self._stop = False
        self._until = math.inf
        self._t0 = 0.0
        self.done = asyncio.Event()  # set when the run has finished (RunEnd published)

    def stop(self) -> None:
        """Ask ``run`` to finish the run now (emits RunEnd and returns)."""
        self._stop = True
        self._wake.set()

    async def run(self, until_s: float | None = None) -> LiveStats:
        """Run until simulation time ``until_s`` (``None``: until ``stop()``); then finish."""
        self._until = math.inf if until_s is None else float(until_s)
        self._t0 = self.model.now
        self.clock.restart(self._t0)
        await self._flush()
        while not self._stop:
            await self._advance()
            if self.model.now >= self._until:
                break
            await self._clock_due()
            due = min(self.model.peek(), self._until)
            wait = min(self.clock.wait_s(due), self._clock_interval_s)
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            else:
                await asyncio.sleep(0)
            self._wake.clear()
        async with self._lock:
            self.model.finish()
            await self._flush()
        await self._set_clock()
        self.done.set()
        return self.stats

    async def execute(self, command: cmds.Command) -> str:
        """Carry out a command at the current clock time (``commands.CommandHandler``)."""
        await self._advance(max_slices=3)  # catch up if nearly there; if behind, act at now
        async with self._lock:
            text = self._apply(command)
            await self._flush()
        self.stats.commands += 1
        self._wake.set()
        logger.info("command: %s", text)
        return text

    def _apply(self, command: cmds.Command) -> str:
        if isinstance(command, cmds.SetSpeed):
            behind_s = max(0.0, self.clock.target() - self.model.now)  # simulated seconds
            self.clock.set_speed(command.speed)
            text = f"speed factor set to {command.speed:g}"
            if behind_s > command.speed:  # more than a wall second behind at the new speed
                text += (
                    f"; the run is {behind_s:,.0f} simulated s behind the clock and catches "
                    f"them up as fast as it can (a jump of {behind_s:,.0f} s)"
                )
                logger.warning("%s", text)
            self.notice = text
            return text
        try:
            if isinstance(command, cmds.InjectFailure):
                self.model.inject_failure(command.station, command.duration_s, command.reason)
                return (
                    f"failure injected at {command.station} for {command.duration_s:g} s "
                    f"at t={self.model.now:.3f}"
                )
            self.model.clear_failure(command.station)
        except ValueError as exc:
            raise cmds.CommandError(str(exc)) from exc
        return f"failure cleared at {command.station} at t={self.model.now:.3f}"

    async def _advance(self, max_slices: int | None = None) -> None:
        """Run the model up to the clock's target, slice by slice, flushing after each slice.

        A slice covers at most ``slice_wall_s`` of wall time at the current speed and is halved
        while it yields more than ``max_batch`` records, so no flush gets huge. The lock is
        taken per slice, so commands get in between even while the run is behind the clock.
        """
        target = min(self.clock.target(), self._until)
        slices = 0
        while self.model.now < target and not self._stop:
            async with self._lock:
                span = min(self._span, max(self.clock.speed * self._slice_wall_s, 1e-6))
                self.model.run(min(target, self.model.now + span))
                n = len(self._pending)
                if n > self._max_batch:
                    self._span = max(span / 2, 1e-3)
                elif n < self._max_batch // 4:
                    self._span = min(span * 2, self._max_span_s)
                await self._flush()
            await asyncio.sleep(0)  # let servers, clients and commands run
            await self._clock_due()  # also while behind: the lag must be visible as it grows
            slices += 1
            if max_slices is not None and slices >= max_slices:
                return

    async def _flush(self) -> None:
        if not self._pending:
            return
        batch = self._pending[:]
        self._pending.clear()
        first_n, self._next_n = self._next_n, self._next_n + len(batch)
        for sink in self.sinks:
            await sink.publish(batch, first_n)
        lag = self.clock.lag_s(max(batch[0].t, self._t0))
        st = self.stats
        st.records += len(batch)
        st.flushes += 1
        st.lag_s = lag
        st.max_lag_s = max(st.max_lag_s, lag)

    async def _clock_due(self) -> None:
        """Update the sinks' clock variables once per ``clock_interval_s``."""
        now = asyncio.get_running_loop().time()
        if now >= self._next_clock:
            self._next_clock = now + self._clock_interval_s
            await self._set_clock()

    async def _set_clock(self) -> None:
        for sink in self.sinks:
            await sink.set_clock(self.model.now, self.clock.speed, self.stats.lag_s)
