"""Station process: take a part, set up, process (with failures and minor stops), hand it on.

Pure SimPy: the station emits records through the injected ``emit`` and never does I/O.
Failures and minor stops strike after an amount of *operating* time (processing and setup),
tracked as countdowns rather than by a second process, so no time is spent on interrupts in the
common case. Calendar pauses suspend whatever the station is doing and resume it afterwards.
An injected failure arrives as a SimPy ``Interrupt`` and is served at once (or after a pause).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import simpy

from plant_sim.calendar import CalendarCursor, Pause
from plant_sim.distributions import Sampler
from plant_sim.records import Emit, PartDone, StateChange
from plant_sim.states import StationState

Proc = Generator[Any, Any, Any]
S = StationState


@dataclass(slots=True)
class Part:
    """A unit of product travelling down a line."""

    id: str
    product: str
    order_id: str | None
    key: tuple[float, int, int]  # release priority
    released_at: float = 0.0
    ends_lot: bool = False  # its start releases the order's next lot


@dataclass(slots=True)
class StopMode:
    """A failure mode or the minor stops: countdown on operating time, and a duration."""

    name: str
    state: StationState
    time_between: Sampler
    duration: Sampler
    left: float = 0.0


@dataclass(slots=True)
class StationBehaviour:
    """What a station does, resolved from its spec into samplers and numbers."""

    cycle: dict[str, Sampler]
    planned_cycle: dict[str, float]
    setup: Sampler | None
    rework_time: dict[str, Sampler]
    stops: list[StopMode]
    scrap: float
    rework: float
    judge: random.Random
    power: dict[StationState, float]


@dataclass(slots=True)
class Hooks:
    """How a station gets parts and passes them on; the line wires these."""

    take: Callable[[Station], Proc]  # generator returning a Part
    hand_over: Callable[[Station, Part], Proc]
    scrapped: Callable[[Station, Part], None]


@dataclass(slots=True)
class _Injected:
    reason: str
    duration: float


@dataclass
class Station:
    """One work unit: a SimPy process running the state machine of ``StationState``."""

    env: simpy.Environment
    line: str
    id: str
    behaviour: StationBehaviour
    calendar: CalendarCursor
    emit: Emit
    hooks: Hooks
    state: StationState | None = None
    reason: str | None = None
    product: str | None = None
    speed: float = 1.0
    energy_kwh: float = 0.0
    since: float = 0.0
    temperature_c: float = 22.0
    holding: Part | None = None  # the part in the station (processing or blocked)
    _pending: list[_Injected] = field(default_factory=list)
    _waiting: bool = False
    _clear_requested: bool = False
    process: simpy.Process | None = None

    def start(self) -> None:
        """Start the station's process."""
        for mode in self.behaviour.stops:
            mode.left = mode.time_between()
        self.process = self.env.process(self.run())
        self.env.process(self.watch_calendar(self.calendar.upcoming()))

    # -- the main loop -------------------------------------------------------------------------

    def run(self) -> Proc:
        """Take, set up, process, judge and hand over parts, forever."""
        b = self.behaviour
        while True:
            part: Part = yield from self.hooks.take(self)
            self.holding = part
            if part.product != self.product:
                if self.product is not None and b.setup is not None:
                    yield from self.spend(S.SETUP, part.product, b.setup(), operating=True)
                self.product = part.product
            started = self.env.now
            duration = b.cycle[part.product]() / self.speed
            yield from self.spend(S.PROCESSING, None, duration, operating=True)
            result = self._judge()
            self.emit(
                PartDone(
                    self.env.now,
                    self.line,
                    self.id,
                    part.id,
                    part.product,
                    part.order_id,
                    result,
                    self.env.now - started,
                    b.planned_cycle[part.product],
                )
            )
            if result == "scrap":
                self.holding = None
                self.hooks.scrapped(self, part)
                continue
            if result == "rework":
                rework = b.rework_time[part.product]() / self.speed
                yield from self.spend(S.PROCESSING, "rework", rework, operating=True)
            yield from self.hooks.hand_over(self, part)
            self.holding = None

    def _judge(self) -> str:
        b = self.behaviour
        if b.scrap == 0.0 and b.rework == 0.0:
            return "good"
        u = b.judge.random()
        if u < b.scrap:
            return "scrap"
        if u < b.scrap + b.rework:
            return "rework"
        return "good"

    # -- time-consuming primitives -------------------------------------------------------------

    def set_state(self, state: StationState, reason: str | None) -> None:
        """Enter ``state`` (emits a StateChange only when something changed)."""
        if state is self.state and reason == self.reason:
            return
        now = self.env.now
        if self.state is not None:
            self.energy_kwh += self.behaviour.power[self.state] * (now - self.since) / 3600.0
        self.state, self.reason, self.since = state, reason, now
        self.emit(
            StateChange(
                now, self.line, self.id, state, reason, self.behaviour.power[state], self.product
            )
        )

    def spend(
        self, state: StationState, reason: str | None, duration: float, operating: bool
    ) -> Proc:
        """Spend ``duration`` seconds of working time in ``state``.

        While ``operating``, failure and minor-stop countdowns run and may interrupt the work;
        calendar pauses and injected failures suspend it. The work resumes where it stopped.
        """
        env = self.env
        remaining = duration
        self.set_state(state, reason)
        while True:
            step, hit, paused = self._next_step(remaining, operating)
            if step > 0.0:
                began = env.now
                try:
                    yield env.timeout(step)
                except simpy.Interrupt as irq:
                    step, hit, paused = env.now - began, None, False
                    self._on_interrupt(irq)
            remaining -= step
            if operating:
                for mode in self.behaviour.stops:
                    mode.left -= step
            if hit is not None:
                hit.left = hit.time_between()
                yield from self.spend(hit.state, hit.name, hit.duration(), operating=False)
            elif paused:
                yield from self._sit_out_pause()
            if self._pending:
                yield from self._serve_injected()
            if remaining <= 0.0 or (state is S.DOWN and self._take_clear()):
                return
            self.set_state(state, reason)

    def _next_step(self, remaining: float, operating: bool) -> tuple[float, StopMode | None, bool]:
        """How long to work before something happens: (step, stop that strikes, pause begins)."""
        step, hit = remaining, None
        if operating:
            for mode in self.behaviour.stops:
                if mode.left < step:
                    step, hit = mode.left, mode
        work_left = self.calendar.work_left(self.env.now)
        if work_left < step:
            return work_left, None, True
        return step, hit, False

    def wait_for(self, event: simpy.Event, state: StationState, reason: str | None) -> Proc:
        """Wait in ``state`` until ``event`` fires; pauses and injected failures intervene."""
        env = self.env
        while not event.triggered:
            if self.calendar.work_left(env.now) <= 0.0:
                yield from self._sit_out_pause()
                continue
            self.set_state(state, reason)
            self._waiting = True
            try:
                yield event
            except simpy.Interrupt as irq:
                self._on_interrupt(irq)
            finally:
                self._waiting = False
            if self._pending:
                yield from self._serve_injected()
        return event.value

    def watch_calendar(self, pauses: Iterator[Pause]) -> Proc:
        """Wake the station when a pause begins while it waits for parts or space.

        Work in progress checks the calendar itself (``_next_step``); only a waiting station
        needs waking, so one timeout per pause replaces a timeout per wait.
        """
        env = self.env
        for pause in pauses:
            if pause.start > env.now:
                yield env.timeout(pause.start - env.now)
            if self._waiting and self.process is not None:
                self.process.interrupt(("pause",))

    def _sit_out_pause(self) -> Proc:
        """Stay in the calendar's pause state until the station may work again."""
        env = self.env
        while (pause := self.calendar.pause_at(env.now)) is not None:
            self.set_state(pause.state, pause.reason)
            try:
                yield env.timeout(pause.end - env.now)
            except simpy.Interrupt as irq:
                self._on_interrupt(irq)

    def _serve_injected(self) -> Proc:
        while self._pending:
            injected = self._pending.pop(0)
            self._clear_requested = False
            yield from self.spend(S.DOWN, injected.reason, injected.duration, operating=False)

    def _on_interrupt(self, irq: simpy.Interrupt) -> None:
        kind, *args = irq.cause
        if kind == "fail":
            self._pending.append(_Injected(args[0], args[1]))
        elif kind == "clear":
            self._pending.clear()
            self._clear_requested = True

    def _take_clear(self) -> bool:
        requested, self._clear_requested = self._clear_requested, False
        return requested

    # -- commands from outside (live twin) -----------------------------------------------------

    def inject_failure(self, duration_s: float, reason: str) -> None:
        """Break the station now for ``duration_s`` seconds of working time."""
        if self.process is not None and self.process.is_alive:
            self.process.interrupt(("fail", reason, duration_s))

    def clear_failure(self) -> None:
        """End an injected failure now (and drop injected failures not yet served)."""
        if self.process is not None and self.process.is_alive:
            self.process.interrupt(("clear",))

    def energy_now(self) -> float:
        """Cumulative energy in kWh up to now."""
        if self.state is None:
            return self.energy_kwh
        return (
            self.energy_kwh
            + self.behaviour.power[self.state] * (self.env.now - self.since) / 3600.0
        )
