"""Buffers that report their level: a finite FIFO between stations, and a release queue.

Both hand a part over at once when they can (no SimPy event is created then) and only create
one when a station must wait, which keeps the common case cheap.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import Event

from plant_sim.records import BufferLevel, Emit

if TYPE_CHECKING:
    from plant_sim.model.station import Part, Station


class Buffer:
    """A finite FIFO of parts between two stations (blocking after service)."""

    def __init__(
        self, env: simpy.Environment, line: str, name: str, capacity: int, emit: Emit
    ) -> None:
        self.env, self.line, self.name, self.capacity, self._emit = env, line, name, capacity, emit
        self.items: deque[Any] = deque()
        self._getters: deque[Event] = deque()
        self._putters: deque[tuple[Event, Any]] = deque()

    def take_or_wait(self, station: Station) -> Any:
        """The first part, removed; when empty, an event that fires with the next part.

        This is the ``take`` hook of the station after the buffer (which it does not need).
        """
        items = self.items
        if not items:
            event = Event(self.env)
            self._getters.append(event)
            return event
        part = items.popleft()
        if self._putters:  # a blocked upstream station can put its part down now
            event, waiting = self._putters.popleft()
            items.append(waiting)
            event.succeed()
        else:
            self._emit(BufferLevel(self.env.now, self.line, self.name, len(items), self.capacity))
        return part

    def offer_or_wait(self, station: Station, part: Any) -> Event | None:
        """Put ``part`` in (or hand it to a waiting station) and return None; when the buffer
        is full, an event that fires once ``part`` is in.

        This is the ``hand_over`` hook of the station before the buffer (which it does not need).
        """
        getters = self._getters
        if getters:
            getters.popleft().succeed(part)
            return None
        items = self.items
        if len(items) >= self.capacity:
            event = Event(self.env)
            self._putters.append((event, part))
            return event
        items.append(part)
        self._emit(BufferLevel(self.env.now, self.line, self.name, len(items), self.capacity))
        return None


class ReleaseQueue:
    """Released parts waiting for the first station, lowest priority key first."""

    def __init__(
        self, env: simpy.Environment, line: str, emit: Emit, name: str = "release"
    ) -> None:
        self.env, self.line, self.name, self._emit = env, line, name, emit
        self.items: list[tuple[tuple[float, int, int], int, Any]] = []
        self._getters: deque[Event] = deque()
        self._count = 0

    def put_many(self, parts: list[Part]) -> None:
        """Add parts, ranked by their priority ``key``; waiting stations are served first."""
        items, count, push = self.items, self._count, heapq.heappush
        for part in parts:
            count += 1
            push(items, (part.key, count, part))
        self._count = count
        getters = self._getters
        while getters and items:
            getters.popleft().succeed(heapq.heappop(items)[2])
        self._report()

    def take(self) -> Any | None:
        """Remove and return the part with the lowest key, or None when empty."""
        items = self.items
        if not items:
            return None
        part = heapq.heappop(items)[2]
        self._emit(BufferLevel(self.env.now, self.line, self.name, len(items), None))
        return part

    def wait_take(self) -> Event:
        """An event that fires with the next released part."""
        event = Event(self.env)
        self._getters.append(event)
        return event

    def _report(self) -> None:
        self._emit(BufferLevel(self.env.now, self.line, self.name, len(self.items), None))
