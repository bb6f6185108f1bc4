"""A production line: how its stations take parts, pass them on, and where parts leave.

The first station draws released parts (or, with no demand, makes parts without end: a saturated
line) and the raw material they consume; later stations draw from the buffer before them.
A part leaves at the last station (finished) or wherever it is scrapped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import simpy
from simpy.events import Event

from plant_sim.model.buffer import Buffer, ReleaseQueue
from plant_sim.model.station import Hooks, Part, Proc, Station
from plant_sim.model.supply import MaterialStock
from plant_sim.records import Emit, PartLeft, PartReleased
from plant_sim.states import StationState


@dataclass
class Line:
    """Stations joined by buffers, with the release queue and stock that feed them."""

    env: simpy.Environment
    id: str
    emit: Emit
    products: list[str]
    release: ReleaseQueue | None  # None: saturated line
    materials: dict[str, tuple[MaterialStock, float]]  # product -> (stock, units per part)
    wip_cap: simpy.Container | None
    stations: list[Station] = field(default_factory=list)
    buffers: list[Buffer] = field(default_factory=list)
    on_leave: Callable[[Part, str], None] = lambda part, outcome: None
    on_start: Callable[[Part], None] = lambda part: None
    _made: int = 0
    part_prefix: str = field(init=False)  # a part's id is this and its serial number

    def __post_init__(self) -> None:
        self.part_prefix = f"{self.id}-"

    def hooks_for(self, position: int) -> Hooks:
        """Return the take/hand-over hooks of the station at ``position``."""
        last = position == len(self.buffers)
        hand_over = self._leave if last else self._hand_to(position)
        if position == 0:
            take = self._next_released if self.wip_cap is None else self._take_released
            waits_as = (StationState.IDLE, "no_order")
            return Hooks(take, hand_over, self._scrapped, waits_as, self._received)
        return Hooks(self._take_from(position - 1), hand_over, self._scrapped)

    def new_part(self, product: str, order_id: str | None, key: tuple[float, int, int]) -> Part:
        """Create a part with the line's next serial number."""
        self._made += 1
        return Part(f"{self.id}-{self._made}", product, order_id, key)

    def reserve_serials(self, count: int) -> int:
        """Reserve the line's next ``count`` serial numbers (for a lot); return the first."""
        first = self._made + 1
        self._made += count
        return first

    def _take_released(self, station: Station) -> Part | simpy.Event | Proc:
        """The first station's take hook under a WIP cap: ``_next_released`` once the cap
        lets a part in, or a generator that waits for that (as IDLE, wip_cap) first."""
        assert self.wip_cap is not None
        event = self.wip_cap.get(1)
        if not event.triggered:
            return self._released_after_wip(station, event)
        return self._next_released(station)

    def _released_after_wip(self, station: Station, event: simpy.Event) -> Proc:
        yield from station.wait_for(event, StationState.IDLE, "wip_cap")
        got = self._next_released(station)
        if got.__class__ is Event:
            part = yield from station.wait_for(got, StationState.IDLE, "no_order")  # type: ignore[arg-type]
            got = self._received(station, part)
        if got.__class__ is not Part:
            got = yield from got  # type: ignore[misc]
        return got

    def _next_released(self, station: Station) -> Part | simpy.Event | Proc:
        """The next released part (the first station's take hook without a WIP cap): at once,
        or the release queue's event to wait for as IDLE (no order; the part then goes through
        ``_received``); a generator when the part's material must be waited for."""
        release = self.release
        if release is None:
            part = self.new_part(self.products[0], None, (0.0, 0, 0))
        else:
            part = release.take()
            if part is None:
                return release.wait_take()
        return self._received(station, part)

    def _received(self, station: Station, part: Part) -> Part | Proc:
        """Draw the part's material (perhaps waiting for it) and release the part."""
        if self.materials:
            return self._with_material(station, part)
        return self._release(part)

    def _with_material(self, station: Station, part: Part) -> Part | Proc:
        need = self.materials.get(part.product)
        if need is not None:
            stock, amount = need
            event = stock.take(amount)
            if event is not None:
                return self._released_after_material(station, part, stock, event)
            stock.report_consumption()
        return self._release(part)

    def _released_after_material(
        self, station: Station, part: Part, stock: MaterialStock, event: simpy.Event
    ) -> Proc:
        yield from station.wait_for(event, StationState.STARVED, "material")
        stock.report_consumption()
        return self._release(part)

    def _release(self, part: Part) -> Part:
        now = self.env.now
        part.released_at = now
        self.emit(PartReleased(now, self.id, part.id, part.product, part.order_id))
        self.on_start(part)
        return part

    def _take_from(self, index: int) -> Callable[[Station], Part | simpy.Event]:
        """The take hook of a station after the first: its buffer's ``take_or_wait``."""
        return self.buffers[index].take_or_wait

    def _hand_to(self, index: int) -> Callable[[Station, Part], simpy.Event | None]:
        """The hand-over hook of a station before the last: its buffer's ``offer_or_wait``."""
        return self.buffers[index].offer_or_wait

    def _scrapped(self, station: Station, part: Part) -> None:
        self._leave(station, part, "scrapped")

    def _leave(self, station: Station, part: Part, outcome: str = "finished") -> None:
        """The part leaves the line (finished unless told otherwise); the last station's
        hand-over hook."""
        now = self.env.now
        self.emit(
            PartLeft(
                now, self.id, part.id, part.product, part.order_id, outcome, now - part.released_at
            )
        )
        if self.wip_cap is not None:
            self.wip_cap.put(1)
        self.on_leave(part, outcome)
