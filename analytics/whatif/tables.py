"""Study results for the terminal: the answer first, warnings, one table per KPI, findings.

Tables fit an 80-column terminal: a mean and a difference are shown as ``value ± half width``
of their intervals (t intervals are symmetric), and long variant names fold.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from analytics.whatif.results import NOT_SIGNIFICANT, StudyResult
from analytics.whatif.selectors import KpiSelector
from analytics.whatif.wording import DASH, findings, format_value, headline, method_note, unit_label

#: Verdict colours: green/red only for KPIs with a direction; neutral otherwise.
VERDICT_STYLES = {"better": "green", "worse": "red", "higher": "cyan", "lower": "cyan"}
SHORT_VERDICT = {NOT_SIGNIFICANT: "not significant"}


def plus_minus(sel: KpiSelector, mean: float | None, half: float | None, signed: bool) -> str:
    """Return ``mean ± half width`` without unit (the column names it), or a dash."""
    if mean is None:
        return DASH
    value = format_value(sel, mean, signed=signed, unit=False)
    if half is None:
        return value
    return f"{value} ± {format_value(sel, half, unit=False)}"


def kpi_tables(result: StudyResult) -> list[Table]:
    """Return one table per KPI: each variant's mean and its difference with the base."""
    level = result.study.spec.confidence
    comparisons = {(c.variant, c.kpi.key): c for c in result.comparisons}
    tables = []
    for sel in result.study.kpis:
        unit = unit_label(sel)
        diff_unit = "pp" if unit == "%" else unit
        direction = sel.spec.compare_better
        title = escape(
            f"{sel.label} [{unit}]"
            + (f", {direction} is better" if direction != "none" else ", no better direction")
        )
        table = Table(
            title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1)
        )
        table.add_column("variant", overflow="fold", max_width=22)
        table.add_column(f"mean ± {100 * level:.4g} % CI", justify="right", no_wrap=True)
        table.add_column(f"vs base [{diff_unit}]", justify="right", no_wrap=True)
        table.add_column("change", justify="right", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        for name in result.variant_names:
            i = result.summary(name, sel.key).interval
            cells = [escape(name), plus_minus(sel, i.mean, i.half_width, signed=False)]
            c = comparisons.get((name, sel.key))
            if c is None:
                cells += ["", "", ""]
            else:
                d = c.difference
                style = VERDICT_STYLES.get(c.verdict, "")
                text = SHORT_VERDICT.get(c.verdict, c.verdict)
                cells += [
                    plus_minus(sel, d.mean, d.half_width, signed=True),
                    "" if c.relative is None else f"{100 * c.relative:+.1f} %",
                    f"[{style}]{text}[/]" if style else text,
                ]
            table.add_row(*cells)
        tables.append(table)
    return tables


def print_result(result: StudyResult, console: Console | None = None) -> None:
    """Print the answer (headline), warnings, the KPI tables, every finding and the method."""
    console = console or Console()
    study = result.study
    console.print(
        f"[bold]What-if study {escape(study.name)}[/] on scenario "
        f"{escape(study.base.scenario.name)}: "
        f"{len(study.variants)} variants x {study.replications} replications, run "
        f"length {study.run_length_s / 3600:.4g} h, warm-up {result.warmup.seconds / 3600:.3g} h"
        f" ({result.warmup.method})"
    )
    console.print("[bold]Answer[/] (significant changes against the base)")
    for line in headline(result):
        console.print(f"  {escape(line)}", highlight=False)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(w.text)}", highlight=False)
    for table in kpi_tables(result):
        console.print()
        console.print(table)
    console.print()
    console.print("[bold]Findings[/]")
    for line in findings(result):
        console.print(f"  {escape(line)}", highlight=False)
    console.print(escape(method_note(result)), style="dim", highlight=False)
