"""Study results: intervals, paired comparisons and per-variant profiles. Pure.

Per-replication values become intervals per variant and KPI, paired differences with the
base, and per-variant profiles (state breakdown, bottleneck shares, throughput over time).

A comparison's verdict uses the KPI's direction for comparisons from ``analytics.registry``
(``KpiSpec.compare_better``): a significant difference is ``better`` or ``worse``, or
``higher``/``lower`` for KPIs with no direction; otherwise ``no significant difference`` (or
``undefined`` with fewer than two defined pairs).

Warnings say what may make an answer less trustworthy: a warm-up that did not settle, a fixed
warm-up that leaves little of each run, a KPI undefined in some replications.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.whatif.intervals import Interval, comparison_level, mean_interval, paired_interval
from analytics.whatif.replication import ReplicationResult
from analytics.whatif.selectors import KpiSelector
from analytics.whatif.spec import MserSpec
from analytics.whatif.study import Study
from analytics.whatif.warmup import WarmupChoice

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
class StudyWarning:
    """Something that makes part of a study's answer less trustworthy.

    ``variant`` and ``kpi`` (a selector key) say what it concerns; ``None`` means all.
    """

    kind: str  # warmup_not_settled | run_short_for_warmup | kpi_undefined
    text: str
    variant: str | None = None
    kpi: str | None = None

    def applies(self, variant: str, kpi: str) -> bool:
        """Tell whether the warning concerns this variant and KPI key."""
        return self.variant in (None, variant) and self.kpi in (None, kpi)


@dataclass(frozen=True, slots=True)
class VariantProfile:
    """Means over replications of one variant's profile figures."""

    variant: str
    warmup_s: float
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
    warmup: WarmupChoice
    warnings: tuple[StudyWarning, ...] = ()

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


def aggregate(
    study: Study, runs: Sequence[ReplicationResult], warmup: WarmupChoice | None = None
) -> StudyResult:
    """Return intervals, paired comparisons and profiles from the replication results.

    ``warmup`` is the study's warm-up: needed for ``mser5``; a fixed one is the study's.
    """
    if warmup is None:
        if isinstance(study.warmup, MserSpec):
            raise ValueError("an mser5 study needs the warm-up chosen from its pilot runs")
        warmup = WarmupChoice(float(study.warmup), "fixed")
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
    warnings = _warmup_warnings(study, warmup) + _undefined_warnings(summaries)
    return StudyResult(
        study,
        tuple(runs),
        tuple(summaries),
        tuple(comparisons),
        tuple(profiles),
        level,
        warmup,
        tuple(warnings),
    )


def _warmup_warnings(study: Study, warmup: WarmupChoice) -> list[StudyWarning]:
    out = []
    if warmup.limited:
        out.append(
            StudyWarning(
                "warmup_not_settled",
                "warm-up not settled: MSER-5 on the mean series of the replications still "
                "finds a lower statistic beyond its search range, so the start-up may not be "
                "over; the runs are likely too short for this warm-up, and means may be biased.",
            )
        )
    if warmup.seconds > 0.5 * study.run_length_s:
        out.append(
            StudyWarning(
                "run_short_for_warmup",
                f"runs too short for the chosen warm-up: the warm-up ({warmup.seconds / 3600:.3g}"
                f" h) takes {100 * warmup.seconds / study.run_length_s:.0f} % of each "
                f"{study.run_length_s / 3600:.3g} h run; the KPIs rest on the rest only.",
            )
        )
    return out


def _undefined_warnings(summaries: Sequence[KpiSummary]) -> list[StudyWarning]:
    """One warning per KPI undefined in some replication, with the count of each variant."""
    missing: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    defined: dict[str, int] = {}  # replications where the KPI has a value, all variants
    for s in summaries:
        n = sum(v is None for v in s.values)
        defined[s.kpi.key] = defined.get(s.kpi.key, 0) + len(s.values) - n
        if n:
            labels[s.kpi.key] = s.kpi.label
            missing.setdefault(s.kpi.key, []).append(f"{s.variant} {n} of {len(s.values)}")
    return [
        StudyWarning(
            "kpi_undefined",
            f"{labels[key]} is undefined in "
            f"{'some replications' if defined[key] else 'every replication'} "
            f"({', '.join(counts)}): nothing to measure after the warm-up, or a zero "
            "denominator; "
            + (
                "its intervals rest on the replications where it is defined."
                if defined[key]
                else "it has no value and no interval."
            ),
            None,
            key,
        )
        for key, counts in missing.items()
    ]


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
    better = sel.spec.compare_better
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
    return VariantProfile(
        name,
        float(max(r.warmup_s for r in runs)),
        states,
        bottleneck,
        timeline,
    )
