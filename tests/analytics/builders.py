"""Hand-built record logs with known answers, for the analytics tests."""

from __future__ import annotations

from plant_sim.records import (
    OrderEvent,
    PartDone,
    PartLeft,
    PartReleased,
    Record,
    RunEnd,
    RunStart,
    ShiftChange,
    StateChange,
    StockLevel,
)
from plant_sim.states import StationState

S = StationState
MIN = 60.0


class LogBuilder:
    """Build one run's records: states as (duration, state) sequences, parts, flow, orders."""

    def __init__(self, lines: dict[str, list[str]] | None = None) -> None:
        self.lines = lines or {"line1": ["st1"]}
        self.records: list[Record] = []
        self._n = 0

    def line_of(self, station: str) -> str:
        """Return the line of a station."""
        return next(ln for ln, sts in self.lines.items() if station in sts)

    def state(
        self, t: float, station: str, state: S, reason: str | None = None, power_kw: float = 1.0
    ) -> LogBuilder:
        """Add one state change."""
        self.records.append(StateChange(t, self.line_of(station), station, state, reason, power_kw))
        return self

    def states(
        self, station: str, t0: float, seq: list[tuple[float, S]] | list, power_kw: float = 1.0
    ) -> float:
        """Add consecutive states ``(duration, state[, reason])`` from ``t0``; return the end."""
        t = t0
        for item in seq:
            dur, st, *rest = item
            self.state(t, station, st, rest[0] if rest else None, power_kw)
            t += dur
        return t

    def parts(
        self,
        station: str,
        t: float,
        n: int,
        pri_s: float,
        result: str = "good",
        spacing: float = 0.0,
    ) -> LogBuilder:
        """Add ``n`` PartDone records at ``t`` (``spacing`` apart)."""
        for i in range(n):
            self._n += 1
            self.records.append(
                PartDone(
                    t + i * spacing,
                    self.line_of(station),
                    station,
                    f"p{self._n}",
                    "A",
                    None,
                    result,
                    pri_s,
                    pri_s,
                )
            )
        return self

    def part(
        self, t: float, station: str, part_id: str, result: str = "good", pri_s: float = 30.0
    ) -> LogBuilder:
        """Add one identified PartDone."""
        self.records.append(
            PartDone(t, self.line_of(station), station, part_id, "A", None, result, pri_s, pri_s)
        )
        return self

    def release(self, t: float, line: str, part_id: str) -> LogBuilder:
        """Add a PartReleased."""
        self.records.append(PartReleased(t, line, part_id, "A", None))
        return self

    def leave(
        self, t: float, line: str, part_id: str, flow_s: float, outcome: str = "finished"
    ) -> LogBuilder:
        """Add a PartLeft."""
        self.records.append(PartLeft(t, line, part_id, "A", None, outcome, flow_s))
        return self

    def shift(self, t: float, name: str | None) -> LogBuilder:
        """Add a ShiftChange."""
        self.records.append(ShiftChange(t, name))
        return self

    def order(self, t: float, oid: str, event: str, due_s: float, qty: int = 10) -> LogBuilder:
        """Add an OrderEvent."""
        self.records.append(OrderEvent(t, oid, "A", qty, due_s, event))
        return self

    def stock(self, t: float, level: float, material: str = "steel") -> LogBuilder:
        """Add a StockLevel."""
        self.records.append(StockLevel(t, material, level, "consumption"))
        return self

    def build(self, end: float, start: float = 0.0) -> list[Record]:
        """Return the records in time order, framed by RunStart and RunEnd."""
        head = RunStart(
            start,
            "run1",
            "test",
            1,
            0,
            end,
            "acme",
            "plant1",
            "assembly",
            [{"line": ln, "stations": sts, "buffers": []} for ln, sts in self.lines.items()],
        )
        body = sorted(self.records, key=lambda r: r.t)
        return [head, *body, RunEnd(end)]


def worked_example() -> list[Record]:
    """Return standards.md §1.6: PBT 480 min, AUST 30, ADET 45 (30 + 15), ADOT 25, APT 380.

    PRI = 0.5 min, PQ = 700 (SQ 20, RQ 10, GQ 670).
    """
    b = LogBuilder()
    end = b.states(
        "st1",
        0.0,
        [
            (30 * MIN, S.SETUP),
            (200 * MIN, S.PROCESSING),
            (30 * MIN, S.DOWN, "spindle"),
            (100 * MIN, S.PROCESSING),
            (15 * MIN, S.MINOR_STOP, "jam"),
            (25 * MIN, S.STARVED),
            (80 * MIN, S.PROCESSING),
        ],
    )
    b.parts("st1", 31 * MIN, 670, 30.0, spacing=30.0)
    b.parts("st1", 400 * MIN, 20, 30.0, "scrap", spacing=1.0)
    b.parts("st1", 401 * MIN, 10, 30.0, "rework", spacing=1.0)
    return b.build(end)
