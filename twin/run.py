"""``twin run``: simulate headless, then print the run's summary and its KPIs."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer
from rich.console import Console

from analytics.cli import FORMATS, print_kpi_tables
from analytics.report import compute_report
from plant_sim.cli import load_or_exit, parse_until, run_with_progress, summary_tables
from plant_sim.scenario import Scenario
from plant_sim.summary import tally

log = logging.getLogger(__name__)


def no_planned_time(scenario: Scenario, until_s: float) -> str:
    """Say why a run's KPIs are empty: when its first shift starts, if ever."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from plant_sim.model.plant import plant_calendar

    text = f"no planned time in the run's {until_s / 3600:g} h, so OEE and its factors are empty"
    first = next(iter(plant_calendar(scenario).shifts()), None)
    if first is None:
        return text + " (every day is a day off)"
    zone = ZoneInfo(scenario.timezone or "UTC")
    at = (scenario.start_time + timedelta(seconds=first.start)).astimezone(zone)
    return (
        f"{text}: the first shift ({first.name}) starts {at:%a %Y-%m-%d %H:%M} "
        f"{scenario.timezone or 'UTC'}, {first.start / 3600:g} h into the run "
        "(use a longer --until)"
    )


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
    scenario = load_or_exit(scenario_path)
    until_s = parse_until(until, scenario)
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
    if report.plant.elements.pbt_s == 0:
        log.warning("%s", no_planned_time(scenario, until_s))
    if fmt == "table":
        console = Console()
        for table in summary_tables(tally(events)):
            console.print(table)
    print_kpi_tables(report, fmt)
