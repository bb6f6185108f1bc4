"""The KPI registry: what every published KPI is, as data.

Each entry carries the ISO 22400-1 description fields the CLI, the reports, the InfluxDB ``kpi``
measurement and the dashboards need: id (also the field name in InfluxDB), name, formula, unit,
range and which direction is better. Ratios are 0-1 floats (dashboards show percent); ``None``
as a bound means unbounded. Element symbols follow ISO 22400-2 (see ``analytics.elements``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["higher", "lower", "none"]


@dataclass(frozen=True, slots=True)
class KpiSpec:
    """Description of one KPI (ISO 22400-1 content: id, name, formula, unit, range, trend)."""

    id: str
    name: str
    formula: str
    unit: str  # "ratio" (0-1, shown as %), "h", "s", "kWh", "kWh/unit", "units/h", "units", "count"
    low: float | None
    high: float | None
    better: Better
    group: str  # "iso" | "quality" | "maintenance" | "energy" | "flow" | "supply" | "bottleneck"
    description: str
    iso: bool = False  # an ISO 22400-2 KPI (as opposed to a project or operations-science one)
    # Direction for comparing scenarios (what-if verdicts), when it differs from ``better``:
    # "none" for ratios over planned busy time that fall when a unit waits for others (starved,
    # blocked, idle), as a station does when it gets faster than its neighbours: no loss.
    compare: Better | None = None

    @property
    def compare_better(self) -> Better:
        """Return the direction a what-if verdict uses: ``compare``, else ``better``."""
        return self.compare if self.compare is not None else self.better

    @property
    def is_ratio(self) -> bool:
        """Tell whether values are 0-1 fractions shown as percent."""
        return self.unit == "ratio"


def _r(  # noqa: PLR0913 - the fields of a ratio KPI
    id_: str,
    name: str,
    formula: str,
    better: Better,
    group: str,
    desc: str,
    iso: bool = True,
    high: float | None = 1.0,
    compare: Better | None = None,
) -> KpiSpec:
    """Build a ratio KPI spec."""
    return KpiSpec(id_, name, formula, "ratio", 0.0, high, better, group, desc, iso, compare)


KPIS: tuple[KpiSpec, ...] = (
    _r(
        "availability",
        "Availability",
        "APT / PBT",
        "higher",
        "iso",
        "Share of planned busy time spent producing.",
        compare="none",
    ),
    _r(
        "effectiveness",
        "Effectiveness",
        "Σ(PRI × PQ) / APT",
        "higher",
        "iso",
        "Planned run time of the output over actual production time. Can exceed 1 when the "
        "real cycle beats the plan: flagged, never clamped.",
        high=None,
    ),
    _r(
        "quality_ratio",
        "Quality ratio",
        "GQ / PQ",
        "higher",
        "quality",
        "Good share of produced units (first judgement).",
    ),
    _r(
        "oee",
        "OEE index",
        "Availability × Effectiveness × Quality ratio",
        "higher",
        "iso",
        "= Σ(PRI × PQ) × (GQ / PQ) / PBT. Undefined when any factor is (PBT = 0, APT = 0 "
        "or PQ = 0): a planned window with no output has availability 0 and OEE undefined.",
        high=None,
        compare="none",
    ),
    _r(
        "nee",
        "NEE index",
        "(AUPT / PBT) × Effectiveness × Quality ratio",
        "higher",
        "iso",
        "Like OEE, but setup is not a loss. Undefined when any factor is (as OEE).",
        high=None,
        compare="none",
    ),
    _r(
        "technical_eff",
        "Technical efficiency",
        "APT / (APT + ADET)",
        "higher",
        "iso",
        "Loss from breakdowns and minor stops only; setup ignored.",
    ),
    _r(
        "setup_rate",
        "Setup rate",
        "AUST / AUPT",
        "lower",
        "iso",
        "Share of processing time spent on setup.",
    ),
    _r(
        "allocation_eff",
        "Allocation efficiency",
        "AUBT / PBT",
        "higher",
        "iso",
        "Share of planned busy time the unit was occupied.",
        compare="none",
    ),
    _r(
        "utilization_eff",
        "Utilization efficiency",
        "APT / AUBT",
        "higher",
        "iso",
        "Value-adding share of busy time.",
    ),
    KpiSpec(
        "throughput_uph",
        "Throughput rate",
        "PQ / window",
        "units/h",
        0.0,
        None,
        "higher",
        "iso",
        "Produced units per hour of the window (calendar time). ISO 22400-2's "
        "throughput rate divides PQ by the order execution time (AOET) instead; this one "
        "is comparable across windows with and without shifts.",
        False,
    ),
    _r("scrap_ratio", "Scrap ratio", "SQ / PQ", "lower", "quality", "Scrapped share of output."),
    _r(
        "rework_ratio",
        "Rework ratio",
        "RQ / PQ",
        "lower",
        "quality",
        "Share of output judged for rework.",
    ),
    _r(
        "fpy",
        "First pass yield",
        "GP / IP",
        "higher",
        "quality",
        "Parts good first time, never scrapped or reworked. At a station each judgement is a "
        "first judgement (GP/IP = GQ/PQ); for a line: finished parts never judged scrap or "
        "rework / parts that left the line.",
    ),
    KpiSpec(
        "mtbf_h",
        "MTBF",
        "(APT + AUST) / FE",
        "h",
        0.0,
        None,
        "higher",
        "maintenance",
        "Mean operating time between failures. Undefined with no failure in the window.",
        True,
    ),
    KpiSpec(
        "mttr_h",
        "MTTR",
        "ΣTTR / FE",
        "h",
        0.0,
        None,
        "lower",
        "maintenance",
        "Mean time to restoration: time in DOWN per failure event.",
        True,
    ),
    KpiSpec(
        "failures",
        "Failure events",
        "FE",
        "count",
        0.0,
        None,
        "lower",
        "maintenance",
        "Breakdowns that started in the window.",
        True,
    ),
    KpiSpec(
        "minor_stops",
        "Minor stops",
        "count of minor stops",
        "count",
        0.0,
        None,
        "lower",
        "maintenance",
        "Minor stops that started in the window (booked to ADET).",
    ),
    KpiSpec(
        "energy_kwh",
        "Energy",
        "Σ power × duration",
        "kWh",
        0.0,
        None,
        "lower",
        "energy",
        "Energy over the window, from power per state interval.",
    ),
    KpiSpec(
        "epu_kwh",
        "Energy per produced unit",
        "E / PQ",
        "kWh/unit",
        0.0,
        None,
        "lower",
        "energy",
        "ISO 22400 comprehensive energy consumption.",
        True,
    ),
    KpiSpec(
        "epgu_kwh",
        "Energy per good unit",
        "E / GQ",
        "kWh/unit",
        0.0,
        None,
        "lower",
        "energy",
        "Energy per good unit (EnPI, ISO 50006 ratio type).",
    ),
    KpiSpec(
        "idle_energy_kwh",
        "Idle energy",
        "E during ADOT + PDOT",
        "kWh",
        0.0,
        None,
        "lower",
        "energy",
        "Energy used while starved, blocked, idle or in planned maintenance.",
    ),
    _r(
        "blocked_ratio",
        "Blocked ratio",
        "blocked time / PBT",
        "none",
        "bottleneck",
        "Share of planned busy time the output was blocked.",
        iso=False,
    ),
    _r(
        "starved_ratio",
        "Starved ratio",
        "starved time / PBT",
        "none",
        "bottleneck",
        "Share of planned busy time the input was empty.",
        iso=False,
    ),
    KpiSpec(
        "material_starved_h",
        "Starved for material",
        "Σ STARVED(reason=material)",
        "h",
        0.0,
        None,
        "lower",
        "supply",
        "Hours stations waited for raw material.",
    ),
    # Flow (Factory Physics, per line and plant)
    KpiSpec(
        "wip_avg",
        "WIP (time-weighted)",
        "∫WIP dt / T",
        "units",
        0.0,
        None,
        "none",
        "flow",
        "Parts on the line, time-weighted: from the first station taking the part "
        "(PartReleased) to its exit (PartLeft); parts queued in front of the first station "
        "are not counted.",
    ),
    KpiSpec(
        "exit_rate_uph",
        "Exit rate",
        "parts left / window",
        "units/h",
        0.0,
        None,
        "higher",
        "flow",
        "Parts leaving the line (finished or scrapped) per hour.",
    ),
    KpiSpec(
        "flow_time_avg_s",
        "Flow time (mean)",
        "mean(PartLeft − PartReleased)",
        "s",
        0.0,
        None,
        "lower",
        "flow",
        "Mean time on the line of finished parts that left in the window: from the first "
        "station taking the part (PartReleased) to its exit (PartLeft). The wait in the queue "
        "in front of the first station is not included (see line_lead_time_avg_s).",
    ),
    KpiSpec(
        "flow_time_p50_s",
        "Flow time (p50)",
        "median(PartLeft − PartReleased)",
        "s",
        0.0,
        None,
        "lower",
        "flow",
        "Median flow time (first station takes the part to its exit) of finished parts.",
    ),
    KpiSpec(
        "flow_time_p95_s",
        "Flow time (p95)",
        "95th percentile(PartLeft − PartReleased)",
        "s",
        0.0,
        None,
        "lower",
        "flow",
        "95th percentile flow time (first station takes the part to its exit) of finished parts.",
    ),
    KpiSpec(
        "line_lead_time_avg_s",
        "Line lead time (mean)",
        "mean(PartLeft − order released to the line)",
        "s",
        0.0,
        None,
        "lower",
        "flow",
        "Mean time from the release of a part's order to the line (its parts join the queue in "
        "front of the first station) to the part's exit, finished parts that left in the "
        "window: the flow time plus the wait in the release queue. A part made without an "
        "order (saturated line: no queue) counts its flow time.",
    ),
    KpiSpec(
        "little_wip",
        "Little's law WIP",
        "exit rate × mean flow time (all exits)",
        "units",
        0.0,
        None,
        "none",
        "flow",
        "WIP that Little's law predicts.",
    ),
    KpiSpec(
        "little_gap_ratio",
        "Little's law gap",
        "(TH × CT − WIP) / WIP",
        "ratio",
        None,
        None,
        "none",
        "flow",
        "Relative gap between measured and predicted WIP; near 0 in a long, stable window.",
    ),
    # Supply chain (delivery and material)
    _r(
        "otd",
        "On-time delivery",
        "orders delivered by due / orders delivered",
        "higher",
        "supply",
        "Delivered orders in the window that met their due time.",
        iso=False,
    ),
    KpiSpec(
        "order_lead_time_avg_s",
        "Order lead time (mean)",
        "mean(delivered − arrived)",
        "s",
        0.0,
        None,
        "lower",
        "supply",
        "Mean time from order arrival to delivery.",
    ),
    KpiSpec(
        "order_lead_time_p50_s",
        "Order lead time (p50)",
        "median(delivered − arrived)",
        "s",
        0.0,
        None,
        "lower",
        "supply",
        "Median order lead time.",
    ),
    KpiSpec(
        "order_lead_time_p95_s",
        "Order lead time (p95)",
        "p95(delivered − arrived)",
        "s",
        0.0,
        None,
        "lower",
        "supply",
        "95th percentile order lead time.",
    ),
    KpiSpec(
        "backlog_orders",
        "Backlog (orders)",
        "arrived, not delivered at window end",
        "count",
        0.0,
        None,
        "lower",
        "supply",
        "Open orders at the end of the window.",
    ),
    KpiSpec(
        "backlog_units",
        "Backlog (units)",
        "Σ quantity of open orders at window end",
        "units",
        0.0,
        None,
        "lower",
        "supply",
        "Open demand at the end of the window.",
    ),
    KpiSpec(
        "late_backlog_orders",
        "Late backlog",
        "open orders past due at window end",
        "count",
        0.0,
        None,
        "lower",
        "supply",
        "Open orders already past their due time.",
    ),
    _r(
        "fill_rate",
        "Fill rate",
        "units due in window delivered by due / units due",
        "higher",
        "supply",
        "Share of demand falling due in the window met on time.",
        iso=False,
    ),
    KpiSpec(
        "stockouts",
        "Raw-material stock-outs",
        "count of stock reaching 0",
        "count",
        0.0,
        None,
        "lower",
        "supply",
        "Times a raw-material stock ran empty in the window.",
    ),
    KpiSpec(
        "stockout_h",
        "Stock-out time",
        "time with stock at 0",
        "h",
        0.0,
        None,
        "lower",
        "supply",
        "Hours of raw-material stock at zero (summed over materials).",
    ),
    # Bottleneck (active period method)
    KpiSpec(
        "avg_active_period_s",
        "Average active period",
        "mean active period",
        "s",
        0.0,
        None,
        "none",
        "bottleneck",
        "Mean uninterrupted active period; the longest marks the average bottleneck.",
    ),
    _r(
        "active_ratio",
        "Active ratio",
        "active time / working time",
        "none",
        "bottleneck",
        "Share of working time the station was active (not waiting).",
        iso=False,
    ),
    _r(
        "sole_bottleneck_ratio",
        "Sole bottleneck",
        "sole bottleneck time / line working time",
        "none",
        "bottleneck",
        "Share of time the station alone was the momentary bottleneck.",
        iso=False,
    ),
    _r(
        "shifting_bottleneck_ratio",
        "Shifting bottleneck",
        "shifting bottleneck time / line working time",
        "none",
        "bottleneck",
        "Share of time the bottleneck was shifting to or from the station.",
        iso=False,
    ),
)

KPI_BY_ID: dict[str, KpiSpec] = {k.id: k for k in KPIS}


def kpi(id_: str) -> KpiSpec:
    """Return the spec of KPI ``id_``; raises ``KeyError`` naming the unknown id."""
    try:
        return KPI_BY_ID[id_]
    except KeyError:
        raise KeyError(f"unknown KPI id {id_!r}") from None
