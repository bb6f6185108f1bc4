"""Buffers that report their level: a finite store between stations, and a release queue."""

from __future__ import annotations

from typing import Any

import simpy

from plant_sim.records import BufferLevel, Emit


class ObservedBuffer(simpy.Store):
    """A FIFO store of parts that emits a BufferLevel record whenever its level changes."""

    def __init__(
        self, env: simpy.Environment, line: str, name: str, capacity: float, emit: Emit
    ) -> None:
        super().__init__(env, capacity)
        self.line, self.name, self._emit = line, name, emit
        self._reported_capacity = None if capacity == float("inf") else int(capacity)

    def _report(self) -> None:
        self._emit(
            BufferLevel(
                self._env.now, self.line, self.name, len(self.items), self._reported_capacity
            )
        )

    def _do_put(self, event: Any) -> bool | None:
        proceed = super()._do_put(event)
        if event.triggered:
            self._report()
        return proceed

    def _do_get(self, event: Any) -> bool | None:
        proceed = super()._do_get(event)
        if event.triggered:
            self._report()
        return proceed


class ObservedPriorityBuffer(simpy.PriorityStore):
    """A priority queue of released parts (lowest key first) that reports its level."""

    def __init__(self, env: simpy.Environment, line: str, name: str, emit: Emit) -> None:
        super().__init__(env)
        self.line, self.name, self._emit = line, name, emit

    def _report(self) -> None:
        self._emit(BufferLevel(self._env.now, self.line, self.name, len(self.items), None))

    def _do_put(self, event: Any) -> bool | None:
        proceed = super()._do_put(event)
        if event.triggered:
            self._report()
        return proceed

    def _do_get(self, event: Any) -> bool | None:
        proceed = super()._do_get(event)
        if event.triggered:
            self._report()
        return proceed
