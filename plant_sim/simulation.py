"""Drive the plant model: batch runs, stepwise runs for the paced clock, and commands.

``Simulation`` owns the SimPy environment and hands every record to the ``emit`` it is given.
It reads no wall clock: ``start_epoch_ms`` comes from the scenario unless the caller passes one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import simpy

from plant_sim import naming
from plant_sim.gc_pause import no_gc
from plant_sim.model.plant import build_plant
from plant_sim.random_streams import RandomStreams
from plant_sim.records import Emit, Record, RunEnd, RunStart
from plant_sim.scenario import Scenario

if TYPE_CHECKING:
    from plant_sim.eventlog import EventLog


class Simulation:
    """One run of a scenario with one seed."""

    def __init__(
        self,
        scenario: Scenario,
        emit: Emit,
        seed: int | None = None,
        run_id: str | None = None,
        start_epoch_ms: int | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.run_id = naming.check_name(run_id or f"{scenario.name}-s{self.seed}", "run_id")
        self.start_epoch_ms = (
            round(scenario.start_time.timestamp() * 1000)
            if start_epoch_ms is None
            else start_epoch_ms
        )
        self._emit = emit
        # A float clock from the start: SimPy's default 0 (an int) gave the records at t = 0
        # an int time, written "t":0 in JSON Lines and read back from Parquet as 0.0.
        self.env = simpy.Environment(initial_time=0.0)
        self.finished = False
        emit(
            RunStart(
                0.0,
                self.run_id,
                scenario.name,
                self.seed,
                self.start_epoch_ms,
                None,
                scenario.enterprise,
                scenario.site,
                scenario.area,
                [
                    {
                        "line": line.id,
                        "stations": [s.id for s in line.stations],
                        "buffers": [b.id for b in line.buffers],
                    }
                    for line in scenario.lines
                ],
            )
        )
        self.plant = build_plant(self.env, scenario, RandomStreams(self.seed), emit)

    @property
    def now(self) -> float:
        """Current simulation time in seconds."""
        return float(self.env.now)

    def peek(self) -> float:
        """Time of the next scheduled event (``inf`` if none)."""
        return float(self.env.peek())

    def run(self, until_s: float) -> None:
        """Advance the model to ``until_s`` (seconds since start)."""
        if until_s > self.env.now:
            self.env.run(until=until_s)

    def run_with_progress(
        self, until_s: float, on_progress: Callable[[float], None], steps: int = 200
    ) -> None:
        """Advance to ``until_s`` in ``steps`` slices, calling ``on_progress(now)`` after each."""
        start = self.env.now
        for i in range(1, steps + 1):
            self.run(start + (until_s - start) * i / steps)
            on_progress(self.now)

    def finish(self) -> None:
        """Emit RunEnd at the current time; the run's intervals are closed there."""
        if not self.finished:
            self.finished = True
            self._emit(RunEnd(self.now))

    def station(self, station_id: str):
        """Return a station by id; ``ValueError`` naming it if there is none."""
        try:
            return self.plant.stations[station_id]
        except KeyError:
            known = ", ".join(self.plant.stations)
            raise ValueError(f"station {station_id!r} does not exist (known: {known})") from None

    def inject_failure(self, station_id: str, duration_s: float, reason: str = "injected") -> None:
        """Break ``station_id`` now for ``duration_s`` seconds of working time."""
        if not (duration_s > 0 and math.isfinite(duration_s)):
            raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
        self.station(station_id).inject_failure(float(duration_s), reason)

    def clear_failure(self, station_id: str) -> None:
        """End an injected failure of ``station_id`` now."""
        self.station(station_id).clear_failure()

    def set_station_speed(self, station_id: str, factor: float) -> None:
        """Run ``station_id``'s cycles ``factor`` times as fast (1 = nominal)."""
        if not (factor > 0 and math.isfinite(factor)):
            raise ValueError(f"speed factor must be positive, got {factor!r}")
        self.station(station_id).speed = float(factor)


def run_batch(
    scenario: Scenario,
    until_s: float | None = None,
    seed: int | None = None,
    emit: Emit | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> EventLog:
    """Run ``scenario`` headless to ``until_s`` (default: its horizon); return the event log.

    With ``emit`` given, records go there too (the log then still holds them all).
    """
    from plant_sim.eventlog import EventLog  # the streamed run (twin run) holds no log

    log = EventLog()
    sink: Callable[[Record], None] = log.records.append
    if emit is not None:

        def sink(record: Record) -> None:
            log.records.append(record)
            emit(record)

    sim = Simulation(scenario, sink, seed=seed)
    horizon = scenario.horizon if until_s is None else until_s
    with no_gc():
        if on_progress is None:
            sim.run(horizon)
        else:
            sim.run_with_progress(horizon, on_progress)
        sim.finish()
    return log


#: Simulated seconds per batch of a streaming run: an hour of the 30-station plant is about
#: 3,600 records, however long the run.
SLICE_S = 3600.0


def run_streaming(
    scenario: Scenario,
    consume: Callable[[list[Record]], None],
    until_s: float | None = None,
    seed: int | None = None,
    on_progress: Callable[[float], None] | None = None,
    slice_s: float = SLICE_S,
) -> int:
    """Run ``scenario`` headless, handing its records to ``consume`` one time slice at a time.

    Records of each ``slice_s`` of simulated time go to ``consume`` as one list, in emission
    order (the same records and order as ``run_batch``); none are kept after ``consume``
    returns, so memory does not grow with the horizon. Returns the number of records.
    """
    batch: list[Record] = []
    sim = Simulation(scenario, batch.append, seed=seed)
    horizon = scenario.horizon if until_s is None else until_s
    total = 0
    with no_gc():
        now = 0.0
        while True:
            now = min(now + slice_s, horizon)
            sim.run(now)
            if now >= horizon:
                sim.finish()
            total += len(batch)
            consume(batch.copy())
            batch.clear()
            if on_progress is not None:
                on_progress(sim.now)
            if now >= horizon:
                return total
