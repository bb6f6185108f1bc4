"""Raw-material stock with an (s, Q) reorder policy and suppliers that can be out."""

from __future__ import annotations

import simpy

from plant_sim.distributions import Sampler
from plant_sim.model.station import Proc
from plant_sim.records import Emit, StockLevel


class MaterialStock:
    """A stock the first stations draw from; reorders ``order_quantity`` at the reorder point."""

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
        self.container = simpy.Container(env, init=initial)
        self.reorder_point, self.order_quantity = reorder_point, order_quantity
        self.lead_time, self.outages = lead_time, sorted(outages)
        self.on_order = 0.0
        emit(StockLevel(env.now, material, initial, "initial"))
        self._check_reorder()

    def take(self, amount: float) -> simpy.Event:
        """Return the event of drawing ``amount`` (fires when the stock has it)."""
        return self.container.get(amount)

    def report_consumption(self) -> None:
        """Record the level after a draw and reorder if it is time."""
        self.emit(StockLevel(self.env.now, self.material, self.container.level, "consumption"))
        self._check_reorder()

    def _check_reorder(self) -> None:
        while self.container.level + self.on_order <= self.reorder_point:
            self.on_order += self.order_quantity
            self.env.process(self._deliver(self.order_quantity))

    def _deliver(self, quantity: float) -> Proc:
        yield self.env.timeout(self.lead_time())
        while (end := self._outage_end(self.env.now)) is not None:
            yield self.env.timeout(end - self.env.now)
        self.on_order -= quantity
        yield self.container.put(quantity)
        self.emit(StockLevel(self.env.now, self.material, self.container.level, "delivery"))

    def _outage_end(self, now: float) -> float | None:
        for start, end in self.outages:
            if start <= now < end:
                return end
        return None
