"""The study file schema (pydantic): what to run, not how; validated with paths in errors.

A study file, as YAML::

    name: buffer_sizing
    scenario: ../scenarios/plant_3lines.yaml     # relative to the study file
    replications: 10                             # replication r uses seed + r in every variant
    seed: 1000                                   # default: the scenario's seed
    run_length: 7d                               # default: the scenario's horizon
    warmup: 1d                                   # or mser5, or {method: mser5, series: wip}
    kpis: [throughput_uph, oee@assembly_a, otd]
    variants:
      - name: big_b2
        overrides: {lines.assembly_a.buffers.a_b2.capacity: 20}
    grids:
      - name: b7
        parameters:
          lines.assembly_a.buffers.a_b7.capacity: {start: 4, stop: 16, step: 4}

Durations accept ``90``, ``"15m"``, ``"2d6h"`` (seconds). Unknown keys are errors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from plant_sim.distributions import Seconds

MAX_RANGE_VALUES = 1000
"""Most values of one range (``num`` or from ``step``)."""
MAX_GRID_POINTS = 10_000
"""Most combinations (variants) of one grid."""
MAX_WARMUP_INTERVALS = 100_000
"""Most intervals of the MSER-5 series (run length / ``warmup.interval``; default 500): each
replication keeps a series that long, and every variant's are averaged together."""
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
Overrides = dict[str, Any]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MserSpec(_Spec):
    """Warm-up detected per replication by MSER-5 on an output series.

    The series is cut into intervals of ``interval`` seconds (default: run length / 500),
    batched by ``batch`` (5 for MSER-5); the truncation point is searched in the first
    ``max_fraction`` of the run.
    """

    method: Literal["mser5"] = "mser5"
    series: Literal["wip", "throughput"] = "wip"
    interval: Seconds | None = Field(None, gt=0)
    batch: int = Field(5, ge=1, le=100)
    max_fraction: float = Field(0.5, gt=0, le=0.9)


def _warmup_shorthand(value: Any) -> Any:
    return {"method": "mser5"} if value == "mser5" else value


def _warmup_kind(value: Any) -> str:
    return "warmup[mser5]" if isinstance(value, dict | MserSpec) else "warmup[duration]"


Warmup = Annotated[
    Annotated[Seconds, Tag("warmup[duration]")] | Annotated[MserSpec, Tag("warmup[mser5]")],
    Discriminator(_warmup_kind),
    BeforeValidator(_warmup_shorthand),
]


class VariantSpec(_Spec):
    """A named variant: overrides by path on the base scenario."""

    name: Name
    description: str = ""
    overrides: Overrides = Field(default_factory=dict)


class RangeSpec(_Spec):
    """Evenly spaced values from ``start`` to ``stop`` inclusive, by ``step`` or ``num`` values."""

    start: Seconds
    stop: Seconds
    step: Seconds | None = Field(None, gt=0)
    num: int | None = Field(None, ge=2, le=MAX_RANGE_VALUES)

    @model_validator(mode="after")
    def _one_spacing(self) -> RangeSpec:
        if (self.step is None) == (self.num is None):
            raise ValueError("give exactly one of step or num")
        if self.stop < self.start:
            raise ValueError("stop is below start")
        if self.step is not None and (self.stop - self.start) / self.step >= MAX_RANGE_VALUES:
            raise ValueError(f"step gives more than {MAX_RANGE_VALUES} values")
        return self


def _values_kind(value: Any) -> str:
    return "values[range]" if isinstance(value, dict | RangeSpec) else "values[list]"


Values = Annotated[
    Annotated[list[Any], Tag("values[list]")] | Annotated[RangeSpec, Tag("values[range]")],
    Discriminator(_values_kind),
]


class GridSpec(_Spec):
    """Every combination of the values of each parameter; one variant per combination."""

    name: Name
    description: str = ""
    parameters: dict[str, Values] = Field(min_length=1)
    overrides: Overrides = Field(default_factory=dict, description="applied to every point")


class StudySpec(_Spec):
    """A what-if study: a base scenario, variants, replications, warm-up, run length, KPIs."""

    name: Name
    description: str = ""
    scenario: str = Field(min_length=1, description="scenario file, relative to the study")
    seed: int | None = Field(None, ge=0, description="base seed; default: the scenario's")
    replications: int = Field(10, ge=2, le=10_000)
    run_length: Seconds | None = Field(None, gt=0, description="default: scenario horizon")
    warmup: Warmup = 0.0
    kpis: list[str] = Field(min_length=1)
    base_overrides: Overrides = Field(default_factory=dict, description="base and variants")
    variants: list[VariantSpec] = Field(default_factory=list)
    grids: list[GridSpec] = Field(default_factory=list)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    correction: Literal["none", "bonferroni"] = "none"
    timeline_bins: int = Field(100, ge=2, le=5000, description="throughput-over-time bins")


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of study files (for editors; ``studies/study.schema.json``)."""
    schema = StudySpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Smart Factory Twin what-if study"
    warmup = schema["properties"]["warmup"]
    warmup["oneOf"].append({"const": "mser5", "description": "MSER-5 with default settings"})
    return schema
