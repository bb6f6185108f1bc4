"""Study results: intervals, paired comparisons and per-variant profiles. Pure.

Per-replication values become intervals per variant and KPI, paired differences with the
base, and per-variant profiles (state breakdown, bottleneck shares, throughput over time).

A comparison's verdict uses the KPI's better direction from ``analytics.registry``: a
significant difference is ``better`` or ``worse``, or ``higher``/``lower`` for KPIs with no
better direction; otherwise ``no significant difference`` (or ``undefined`` with fewer than two
defined pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.whatif.intervals import Interval, comparison_level, mean_interval, paired_interval
from analytics.whatif.replication import ReplicationResult
from analytics.whatif.selectors import KpiSelector
from analytics.whatif.study import Study

NOT_SIGNIFICANT = "no significant difference"
UNDEFINED = "undefined"


@dataclass(frozen=True, slots=True)
class KpiSummary:
    """One KPI of one variant: its values per replication and their interval."""

    variant: str
    kpi: KpiSelector
    values: tuple[float | None, ...]
    interval: Interval


@dataclass(frozen=True, slots=True)
class Comparison:
    """Paired difference variant − base of one KPI, and what it means."""

    variant: str
    kpi: KpiSelector
    difference: Interval
    relative: float | None  # mean difference / |base mean|
    significant: bool
    verdict: str  # better | worse | higher | lower | no significant difference | undefined


@dataclass(frozen=True, slots=True)
class VariantProfile:
    """Means over replications of one variant's profile figures."""

    variant: str
    warmup_s: float
    warmup_max_s: float
    warmup_limited: int  # replications where MSER hit its search cap
    states: dict[str, tuple[float, ...]]  # station -> share per replication.STATE_GROUPS
    bottleneck: dict[str, float | None]  # station -> sole + shifting share
    timeline_uph: tuple[float, ...]


@dataclass(frozen=True)
class StudyResult:
    """Everything a study produced; ``runs`` are in task order (variant-major)."""

    study: Study
    runs: tuple[ReplicationResult, ...]
    summaries: tuple[KpiSummary, ...]
    comparisons: tuple[Comparison, ...]
    profiles: tuple[VariantProfile, ...]
    comparison_level: float  # per comparison (after any Bonferroni correction)

    @property
    def variant_names(self) -> list[str]:
        """Variant names, base first."""
        return [v.name for v in self.study.variants]

    def summary(self, variant: str, kpi: str) -> KpiSummary:
        """Return the summary of KPI key ``kpi`` (e.g. ``oee@line1``) for ``variant``."""
        for s in self.summaries:
            if s.variant == variant and s.kpi.key == kpi:
                return s
        raise KeyError(f"no KPI {kpi!r} for variant {variant!r}")

    def comparison(self, variant: str, kpi: str) -> Comparison:
        """Return the comparison of ``variant`` with the base for KPI key ``kpi``."""
        for c in self.comparisons:
            if c.variant == variant and c.kpi.key == kpi:
                return c
        raise KeyError(f"no comparison of {kpi!r} for variant {variant!r}")


def aggregate(study: Study, runs: Sequence[ReplicationResult]) -> StudyResult:
    """Return intervals, paired comparisons and profiles from the replication results."""
    reps = study.replications
    by_variant = [list(runs[v * reps : (v + 1) * reps]) for v in range(len(study.variants))]
    m = (len(study.variants) - 1) * len(study.kpis)
    level = comparison_level(study.spec.confidence, m, study.spec.correction)
    summaries, comparisons = [], []
    for v, variant in enumerate(study.variants):
        for sel in study.kpis:
            values = tuple(r.kpis[sel.key] for r in by_variant[v])
            summaries.append(
                KpiSummary(variant.name, sel, values, mean_interval(values, study.spec.confidence))
            )
            if v > 0:
                base = [r.kpis[sel.key] for r in by_variant[0]]
                comparisons.append(_compare(variant.name, sel, values, base, level))
    profiles = [
        _profile(variant.name, rs) for variant, rs in zip(study.variants, by_variant, strict=True)
    ]
    return StudyResult(
        study, tuple(runs), tuple(summaries), tuple(comparisons), tuple(profiles), level
    )


def _compare(
    name: str,
    sel: KpiSelector,
    values: Sequence[float | None],
    base: Sequence[float | None],
    level: float,
) -> Comparison:
    diff = paired_interval(values, base, level)
    base_mean = mean_interval(base, level).mean
    relative = None if diff.mean is None or not base_mean else diff.mean / abs(base_mean)
    significant = diff.excludes_zero or (
        diff.n >= 2 and diff.sd == 0.0 and diff.mean is not None and diff.mean != 0.0
    )
    return Comparison(name, sel, diff, relative, significant, _verdict(sel, diff, significant))


def _verdict(sel: KpiSelector, diff: Interval, significant: bool) -> str:
    if diff.n < 2 or diff.mean is None:
        return UNDEFINED
    if not significant:
        return NOT_SIGNIFICANT
    up = diff.mean > 0
    better = sel.spec.better
    if better == "higher":
        return "better" if up else "worse"
    if better == "lower":
        return "worse" if up else "better"
    return "higher" if up else "lower"


def _mean_or_none(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _profile(name: str, runs: list[ReplicationResult]) -> VariantProfile:
    stations = list(runs[0].states)
    states = {
        s: tuple(float(x) for x in np.mean([r.states[s] for r in runs], axis=0)) for s in stations
    }
    bottleneck = {s: _mean_or_none([r.bottleneck.get(s) for r in runs]) for s in runs[0].bottleneck}
    timeline = tuple(float(x) for x in np.mean([r.timeline_uph for r in runs], axis=0))
    warm = [r.warmup_s for r in runs]
    return VariantProfile(
        name,
        float(np.mean(warm)),
        float(max(warm)),
        sum(r.warmup_limited for r in runs),
        states,
        bottleneck,
        timeline,
    )
