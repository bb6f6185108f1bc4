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
from simpy.events import Event

from plant_sim.calendar import Pause, PauseCursor
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
    """How a station gets parts and passes them on; the line wires these.

    Each returns at once what the station is to do next. ``take``: the Part, when one is
    ready; a bare ``simpy.Event`` whose value will be the part, to wait for in ``waits_as``
    (state and reason; STARVED "upstream" unless given); or a generator to ``yield from``
    that returns the part. A part that came through a bare event goes through ``received``
    (when given), which returns the part or a generator that returns it.
    ``hand_over``: None once the part is passed on; a bare ``simpy.Event`` that fires once it
    is, to wait for as BLOCKED (reason "downstream"); or a generator to ``yield from``.
    """

    take: Callable[[Station], Part | simpy.Event | Proc]
    hand_over: Callable[[Station, Part], simpy.Event | Proc | None]
    scrapped: Callable[[Station, Part], None]
    waits_as: tuple[StationState, str] = (S.STARVED, "upstream")
    received: Callable[[Station, Part], Part | Proc] | None = None


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
    calendar: PauseCursor
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

    def run(self) -> Proc:  # noqa: C901 - the hot loop, inlined on purpose
        """Take, set up, process, judge and hand over parts, forever.

        The common processing step (no stop strikes and no pause begins before it ends) is
        spent here with one timeout; anything else goes through ``spend``, which does the same.
        """
        b = self.behaviour
        env = self.env
        emit = self.emit
        take, hand_over = self.hooks.take, self.hooks.hand_over
        waiting, why = self.hooks.waits_as
        received = self.hooks.received
        stops = b.stops
        cursor = self.calendar
        line, sid = self.line, self.id
        per_product = {p: (b.cycle[p], b.planned_cycle[p]) for p in b.cycle}
        scrap, rework = b.scrap, b.rework
        judge = b.judge.random if scrap != 0.0 or rework != 0.0 else None
        scrap_or_rework = scrap + rework
        timeout = env.timeout
        processing, blocked = S.PROCESSING, S.BLOCKED
        while True:
            got = take(self)
            if got.__class__ is Part:
                part = got
            elif got.__class__ is Event:
                # wait_for(got, waiting, why), the common case inline
                if got.triggered or not env.now < cursor.next_start:
                    part = yield from self.wait_for(got, waiting, why)
                else:
                    self.set_state(waiting, why)
                    self._waiting = True
                    try:
                        part = yield got
                    except simpy.Interrupt as irq:
                        part = yield from self._wait_interrupted(got, waiting, why, irq)
                    else:
                        self._waiting = False
                        if self._pending:
                            yield from self._serve_injected()
                if received is not None:
                    got = received(self, part)
                    part = got if got.__class__ is Part else (yield from got)
            else:
                part = yield from got  # type: ignore[misc]
            self.holding = part
            product = part.product
            if product != self.product:
                if self.product is not None and b.setup is not None:
                    yield from self.spend(S.SETUP, product, b.setup(), operating=True)
                self.product = product
            cycle, planned = per_product[product]
            started = env.now
            duration = cycle() / self.speed
            # spend(PROCESSING, None, duration, operating=True), the common case inline
            if self.state is not processing or self.reason is not None:
                self.set_state(processing, None)
            step, hit = duration, None
            for mode in stops:
                if mode.left < step:
                    step, hit = mode.left, mode
            next_pause = cursor.next_start
            work_left = next_pause - started if started < next_pause else cursor.work_left(started)
            if hit is None and step > 0.0 and not work_left < step:
                try:
                    yield timeout(step)
                except simpy.Interrupt as irq:
                    yield from self._interrupted(processing, None, duration, started, True, irq)
                else:
                    for mode in stops:
                        mode.left -= step
                    if self._pending:
                        yield from self._serve_injected()
            else:
                yield from self._spend_steps(processing, None, duration, True)
            now = env.now
            if judge is None:
                result = "good"
            else:
                u = judge()
                result = "scrap" if u < scrap else "rework" if u < scrap_or_rework else "good"
            emit(
                PartDone(
                    now,
                    line,
                    sid,
                    part.id,
                    product,
                    part.order_id,
                    result,
                    now - started,
                    planned,
                )
            )
            if result == "scrap":
                self.holding = None
                self.hooks.scrapped(self, part)
                continue
            if result == "rework":
                rework_s = b.rework_time[product]() / self.speed
                yield from self.spend(processing, "rework", rework_s, operating=True)
            got = hand_over(self, part)
            if got.__class__ is Event:
                # wait_for(got, blocked, "downstream"), the common case inline
                if got.triggered or not env.now < cursor.next_start:
                    yield from self.wait_for(got, blocked, "downstream")
                else:
                    self.set_state(blocked, "downstream")
                    self._waiting = True
                    try:
                        yield got
                    except simpy.Interrupt as irq:
                        yield from self._wait_interrupted(got, blocked, "downstream", irq)
                    else:
                        self._waiting = False
                        if self._pending:
                            yield from self._serve_injected()
            elif got is not None:
                yield from got  # type: ignore[misc]
            self.holding = None

    # -- time-consuming primitives -------------------------------------------------------------

    def set_state(self, state: StationState, reason: str | None) -> None:
        """Enter ``state`` (emits a StateChange only when something changed)."""
        previous = self.state
        if state is previous and reason == self.reason:
            return
        now = self.env.now
        power = self.behaviour.power
        if previous is not None:
            self.energy_kwh += power[previous] * (now - self.since) / 3600.0
        self.state, self.reason, self.since = state, reason, now
        self.emit(StateChange(now, self.line, self.id, state, reason, power[state], self.product))

    def spend(
        self, state: StationState, reason: str | None, duration: float, operating: bool
    ) -> Proc:
        """Spend ``duration`` seconds of working time in ``state``.

        While ``operating``, failure and minor-stop countdowns run and may interrupt the work;
        calendar pauses and injected failures suspend it. The work resumes where it stopped.
        """
        self.set_state(state, reason)
        yield from self._spend_steps(state, reason, duration, operating)

    def _spend_steps(
        self, state: StationState, reason: str | None, remaining: float, operating: bool
    ) -> Proc:
        """The steps of ``spend`` once ``state`` is entered."""
        env = self.env
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

    def _interrupted(
        self,
        state: StationState,
        reason: str | None,
        remaining: float,
        began: float,
        operating: bool,
        irq: simpy.Interrupt,
    ) -> Proc:
        """Go on with ``spend`` after an interrupt cut a step that began at ``began``."""
        step = self.env.now - began
        self._on_interrupt(irq)
        remaining -= step
        if operating:
            for mode in self.behaviour.stops:
                mode.left -= step
        if self._pending:
            yield from self._serve_injected()
        if remaining <= 0.0 or (state is S.DOWN and self._take_clear()):
            return
        self.set_state(state, reason)
        yield from self._spend_steps(state, reason, remaining, operating)

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

    def _wait_interrupted(
        self, event: simpy.Event, state: StationState, reason: str | None, irq: simpy.Interrupt
    ) -> Proc:
        """Go on with ``wait_for`` after an interrupt cut the wait for ``event``."""
        self._on_interrupt(irq)
        self._waiting = False
        if self._pending:
            yield from self._serve_injected()
        return (yield from self.wait_for(event, state, reason))

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
