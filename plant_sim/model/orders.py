"""Customer orders: arrival (process or schedule), release to a line, completion, shipment."""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from plant_sim.distributions import Sampler
from plant_sim.model.buffer import Lot
from plant_sim.model.line import Line
from plant_sim.model.station import Part, Proc
from plant_sim.records import Emit, OrderEvent
from plant_sim.scenario import MAX_ORDER_QUANTITY, DemandSpec


@dataclass(slots=True)
class _Order:
    id: str
    product: str
    quantity: int
    due: float
    seq: int
    line: Line
    remaining: int
    next_index: int = 0  # first part index not yet released


@dataclass(slots=True)
class DemandSamplers:
    """The random parts of the arrival process."""

    interarrival: Sampler | None
    quantity: Sampler | None
    due_in: Sampler | None
    pick: Sampler  # uniform [0, 1) for the product mix


class OrderBook:
    """Creates orders, releases their parts to a line and ships them when complete."""

    def __init__(
        self,
        env: simpy.Environment,
        demand: DemandSpec,
        rule: str,
        lot_size: int | None,
        lines: list[Line],
        samplers: DemandSamplers,
        surges: list[tuple[float, float, float]],
        emit: Emit,
    ) -> None:
        self.env, self.demand, self.rule, self.lines = env, demand, rule, lines
        self.lot_size = lot_size
        self._lots_released = 0
        self.samplers, self.surges, self.emit = samplers, surges, emit
        self._orders: dict[str, _Order] = {}
        self._seq = 0
        mix = sorted(demand.mix.items())
        total = sum(share for _, share in mix)
        self._mix_cum = []
        acc = 0.0
        for product, share in mix:
            acc += share / total if total else 0.0
            self._mix_cum.append((acc, product))
        self._lines_for: dict[str, list[Line]] = {}  # product -> the lines that make it
        for line in lines:
            line.on_leave = self._part_left
            line.on_start = self._part_started

    def start(self) -> None:
        """Start the arrival and schedule processes."""
        if self.samplers.interarrival is not None:
            self.env.process(self._arrivals())
        if self.demand.schedule:
            self.env.process(self._scheduled())

    def _arrivals(self) -> Proc:
        s = self.samplers
        assert s.interarrival and s.quantity and s.due_in
        env, interarrival, quantity_of, due_in = self.env, s.interarrival, s.quantity, s.due_in
        timeout, surge_factor, pick, place = (
            env.timeout,
            self._surge_factor,
            self._pick_product,
            self.place,
        )
        surges = self.surges
        while True:
            if surges:
                yield timeout(interarrival() / surge_factor(env.now))
            else:  # x / 1.0 is x: the same delay without the call
                yield timeout(interarrival())
            product = pick()
            quantity = min(MAX_ORDER_QUANTITY, max(1, round(quantity_of())))
            place(product, quantity, due_in())

    def _scheduled(self) -> Proc:
        for order in sorted(self.demand.schedule, key=lambda o: o.at):
            if order.at > self.env.now:
                yield self.env.timeout(order.at - self.env.now)
            self.place(order.product, order.quantity, order.due_in)

    def _surge_factor(self, now: float) -> float:
        factor = 1.0
        if not self.surges:
            return factor
        for start, end, f in self.surges:
            if start <= now < end:
                factor *= f
        return factor

    def _pick_product(self) -> str:
        u = self.samplers.pick()
        for cum, product in self._mix_cum:
            if u < cum:
                return product
        return self._mix_cum[-1][1]

    def place(self, product: str, quantity: int, due_in: float) -> str:
        """Create an order, release it to the least-loaded line that makes it; return its id."""
        now = self.env.now
        self._seq = seq = self._seq + 1
        order_id = "O%06d" % seq  # noqa: UP031 - twice as fast as the f-string here
        candidates = self._lines_for.get(product)
        if candidates is None:
            candidates = self._lines_for[product] = [
                ln for ln in self.lines if product in ln.products
            ]
        if len(candidates) == 1:
            line = candidates[0]
        else:
            line = min(
                candidates,
                key=lambda ln: ln.release.parts if ln.release is not None else 0,
            )
        due = now + due_in
        order = _Order(order_id, product, quantity, due, seq, line, quantity)
        self._orders[order_id] = order
        emit = self.emit
        emit(OrderEvent(now, order_id, product, quantity, due, "arrived", None))
        emit(OrderEvent(now, order_id, product, quantity, due, "released", line.id))
        self._release_next_lot(order)
        return order_id

    def _release_next_lot(self, order: _Order) -> None:
        """Release the order's next lot (the whole order without a lot size)."""
        size = self.lot_size or order.quantity
        end = min(order.next_index + size, order.quantity)
        self._release_parts(order, range(order.next_index, end), lot_end=end < order.quantity)
        order.next_index = end

    def _release_parts(self, order: _Order, indices: range, lot_end: bool = False) -> None:
        """Queue the parts as one lot (made when taken, with the serial numbers of now);
        FIFO ranks lots by release, EDD by the order's due time."""
        self._lots_released += 1
        primary = order.due if self.rule == "edd" else float(self._lots_released)
        line = order.line
        first = line.reserve_serials(len(indices))
        lot = Lot(
            line.part_prefix,
            order.product,
            order.id,
            primary,
            order.seq,
            indices.start,
            indices.stop,
            first,
            lot_end,
        )
        assert line.release is not None
        line.release.put(lot)

    def _part_started(self, part: Part) -> None:
        """When the last part of a lot starts, the order's next lot is released."""
        if part.ends_lot:
            order = self._orders.get(part.order_id or "")
            if order is not None:
                self._release_next_lot(order)

    def _part_left(self, part: Part, outcome: str) -> None:
        order = self._orders.get(part.order_id or "")
        if order is None:
            return
        if outcome == "scrapped":
            index = part.key[2]
            self._release_parts(order, range(index, index + 1))  # make a replacement
            return
        order.remaining -= 1
        if order.remaining == 0:
            now, emit = self.env.now, self.emit
            order_id, product, quantity, due, line = (
                order.id,
                order.product,
                order.quantity,
                order.due,
                order.line.id,
            )
            emit(OrderEvent(now, order_id, product, quantity, due, "completed", line))
            emit(OrderEvent(now, order_id, product, quantity, due, "shipped", line))
            del self._orders[order_id]
