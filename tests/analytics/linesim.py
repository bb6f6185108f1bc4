"""A tiny deterministic serial line in SimPy that emits the project's records (tests only).

Stations take parts from the buffer before them (the first from an endless raw supply),
process them for a fixed cycle time, may fail every N parts for a fixed repair time, and put
them into the buffer after them (the last one ships them). It is just enough of a model to give
the bottleneck and flow analyses logs whose answer is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from plant_sim.records import (
    PartDone,
    PartLeft,
    PartReleased,
    Record,
    RunEnd,
    RunStart,
    StateChange,
)
from plant_sim.states import StationState as S


@dataclass(frozen=True)
class StationSpec:
    """Cycle time, and optionally a failure every ``fail_every`` parts lasting ``repair_s``."""

    cycle_s: float
    fail_every: int = 0
    repair_s: float = 0.0
    fail_offset: int = 0


def simulate_line(
    specs: list[StationSpec], until_s: float, buffer_cap: int = 2, line: str = "L"
) -> list[Record]:
    """Run the line for ``until_s`` seconds and return its records in time order."""
    env = simpy.Environment()
    out: list[Record] = []
    names = [f"{line}-s{i + 1}" for i in range(len(specs))]
    bufs = [simpy.Store(env, capacity=buffer_cap) for _ in specs[:-1]]
    released: dict[str, float] = {}
    out.append(
        RunStart(
            0.0,
            "sim",
            "linesim",
            0,
            0,
            until_s,
            "acme",
            "p",
            "a",
            [{"line": line, "stations": names, "buffers": []}],
        )
    )

    def station(i: int):
        spec, name = specs[i], names[i]
        current = None
        count = 0

        def emit(state: S, reason: str | None = None) -> None:
            nonlocal current
            if state != current:
                out.append(StateChange(env.now, line, name, state, reason, 1.0))
                current = state

        while True:
            if i == 0:
                part = f"{line}-p{count + 1}"
                released[part] = env.now
                out.append(PartReleased(env.now, line, part, "A", None))
            else:
                if not bufs[i - 1].items:
                    emit(S.STARVED)
                part = yield bufs[i - 1].get()
            count += 1
            if spec.fail_every and (count + spec.fail_offset) % spec.fail_every == 0:
                emit(S.DOWN, "fault")
                yield env.timeout(spec.repair_s)
            emit(S.PROCESSING)
            yield env.timeout(spec.cycle_s)
            out.append(
                PartDone(env.now, line, name, part, "A", None, "good", spec.cycle_s, spec.cycle_s)
            )
            if i == len(specs) - 1:
                out.append(
                    PartLeft(
                        env.now, line, part, "A", None, "finished", env.now - released.pop(part)
                    )
                )
                continue
            if len(bufs[i].items) >= bufs[i].capacity:
                emit(S.BLOCKED)
            yield bufs[i].put(part)

    for i in range(len(specs)):
        env.process(station(i))
    env.run(until=until_s)
    out.append(RunEnd(until_s))
    return out
