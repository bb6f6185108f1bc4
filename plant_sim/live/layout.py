"""The plant's structure as the live adapters need it: ISA-95 path, lines, stations, buffers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plant_sim.records import RunStart


@dataclass(frozen=True, slots=True)
class StationInfo:
    """One station and its nameplate."""

    id: str
    line: str
    manufacturer: str = "Smart Factory Twin"
    model: str = "SimStation"


@dataclass(frozen=True, slots=True)
class BufferInfo:
    """One buffer between stations of a line."""

    id: str
    line: str
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class LineInfo:
    """One line: stations in flow order and its buffers."""

    id: str
    stations: tuple[StationInfo, ...]
    buffers: tuple[BufferInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class PlantLayout:
    """Everything the OPC UA server and MQTT publisher name: enterprise/site/area and lines."""

    enterprise: str
    site: str
    area: str
    lines: tuple[LineInfo, ...] = field(default_factory=tuple)

    @property
    def stations(self) -> dict[str, StationInfo]:
        """Stations by id, in line and flow order."""
        return {s.id: s for line in self.lines for s in line.stations}

    @classmethod
    def from_scenario(cls, scenario: Any) -> PlantLayout:
        """Build the layout from a ``plant_sim.scenario.Scenario``."""
        lines = tuple(
            LineInfo(
                id=ln.id,
                stations=tuple(
                    StationInfo(
                        s.id,
                        ln.id,
                        str(getattr(s, "manufacturer", "Smart Factory Twin")),
                        str(getattr(s, "model", "SimStation")),
                    )
                    for s in ln.stations
                ),
                buffers=tuple(
                    BufferInfo(b.id, ln.id, getattr(b, "capacity", None))
                    for b in getattr(ln, "buffers", ())
                ),
            )
            for ln in scenario.lines
        )
        return cls(scenario.enterprise, scenario.site, scenario.area, lines)

    @classmethod
    def from_run_start(cls, record: RunStart) -> PlantLayout:
        """Build the layout from the first record of a run (no nameplates, no capacities)."""
        lines = tuple(
            LineInfo(
                id=ln["line"],
                stations=tuple(StationInfo(s, ln["line"]) for s in ln.get("stations", ())),
                buffers=tuple(BufferInfo(b, ln["line"]) for b in ln.get("buffers", ())),
            )
            for ln in record.lines
        )
        return cls(record.enterprise, record.site, record.area, lines)
