"""``twin run``: simulate headless, then print the run's summary and its KPIs."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer
from rich.console import Console

from analytics.cli import FORMATS, print_kpi_tables
from analytics.report import compute_report
from plant_sim.cli import (
    check_output_file,
    load_or_exit,
    parse_until,
    run_with_progress,
    summary_tables,
    warn_if_large,
)
from plant_sim.summary import tally

log = logging.getLogger(__name__)


def run(
    scenario_path: Path = typer.Argument(..., help="Scenario YAML file.", metavar="SCENARIO"),
    until: str | None = typer.Option(None, help="Run length, e.g. 8h, 7d (default: horizon)."),
    seed: int | None = typer.Option(None, help="Random seed (default: the scenario's)."),
    out: Path | None = typer.Option(None, help="Write the event log here (.jsonl or .jsonl.gz)."),
    fmt: str = typer.Option(
        "table", "--format", "-f", help="KPI output: table (with the run summary), json or csv."
    ),
) -> None:
    """Run a scenario headless, far faster than real time; print its summary and KPIs."""
    if fmt not in FORMATS:
        choices = ", ".join(FORMATS)
        raise typer.BadParameter(f"{fmt!r} is not one of {choices}", param_hint="--format")
    if out is not None:
        check_output_file(out, "--out")
    scenario = load_or_exit(scenario_path)
    until_s = parse_until(until, scenario)
    warn_if_large(scenario, until_s)
    began = time.perf_counter()
    events = run_with_progress(scenario, until_s, seed)
    wall = time.perf_counter() - began
    log.info(
        "simulated %s for %.1f h in %.2f s (%d records, %.0fx real time)",
        scenario.name,
        until_s / 3600.0,
        wall,
        len(events),
        until_s / wall if wall else 0.0,
    )
    if out is not None:
        events.save(out)
        log.info("event log written to %s", out)
    report = compute_report(events.records)
    if fmt == "table":
        console = Console()
        for table in summary_tables(tally(events)):
            console.print(table)
    print_kpi_tables(report, fmt)
