"""The scenario schema (pydantic): what the plant is, validated, with errors that name the path.

Unknown keys are errors everywhere (``extra="forbid"``). ``load_scenario`` wraps every problem,
schema or cross-reference, in a ``ScenarioError`` whose lines read ``path: problem``, for example
``lines[1].stations[3].failures[0].ttr.mean: Input should be greater than 0``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from plant_sim.distributions import Distribution, Seconds
from plant_sim.durations import parse_time_of_day
from plant_sim.input_files import InputFileError, read_yaml
from plant_sim.zones import check_timezone

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
TimeOfDay = Annotated[
    float,
    BeforeValidator(parse_time_of_day),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$"}),
]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ORDER_QUANTITY = 100_000
"""Most units in one customer order (a scheduled one, or the mean of the quantity
distribution); a drawn quantity above it is cut to it. A released order waits as one lot entry
(its parts are made as the line takes them), so memory does not grow with the quantity."""
MIN_SAMPLE_PERIOD_S = 0.1
"""Shortest process-sample period (a shorter one floods the run with samples)."""
MAX_SURGE_FACTOR = 1000.0
"""Largest demand-surge factor (orders arriving that many times as often)."""
SEED_RANGE = (-(2**63), 2**63 - 1)
"""Seeds a run can have: the event log (Parquet, JSON Lines) and InfluxDB store 64-bit integers."""


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``problems`` holds ``(path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path}: {msg}" for path, msg in problems)
        super().__init__(f"{source}: invalid scenario\n{lines}")


class Spec(BaseModel):
    """Base of every scenario model: immutable, unknown keys forbidden."""

    # defer_build: a model's validator is built when it is first used, not at import; the
    # scenario's one validator covers its nested models, so theirs are never built.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class FailureSpec(Spec):
    """A failure mode: time between failures counted on operating time, time to repair."""

    name: Identifier = "failure"
    tbf: Distribution
    ttr: Distribution


class MinorStopSpec(Spec):
    """Short stops: time between stops on operating time, and their duration."""

    tbs: Distribution
    duration: Distribution


class PowerSpec(Spec):
    """Electrical power drawn in each group of states, in kW."""

    processing: float = Field(5.0, ge=0)
    setup: float = Field(2.0, ge=0)
    waiting: float = Field(1.5, ge=0, description="starved, blocked, idle, minor stop")
    down: float = Field(0.5, ge=0)
    off_shift: float = Field(0.1, ge=0, description="off shift and planned downtime")


class ProcessSpec(Spec):
    """Process-value model: temperature approaches a target per activity, first-order."""

    ambient_c: float = 22.0
    processing_c: float = 65.0
    time_constant_s: Seconds = 900.0
    noise_c: float = Field(0.3, ge=0)


class StationSpec(Spec):
    """A work unit (ISA-95 work cell) in a line."""

    id: Identifier
    manufacturer: str = "Smart Factory Twin"
    model: str = "SimStation"
    cycle_time: Distribution | None = None
    cycle_times: dict[str, Distribution] | None = Field(
        None, description="per product; use instead of cycle_time"
    )
    planned_cycle_time: Seconds | None = Field(
        None, description="PRI for every product; default: the cycle-time mean"
    )
    planned_cycle_times: dict[str, Seconds] | None = None
    setup: Distribution | None = Field(None, description="on product change")
    failures: list[FailureSpec] = Field(default_factory=list)
    minor_stops: MinorStopSpec | None = None
    scrap: Probability = 0.0
    rework: Probability = 0.0
    rework_time: Distribution | None = Field(None, description="default: one more cycle")
    power_kw: PowerSpec = PowerSpec()
    process: ProcessSpec = ProcessSpec()


class BufferSpec(Spec):
    """A finite buffer between two consecutive stations."""

    id: Identifier
    capacity: int = Field(ge=1)


class LineSpec(Spec):
    """A production line: stations in flow order joined by buffers."""

    id: Identifier
    products: list[str] | None = Field(None, description="default: every product")
    stations: list[StationSpec] = Field(min_length=1)
    buffers: list[BufferSpec] = Field(default_factory=list)


class ProductSpec(Spec):
    """A product and the raw material one unit consumes."""

    id: Identifier
    material: str | None = None
    material_per_unit: float = Field(1.0, gt=0)


class ShiftSpec(Spec):
    """A daily shift; ``end`` before ``start`` runs past midnight."""

    name: Identifier
    start: TimeOfDay
    end: TimeOfDay


class BreakSpec(Spec):
    """A daily break (planned downtime) at a time of day, effective inside shifts."""

    start: TimeOfDay
    duration: Seconds


class MaintenanceSpec(Spec):
    """A planned-maintenance window, from the scenario start, for some or all stations."""

    start: Seconds
    duration: Seconds
    stations: list[str] | None = None


class CalendarSpec(Spec):
    """Shifts, breaks, days off and planned maintenance. Without it the plant runs 24/7."""

    shifts: list[ShiftSpec] = Field(min_length=1)
    breaks: list[BreakSpec] = Field(default_factory=list)
    days_off: list[Weekday] = Field(default_factory=list)
    maintenance: list[MaintenanceSpec] = Field(default_factory=list)


class ScheduledOrderSpec(Spec):
    """A customer order placed at a fixed time."""

    at: Seconds
    product: str
    quantity: int = Field(ge=1, le=MAX_ORDER_QUANTITY)
    due_in: Seconds


class DemandSpec(Spec):
    """Customer orders: an arrival process with a product mix, and/or a schedule."""

    interarrival: Distribution | None = None
    mix: dict[str, float] = Field(default_factory=dict)
    quantity: Distribution | None = Field(None, description="units per order, rounded, >= 1")
    due_in: Distribution | None = None
    schedule: list[ScheduledOrderSpec] = Field(default_factory=list)


class ReleaseSpec(Spec):
    """How orders are released to the lines."""

    rule: Literal["fifo", "edd"] = "fifo"
    lot_size: int | None = Field(
        None,
        ge=1,
        description="parts per lot; an order's next lot is released when its previous lot's "
        "last part starts, so lots of competing orders interleave (default: whole order)",
    )
    max_wip: int | None = Field(None, ge=1, description="CONWIP cap per line")


class MaterialSpec(Spec):
    """A raw material kept in stock, replenished by a supplier with a lead time."""

    id: Identifier
    supplier: Identifier
    initial: float = Field(ge=0)
    reorder_point: float = Field(ge=0)
    order_quantity: float = Field(gt=0)
    lead_time: Distribution


class SupplySpec(Spec):
    """Raw materials. Without it material is unlimited."""

    materials: list[MaterialSpec] = Field(min_length=1)


class SupplierOutageEvent(Spec):
    """A supplier delivers nothing during the window; due deliveries wait for its end."""

    kind: Literal["supplier_outage"]
    name: Identifier = "supplier_outage"
    at: Seconds
    duration: Seconds
    supplier: str


class DemandSurgeEvent(Spec):
    """Orders arrive ``factor`` times as often during the window."""

    kind: Literal["demand_surge"]
    name: Identifier = "demand_surge"
    at: Seconds
    duration: Seconds
    factor: float = Field(gt=0, le=MAX_SURGE_FACTOR)


class StationMaintenanceEvent(Spec):
    """A station is taken out for maintenance (planned downtime) during the window."""

    kind: Literal["station_maintenance"]
    name: Identifier = "station_maintenance"
    at: Seconds
    duration: Seconds
    station: str


ScenarioEventSpec = Annotated[
    SupplierOutageEvent | DemandSurgeEvent | StationMaintenanceEvent, Field(discriminator="kind")
]


class TelemetrySpec(Spec):
    """Process-value sampling."""

    sample_period: Seconds = Field(60.0, ge=MIN_SAMPLE_PERIOD_S)


TimeZoneName = Annotated[str | None, AfterValidator(check_timezone)]


class Scenario(Spec):
    """A whole plant scenario: structure, behaviour, calendar, demand, supply and events."""

    name: Identifier
    description: str = ""
    enterprise: Identifier = "acme"
    site: Identifier = "plant1"
    area: Identifier = "area1"
    start_time: AwareDatetime = datetime(2026, 1, 5, tzinfo=UTC)
    timezone: TimeZoneName = Field(
        None,
        description="IANA time zone of the plant, e.g. Europe/Berlin: shift and break times and "
        "days off are its local times, daylight saving included (default: UTC). Timestamps "
        "stay UTC.",
    )
    seed: int = Field(0, ge=SEED_RANGE[0], le=SEED_RANGE[1], strict=True)  # `true` is no seed
    horizon: Seconds = Field(7 * 86400.0, gt=0, description="default run length")
    products: list[ProductSpec] = Field(min_length=1)
    lines: list[LineSpec] = Field(min_length=1)
    calendar: CalendarSpec | None = None
    demand: DemandSpec | None = Field(None, description="none: lines run saturated")
    release: ReleaseSpec = ReleaseSpec()
    supply: SupplySpec | None = None
    events: list[ScenarioEventSpec] = Field(default_factory=list)
    telemetry: TelemetrySpec = TelemetrySpec()

    def station_ids(self) -> list[str]:
        """Every station id, line by line in flow order."""
        return [s.id for line in self.lines for s in line.stations]

    def line_products(self, line: LineSpec) -> list[str]:
        """The products ``line`` makes."""
        return list(line.products) if line.products is not None else [p.id for p in self.products]


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of scenario files (for editors)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Smart Factory Twin scenario"
    return schema


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate ``data`` (parsed YAML) into a Scenario; raises ``ScenarioError``."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [("(top)", "expected a mapping of scenario keys")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [(_path(err["loc"], data), err["msg"]) for err in exc.errors()]
        raise ScenarioError(source, problems) from None
    from plant_sim.scenario_checks import cross_reference_problems

    problems = cross_reference_problems(scenario)
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file; raises ``ScenarioError`` naming the path."""
    try:
        data = read_yaml(path)
    except InputFileError as exc:
        raise ScenarioError(exc.source, exc.problems) from None
    return parse_scenario(data, str(path))


def _path(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic error location as ``a.b[1].c``, keeping only keys present in the input.

    Union and discriminator tags that pydantic puts in ``loc`` do not index the input, so walking
    the input along ``loc`` drops them.
    """
    out, node = "", data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out += f"[{part}]"
            node = node[part]
        elif isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_tag(part):
            out += f".{part}" if out else part  # a missing or unknown key: name it
            node = None
    return out or "(top)"


def _is_tag(part: str) -> bool:
    return part in {
        "constant",
        "exponential",
        "normal",
        "lognormal",
        "triangular",
        "uniform",
        "empirical",
        "supplier_outage",
        "demand_surge",
        "station_maintenance",
    } or any(c in part for c in "[]-,")
