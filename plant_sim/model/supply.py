"""Raw-material stock with an (s, Q) reorder policy and suppliers that can be out."""

from __future__ import annotations

import simpy

from plant_sim.distributions import Sampler
from plant_sim.model.station import Proc
from plant_sim.records import Emit, StockLevel


class _Container(simpy.Container):
    """A SimPy container that can serve a draw at once without creating an event."""

    def take_now(self, amount: float) -> bool:
        """Draw ``amount`` if no draw waits and the level covers it; say whether it did.

        ``get`` would do the same and schedule an event that nothing waits for (the container
        is unbounded, so no put waits either: processing that event would change nothing).
        """
        if self.get_queue or self._level < amount:
            return False
        self._level -= amount
        return True


class MaterialStock:
    """A stock the first stations draw from; reorders ``order_quantity`` at the reorder point.

    The reorder point is checked against the inventory position: the level, plus what is on
    order, minus the draws that wait. A draw larger than the level waits, so a stock above the
    reorder point can still be out; counting the waiting draw reorders then (otherwise nothing
    would ever arrive and the draw would wait forever).
    """

    def __init__(
        self,
        env: simpy.Environment,
        material: str,
        initial: float,
        reorder_point: float,
        order_quantity: float,
        lead_time: Sampler,
        outages: list[tuple[float, float]],
        emit: Emit,
    ) -> None:
        self.env, self.material, self.emit = env, material, emit
        self.container = _Container(env, init=initial)
        self.reorder_point, self.order_quantity = reorder_point, order_quantity
        self.lead_time, self.outages = lead_time, sorted(outages)
        self.on_order = 0.0
        emit(StockLevel(env.now, material, initial, "initial", reorder_point))
        self._check_reorder()

    def take(self, amount: float) -> simpy.Event | None:
        """Draw ``amount``: None when drawn at once, else the event that fires once it is.

        A draw the stock cannot cover waits (draws are served first come, first served) and
        is recorded as a "shortage": the stock is out although its level may be above 0.
        """
        if self.container.take_now(amount):
            return None
        event = self.container.get(amount)  # waits: another draw is first, or the level is short
        if len(self.container.get_queue) == 1:
            self._emit(self.container.level, "shortage")
        self._check_reorder()
        return event

    def report_consumption(self) -> None:
        """Record the level after a draw and reorder if it is time."""
        self._record("consumption")
        self._check_reorder()

    def _record(self, cause: str) -> None:
        """Record the level, then "shortage" again if draws still wait (the stock is out)."""
        level = self.container.level
        self._emit(level, cause)
        if self.container.get_queue:
            self._emit(level, "shortage")

    def _emit(self, level: float, cause: str) -> None:
        """Hand on a stock record: the level, why, and the reorder point it is drawn against."""
        self.emit(StockLevel(self.env.now, self.material, level, cause, self.reorder_point))

    def inventory_position(self) -> float:
        """Level plus quantity on order minus the draws that wait."""
        container = self.container
        if not container.get_queue:
            return container.level + self.on_order
        return container.level + self.on_order - sum(get.amount for get in container.get_queue)

    def _check_reorder(self) -> None:
        while self.inventory_position() <= self.reorder_point:
            self.on_order += self.order_quantity
            self.env.process(self._deliver(self.order_quantity))

    def _deliver(self, quantity: float) -> Proc:
        yield self.env.timeout(self.lead_time())
        while (end := self._outage_end(self.env.now)) is not None:
            yield self.env.timeout(end - self.env.now)
        self.on_order -= quantity
        yield self.container.put(quantity)
        self._record("delivery")

    def _outage_end(self, now: float) -> float | None:
        for start, end in self.outages:
            if start <= now < end:
                return end
        return None
