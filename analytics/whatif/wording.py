"""Plain words for results: values with units, and one statement per comparison.

Ratios (0-1) are shown in percent and their differences in percentage points; other values
carry the registry unit. Example statement::

    big_b2 vs base: Throughput rate +3.17 units/h (+5.5 %), 95 % CI +2.78 to +3.55: better.
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


def statement(c: Comparison, level: float) -> str:
    """Return one sentence on a comparison: the difference, its interval and the verdict."""
    d = c.difference
    head = f"{c.variant} vs base: {c.kpi.label}"
    if c.verdict == UNDEFINED:
        return f"{head}: undefined (fewer than two replications where it is defined)."
    rel = f" ({100 * c.relative:+.1f} %)" if c.relative is not None else ""
    ci = f"{100 * level:.4g} % CI {format_interval(c.kpi, d.low, d.high, signed=True)}"
    if c.verdict == NOT_SIGNIFICANT:
        verdict = f"{NOT_SIGNIFICANT} (the interval includes 0)"
    else:
        verdict = f"significantly {c.verdict}"
    return f"{head} {format_value(c.kpi, d.mean, signed=True)}{rel}, {ci}: {verdict}."


def significant_statements(result: StudyResult) -> list[str]:
    """Return statements for every significant difference, then a line on the rest."""
    level = result.comparison_level
    found = [statement(c, level) for c in result.comparisons if c.significant]
    quiet = [c for c in result.comparisons if not c.significant]
    out = found or ["No variant differs significantly from the base in any KPI."]
    if found and quiet:
        pairs = "pair" if len(quiet) == 1 else "pairs"
        out.append(f"No significant difference in the other {len(quiet)} variant-KPI {pairs}.")
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
