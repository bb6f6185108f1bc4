"""Plain words for results: values with units, one finding per comparison, and a headline.

Ratios (0-1) are shown in percent and their differences in percentage points; other values
carry the registry unit. Every variant and KPI gets a finding, significant or not::

    faster_s3: no significant change in Throughput rate: +0.012 units/h (+0.0 %),
        95 % CI -0.241 units/h to +0.265 units/h.
    faster_s3: WIP (time-weighted) significantly lower (better): -0.98 units (-17.6 %), ...

and the headline sums up each variant in one line, grouped by verdict::

    faster_s3 (the last station ...): better: Flow time (mean) -58.5 s (-17.9 %); no
        significant change in Throughput rate.

``better``/``worse`` only for KPIs with a direction for comparisons in the registry
(``KpiSpec.compare_better``); the others are ``higher``/``lower``, said neutrally.
"""

from __future__ import annotations

from analytics.whatif.results import NOT_SIGNIFICANT, UNDEFINED, Comparison, StudyResult
from analytics.whatif.selectors import KpiSelector

DASH = "—"


def unit_label(sel: KpiSelector) -> str:
    """Return the unit as shown: ``%`` for ratios, else the registry unit."""
    return "%" if sel.spec.is_ratio else sel.spec.unit


def format_value(
    sel: KpiSelector, value: float | None, *, signed: bool = False, unit: bool = True
) -> str:
    """Return ``value`` in its unit: percent for ratios, ``pp`` for their differences.

    ``unit=False`` leaves the unit out, for table cells under a column that names it.
    """
    if value is None:
        return DASH
    sign = "+" if signed else ""
    if sel.spec.is_ratio:
        suffix = (" pp" if signed else " %") if unit else ""
        return f"{100 * value:{sign}.2f}{suffix}"
    size = abs(value)
    digits = 3 if size < 10 else 2 if size < 100 else 1 if size < 1000 else 0
    suffix = f" {sel.spec.unit}" if unit else ""
    return f"{value:{sign},.{digits}f}{suffix}"


def format_interval(
    sel: KpiSelector,
    low: float | None,
    high: float | None,
    *,
    signed: bool = False,
    unit: bool = True,
) -> str:
    """Return ``low to high`` (or ``low … high`` without units, for table cells)."""
    if low is None or high is None:
        return DASH
    a = format_value(sel, low, signed=signed, unit=unit)
    b = format_value(sel, high, signed=signed, unit=unit)
    return f"{a} to {b}" if unit else f"{a} … {b}"


def _ci(c: Comparison, level: float) -> str:
    d = c.difference
    return f"{100 * level:.4g} % CI {format_interval(c.kpi, d.low, d.high, signed=True)}"


def _change(c: Comparison) -> str:
    rel = f" ({100 * c.relative:+.1f} %)" if c.relative is not None else ""
    return f"{format_value(c.kpi, c.difference.mean, signed=True)}{rel}"


def verdict_phrase(c: Comparison) -> str:
    """Return ``significantly lower (better)``, ``significantly higher`` and the like."""
    if c.verdict in ("better", "worse"):
        up = (c.difference.mean or 0.0) > 0
        return f"significantly {'higher' if up else 'lower'} ({c.verdict})"
    return f"significantly {c.verdict}"


def statement(c: Comparison, level: float) -> str:
    """Return one sentence on a comparison, significant or not: change, interval, verdict."""
    label = c.kpi.label
    if c.verdict == UNDEFINED:
        return (
            f"{c.variant}: {label} cannot be compared "
            "(fewer than two replications where it is defined)."
        )
    if c.verdict == NOT_SIGNIFICANT:
        return f"{c.variant}: no significant change in {label}: {_change(c)}, {_ci(c, level)}."
    return f"{c.variant}: {label} {verdict_phrase(c)}: {_change(c)}, {_ci(c, level)}."


def findings(result: StudyResult) -> list[str]:
    """Return one sentence per variant and KPI (variant-major, KPIs in study order)."""
    level = result.comparison_level
    return [statement(c, level) for c in result.comparisons]


def significant_statements(result: StudyResult) -> list[str]:
    """Return the findings of significant differences only (for a short list)."""
    level = result.comparison_level
    return [statement(c, level) for c in result.comparisons if c.significant]


_GROUPS = ("better", "worse", "higher", "lower")


def headline(result: StudyResult) -> list[str]:
    """Return the answer in one line per variant: what changed significantly, and what not."""
    if len(result.variant_names) < 2:
        return ["The study has no variant to compare with the base."]
    descriptions = {v.name: v.description for v in result.study.variants}
    out = []
    for name in result.variant_names[1:]:
        mine = [c for c in result.comparisons if c.variant == name]
        parts = []
        for verdict in _GROUPS:
            items = [f"{c.kpi.label} {_change(c)}" for c in mine if c.verdict == verdict]
            if items:
                parts.append(f"{verdict}: {', '.join(items)}")
        quiet = [c.kpi.label for c in mine if c.verdict == NOT_SIGNIFICANT]
        if quiet:
            parts.append(f"no significant change in {', '.join(quiet)}")
        undefined = [c.kpi.label for c in mine if c.verdict == UNDEFINED]
        if undefined:
            parts.append(f"cannot compare {', '.join(undefined)}")
        desc = f" ({descriptions[name]})" if descriptions.get(name) else ""
        out.append(f"{name}{desc}: {'; '.join(parts)}.")
    return out


def method_note(result: StudyResult) -> str:
    """Return a sentence on how the intervals were computed."""
    spec = result.study.spec
    corr = (
        f", Bonferroni-corrected over {len(result.comparisons)} comparisons "
        f"(each at {100 * result.comparison_level:.3g} %)"
        if spec.correction == "bonferroni" and len(result.comparisons) > 1
        else ""
    )
    return (
        f"{spec.replications} replications per variant with common random numbers "
        f"(replication r uses seed {result.study.seed} + r in every variant); Student t "
        f"intervals at {100 * spec.confidence:.4g} %; differences are paired by "
        f"replication{corr}. A difference is significant when its interval excludes 0."
    )
