"""Study results as rich tables for the terminal: one table per KPI, then the statements."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from analytics.whatif.results import StudyResult
from analytics.whatif.wording import (
    format_interval,
    format_value,
    method_note,
    significant_statements,
    unit_label,
)

_STYLE = {"better": "green", "worse": "red", "higher": "cyan", "lower": "cyan"}


def kpi_tables(result: StudyResult) -> list[Table]:
    """Return one table per KPI: each variant's mean, interval and difference with the base."""
    level = result.study.spec.confidence
    comparisons = {(c.variant, c.kpi.key): c for c in result.comparisons}
    tables = []
    for sel in result.study.kpis:
        unit = unit_label(sel)
        diff_unit = "pp" if unit == "%" else unit
        title = escape(f"{sel.label} [{unit}], better: {sel.spec.better}")
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for col in (
            "variant",
            "mean",
            f"{100 * level:.4g} % CI",
            f"vs base [{diff_unit}]",
            "diff CI",
            "change",
            "verdict",
        ):
            table.add_column(col, justify="left" if col in ("variant", "verdict") else "right")
        for name in result.variant_names:
            i = result.summary(name, sel.key).interval
            c = comparisons.get((name, sel.key))
            cells = [
                escape(name),
                format_value(sel, i.mean, unit=False),
                format_interval(sel, i.low, i.high, unit=False),
            ]
            if c is None:
                cells += ["", "", "", ""]
            else:
                d = c.difference
                style = _STYLE.get(c.verdict, "")
                verdict = f"[{style}]{c.verdict}[/]" if style else c.verdict
                cells += [
                    format_value(sel, d.mean, signed=True, unit=False),
                    format_interval(sel, d.low, d.high, signed=True, unit=False),
                    "" if c.relative is None else f"{100 * c.relative:+.1f} %",
                    verdict,
                ]
            table.add_row(*cells)
        tables.append(table)
    return tables


def print_result(result: StudyResult, console: Console | None = None) -> None:
    """Print the study header, the KPI tables and the significance statements."""
    console = console or Console()
    study = result.study
    warm = max(p.warmup_s for p in result.profiles)
    console.print(
        f"[bold]What-if study {escape(study.name)}[/] on scenario "
        f"{escape(study.base.scenario.name)}: "
        f"{len(study.variants)} variants x {study.replications} replications, run "
        f"length {study.run_length_s / 3600:.4g} h, warm-up up to {warm / 3600:.3g} h"
    )
    for table in kpi_tables(result):
        console.print()
        console.print(table)
    console.print()
    console.print("[bold]Significant differences[/]")
    for line in significant_statements(result):
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    limited = sum(p.warmup_limited for p in result.profiles)
    if limited:
        console.print(
            f"[yellow]warning:[/] MSER-5 could not settle the warm-up in {limited} "
            "replication(s): the runs may be too short."
        )
    console.print(escape(method_note(result)), style="dim", highlight=False, soft_wrap=True)
