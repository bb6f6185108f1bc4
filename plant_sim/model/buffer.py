"""Buffers that report their level: a finite FIFO between stations, and a release queue.

Both hand a part over at once when they can (no SimPy event is created then) and only create
one when a station must wait, which keeps the common case cheap. The release queue holds lots,
not parts: a part is made when the first station takes it, so a backlog costs memory per order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from heapq import heappop, heappush, heapreplace
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import Event

from plant_sim.model.station import Part
from plant_sim.records import BufferLevel, Emit

if TYPE_CHECKING:
    from plant_sim.model.station import Station


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


@dataclass(slots=True)
class Lot:
    """Released parts of one order not yet taken, made one by one as they are taken.

    Part ``index`` (of ``index`` to ``end - 1``) has priority key ``(primary, seq, index)``
    and the id ``prefix + str(serial)``; both count up as parts are taken.
    """

    prefix: str  # the line's id and "-"
    product: str
    order_id: str | None
    primary: float
    seq: int
    index: int
    end: int
    serial: int  # the serial number (on the line) of part ``index``
    ends_lot: bool = False  # the last part's start releases the order's next lot


class ReleaseQueue:
    """Released parts waiting for the first station, lowest priority key first.

    Held as one heap entry per lot, keyed by the lot's next part; ``parts`` counts the parts.
    An entry keeps its insertion count as its lot is taken, so at equal keys an earlier lot
    still comes first: the order of parts queued one by one.
    """

    def __init__(
        self, env: simpy.Environment, line: str, emit: Emit, name: str = "release"
    ) -> None:
        self.env, self.line, self.name, self._emit = env, line, name, emit
        self.items: list[tuple[tuple[float, int, int], int, Lot]] = []
        self.parts = 0
        self._getters: deque[Event] = deque()
        self._count = 0

    def put(self, lot: Lot) -> None:
        """Add a lot, ranked by its next part's key; waiting stations are served first."""
        if lot.index < lot.end:
            self._count += 1
            heappush(self.items, ((lot.primary, lot.seq, lot.index), self._count, lot))
            self.parts += lot.end - lot.index
        getters = self._getters
        while getters and self.parts:
            getters.popleft().succeed(self._pop())
        self._report()

    def take(self) -> Part | None:
        """Remove and return the part with the lowest key, or None when empty."""
        if not self.parts:
            return None
        part = self._pop()
        self._emit(BufferLevel(self.env.now, self.line, self.name, self.parts, None))
        return part

    def _pop(self) -> Part:
        """Make the part with the lowest key and take it out of its lot."""
        items = self.items
        key, count, lot = items[0]
        index = lot.index + 1
        part = Part(lot.prefix + str(lot.serial), lot.product, lot.order_id, key)
        if index == lot.end:
            part.ends_lot = lot.ends_lot
            heappop(items)
        else:
            lot.index, lot.serial = index, lot.serial + 1
            heapreplace(items, ((lot.primary, lot.seq, index), count, lot))
        self.parts -= 1
        return part

    def wait_take(self) -> Event:
        """An event that fires with the next released part."""
        event = Event(self.env)
        self._getters.append(event)
        return event

    def _report(self) -> None:
        self._emit(BufferLevel(self.env.now, self.line, self.name, self.parts, None))
