"""Buffers that report their level: a finite FIFO between stations, and a release queue.

Both hand a part over at once when they can (``take``/``offer`` return without creating an
event) and only create a SimPy event when a station must wait, which keeps the common case cheap.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

import simpy

from plant_sim.records import BufferLevel, Emit


class Buffer:
    """A finite FIFO of parts between two stations (blocking after service)."""

    def __init__(
        self, env: simpy.Environment, line: str, name: str, capacity: int, emit: Emit
    ) -> None:
        self.env, self.line, self.name, self.capacity, self._emit = env, line, name, capacity, emit
        self.items: deque[Any] = deque()
        self._getters: deque[simpy.Event] = deque()
        self._putters: deque[tuple[simpy.Event, Any]] = deque()

    def take(self) -> Any | None:
        """Remove and return the first part, or None when empty."""
        if not self.items:
            return None
        items = self.items
        part = items.popleft()
        if self._putters:  # a blocked upstream station can put its part down now
            event, waiting = self._putters.popleft()
            items.append(waiting)
            event.succeed()
        else:
            self._report()
        return part

    def wait_take(self) -> simpy.Event:
        """An event that fires with the next part (call after ``take`` returned None)."""
        event = simpy.Event(self.env)
        self._getters.append(event)
        return event

    def offer(self, part: Any) -> bool:
        """Put ``part`` in (or hand it to a waiting station); False when the buffer is full."""
        if self._getters:
            self._getters.popleft().succeed(part)
            return True
        items = self.items
        if len(items) >= self.capacity:
            return False
        items.append(part)
        self._report()
        return True

    def wait_offer(self, part: Any) -> simpy.Event:
        """An event that fires once ``part`` is in (call after ``offer`` returned False)."""
        event = simpy.Event(self.env)
        self._putters.append((event, part))
        return event

    def _report(self) -> None:
        self._emit(BufferLevel(self.env.now, self.line, self.name, len(self.items), self.capacity))


class ReleaseQueue:
    """Released parts waiting for the first station, lowest priority key first."""

    def __init__(
        self, env: simpy.Environment, line: str, emit: Emit, name: str = "release"
    ) -> None:
        self.env, self.line, self.name, self._emit = env, line, name, emit
        self.items: list[tuple[tuple[float, int, int], int, Any]] = []
        self._getters: deque[simpy.Event] = deque()
        self._count = 0

    def put_many(self, keyed_parts: list[tuple[tuple[float, int, int], Any]]) -> None:
        """Add parts with their priority keys; waiting stations are served first."""
        for key, part in keyed_parts:
            self._count += 1
            heapq.heappush(self.items, (key, self._count, part))
        while self._getters and self.items:
            self._getters.popleft().succeed(heapq.heappop(self.items)[2])
        self._report()

    def take(self) -> Any | None:
        """Remove and return the part with the lowest key, or None when empty."""
        if not self.items:
            return None
        part = heapq.heappop(self.items)[2]
        self._report()
        return part

    def wait_take(self) -> simpy.Event:
        """An event that fires with the next released part."""
        event = simpy.Event(self.env)
        self._getters.append(event)
        return event

    def _report(self) -> None:
        self._emit(BufferLevel(self.env.now, self.line, self.name, len(self.items), None))
