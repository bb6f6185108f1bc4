"""What a KPI window needs from before the records it reads: the carry-in.

The KPI engine computes a window from the records inside it plus what was true at its start:
each station's state (and its power and reason), raw-material stock, shift and order history,
the parts on each line (work in progress) and which of those were judged scrap or rework. A
``CarryState`` holds exactly that, fed with records in time order (backfill) or filled from
InfluxDB queries (the service); ``records(t_from)`` turns it into records that, put before the
records from ``t_from`` on, give the engine the same answer as the whole run would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from plant_sim.records import (
    OrderEvent,
    PartDone,
    PartLeft,
    PartReleased,
    Record,
    RunStart,
    ShiftChange,
    StateChange,
    StockLevel,
)

CARRY_EPSILON_S = 1e-3
"""Synthetic carry-in releases are placed this long before the span they precede."""


@dataclass
class CarryState:
    """The state of a run just before some time; see the module docstring."""

    run_start: RunStart | None = None
    states: dict[tuple[str, str], StateChange] = field(default_factory=dict)
    stock: dict[str, StockLevel] = field(default_factory=dict)
    shifts: list[ShiftChange] = field(default_factory=list)
    orders: list[OrderEvent] = field(default_factory=list)
    bad_parts: dict[str, PartDone] = field(default_factory=dict)
    """Last scrap/rework judgement of each part still on its line."""
    wip: dict[str, int] = field(default_factory=dict)
    """Parts released and not yet left, per line."""

    def copy(self) -> CarryState:
        """Return an independent copy (records are shared: they are never changed)."""
        return CarryState(
            self.run_start,
            dict(self.states),
            dict(self.stock),
            list(self.shifts),
            list(self.orders),
            dict(self.bad_parts),
            dict(self.wip),
        )

    def feed(self, records: Iterable[Record]) -> None:
        """Take records in time order (all of them before the next span)."""
        for r in records:
            kind = r.kind
            if kind == "state":
                self.states[(r.line, r.station)] = r  # type: ignore[union-attr]
            elif kind == "part":
                if r.result != "good":  # type: ignore[union-attr]
                    self.bad_parts[r.part_id] = r  # type: ignore[union-attr,assignment]
            elif kind == "release":
                self.wip[r.line] = self.wip.get(r.line, 0) + 1  # type: ignore[union-attr]
            elif kind == "exit":
                self._left(r)  # type: ignore[arg-type]
            elif kind == "stock":
                self.stock[r.material] = r  # type: ignore[union-attr,assignment]
            elif kind == "shift":
                self.shifts.append(r)  # type: ignore[arg-type]
            elif kind == "order":
                self.orders.append(r)  # type: ignore[arg-type]
            elif kind == "run_start":
                self.run_start = r  # type: ignore[assignment]

    def _left(self, r: PartLeft) -> None:
        self.wip[r.line] = self.wip.get(r.line, 0) - 1
        self.bad_parts.pop(r.part_id, None)

    def records(self, t_from: float) -> list[Record]:
        """Return the carry-in records that go before the records from ``t_from`` on."""
        out: list[Record] = [] if self.run_start is None else [self.run_start]
        out += self.shifts
        out += self.orders
        out += sorted(self.stock.values(), key=lambda s: s.t)
        out += sorted(self.states.values(), key=lambda s: s.t)
        out += sorted(self.bad_parts.values(), key=lambda p: p.t)
        t = t_from - CARRY_EPSILON_S
        for line, n in sorted(self.wip.items()):
            out += [PartReleased(t, line, f"carry-in-{i}", "carry-in", None) for i in range(n)]
        return out
