"""A backlog of released orders is held per lot: parts are made as the first station takes them."""

from __future__ import annotations

import gc
import heapq
import random

import simpy

from plant_sim.model.buffer import Lot, ReleaseQueue
from plant_sim.model.station import Part
from plant_sim.records import Record
from plant_sim.simulation import Simulation
from tests.plant_sim.helpers import make, scenario_data

H = 3600.0


def _alive_parts() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if o.__class__ is Part)


def test_a_demand_surge_backlog_makes_no_parts_before_they_are_taken() -> None:
    """A surge of 1000 for 15 minutes on the bottling line releases about 80 orders of 1000 to
    4000 parts; the parts alive stay within what the line holds (stations and buffers), and the
    release queue holds one entry per lot, however many parts are waiting."""
    data = scenario_data("bottling_line")
    data["events"] = [{"kind": "demand_surge", "at": 0, "duration": "15m", "factor": 1000}]
    scenario = make(data)
    orders: list[Record] = []

    def keep_orders(record: Record) -> None:
        if record.kind == "order":
            orders.append(record)

    sim = Simulation(scenario, keep_orders, seed=1)
    sim.run(8 * H)  # the first shift starts at 06:00, so the line has worked for two hours
    arrived = [r for r in orders if r.event == "arrived"]
    assert len(arrived) > 40 and sum(r.quantity for r in arrived) > 100_000  # the surge
    (line,) = sim.plant.lines
    held = sum(b.capacity for b in line.buffers) + len(line.stations)
    assert _alive_parts() <= held, "parts of the backlog were made before being taken"
    assert line.release is not None
    assert len(line.release.items) <= len(arrived)


def _reference_order(puts: list[tuple[str, Lot] | tuple[str, int]]) -> list[tuple]:
    """What the queue hands out when each lot's parts are queued one by one (the old way)."""
    heap: list[tuple[tuple[float, int, int], int, tuple]] = []
    count, out = 0, []
    for kind, what in puts:
        if kind == "put":
            assert isinstance(what, Lot)
            for k, index in enumerate(range(what.index, what.end)):
                count += 1
                last = index == what.end - 1 and what.ends_lot
                part = (f"{what.prefix}{what.serial + k}", what.order_id, index, last)
                heapq.heappush(heap, ((what.primary, what.seq, index), count, part))
        else:
            for _ in range(int(what)):
                if heap:
                    key, _, part = heapq.heappop(heap)
                    out.append((*part, key))
    return out


def test_lots_hand_out_parts_in_the_order_and_with_the_ids_of_parts_queued_one_by_one() -> None:
    """Lots of one order (disjoint index ranges, as lots and one-part scrap replacements are)
    come in any order; due times repeat, so the order's seq and the index decide too."""
    rng = random.Random(7)
    queue = ReleaseQueue(simpy.Environment(), "L", lambda record: None)
    pending: list[Lot] = []
    for seq in range(1, 120):
        due = float(rng.randint(0, 20))
        cuts = sorted(rng.sample(range(1, 40), rng.randint(0, 4)))
        for start, end in zip([0, *cuts], [*cuts, 40], strict=True):
            pending.append(Lot("L-", "p", f"O{seq}", due, seq, start, end, 0, rng.random() < 0.5))
    rng.shuffle(pending)
    steps: list[tuple[str, Lot] | tuple[str, int]] = []
    serial, taken = 1, []
    for lot in pending:
        lot.serial = serial
        serial += lot.end - lot.index
        steps.append(("put", Lot(*[getattr(lot, f) for f in Lot.__slots__])))
        queue.put(lot)
        n = rng.randint(0, 40)
        steps.append(("take", n))
        for _ in range(n):
            part = queue.take()
            if part is not None:
                taken.append((part.id, part.order_id, part.key[2], part.ends_lot, part.key))
        assert queue.parts == sum(lot.end - lot.index for _, _, lot in queue.items)
    assert len(taken) > 2000
    assert taken == _reference_order(steps)
