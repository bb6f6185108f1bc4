"""KPIs of interest: ``"oee"`` (plant), ``"oee@assembly_a"`` (a line), ``"availability@s3"``.

A selector names a KPI of ``analytics.registry`` and a scope: ``plant`` (the default), a line
id or a station id. Where the value comes from depends on the KPI:

=============  ===============================================  ====================
source         KPIs                                             scopes
=============  ===============================================  ====================
``scope``      ISO 22400 and element KPIs (``KpiValues``)        plant, line, station
``flow``       WIP, exit rate, lead time (``FlowValues``)        plant, line
``supply``     delivery and material KPIs (``SupplyValues``)     plant
``bottleneck`` active-period figures (``StationBottleneck``)     station
=============  ===============================================  ====================

``extract(report, selector)`` reads one value from a ``KpiReport``; ``None`` means undefined.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from analytics.bottleneck import StationBottleneck
from analytics.flow import FlowValues
from analytics.kpis import KpiValues
from analytics.registry import KPI_BY_ID, KpiSpec
from analytics.report import PLANT, KpiReport
from analytics.supply import SupplyValues
from plant_sim.scenario import Scenario

_SOURCES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    (
        "scope",
        frozenset(f.name for f in fields(KpiValues)),
        frozenset({"plant", "line", "station"}),
    ),
    ("flow", frozenset(f.name for f in fields(FlowValues)), frozenset({"plant", "line"})),
    ("supply", frozenset(f.name for f in fields(SupplyValues)), frozenset({"plant"})),
    ("bottleneck", frozenset(f.name for f in fields(StationBottleneck)), frozenset({"station"})),
)


@dataclass(frozen=True, slots=True)
class KpiSelector:
    """One KPI at one scope; ``key`` (``kpi`` or ``kpi@scope``) names it in every output."""

    kpi: str
    scope: str
    level: str  # "plant" | "line" | "station"
    source: str  # "scope" | "flow" | "supply" | "bottleneck"

    @property
    def key(self) -> str:
        """Return ``kpi`` for the plant, else ``kpi@scope``."""
        return self.kpi if self.level == "plant" else f"{self.kpi}@{self.scope}"

    @property
    def spec(self) -> KpiSpec:
        """Return the registry entry (name, unit, better direction)."""
        return KPI_BY_ID[self.kpi]

    @property
    def label(self) -> str:
        """Return a human label, e.g. ``OEE index (assembly_a)``."""
        name = self.spec.name
        return name if self.level == "plant" else f"{name} ({self.scope})"


def parse_selector(text: str, scenario: Scenario) -> KpiSelector:
    """Return the selector for ``text``; raises ``ValueError`` saying what is wrong."""
    kpi, _, scope = str(text).strip().partition("@")
    scope = scope or PLANT
    if kpi not in KPI_BY_ID:
        raise ValueError(f"unknown KPI {kpi!r} (see analytics.registry; e.g. oee, throughput_uph)")
    level = _level(scope, scenario)
    for source, names, levels in _SOURCES:
        if kpi in names:
            if level not in levels:
                allowed = ", ".join(sorted(levels))
                raise ValueError(
                    f"{kpi} is defined for {allowed} scopes, not for {level} {scope!r}"
                )
            return KpiSelector(kpi, scope, level, source)
    raise ValueError(f"{kpi} is not available in what-if studies")


def _level(scope: str, scenario: Scenario) -> str:
    if scope == PLANT:
        return "plant"
    if scope in {line.id for line in scenario.lines}:
        return "line"
    if scope in scenario.station_ids():
        return "station"
    raise ValueError(f"scope {scope!r} is neither 'plant' nor a line or station id")


def extract(report: KpiReport, selector: KpiSelector) -> float | None:
    """Return the selected KPI from ``report`` as a float, or ``None`` when undefined."""
    value: object
    if selector.source == "scope":
        value = getattr(report.scope(selector.scope).kpis, selector.kpi)
    elif selector.source == "flow":
        value = getattr(report.flow[selector.scope], selector.kpi)
    elif selector.source == "supply":
        value = getattr(report.supply, selector.kpi)
    else:
        value = getattr(_station_bottleneck(report, selector.scope), selector.kpi)
    return None if value is None else float(value)  # type: ignore[arg-type]


def _station_bottleneck(report: KpiReport, station: str) -> StationBottleneck:
    for line in report.bottlenecks:
        for s in line.stations:
            if s.station == station:
                return s
    raise KeyError(f"no bottleneck figures for station {station!r}")
