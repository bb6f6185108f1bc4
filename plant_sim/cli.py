"""``twin validate`` and ``twin schema``, and the pieces of ``twin run``: progress, summary."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from plant_sim.cli_options import output_file_problem
from plant_sim.durations import parse_duration
from plant_sim.estimate import STREAMED_BYTES_PER_RECORD, large_run_warning
from plant_sim.records import Record
from plant_sim.scenario import SEED_RANGE, Scenario, ScenarioError, json_schema, load_scenario
from plant_sim.simulation import run_streaming
from plant_sim.states import StationState
from plant_sim.summary import RunTally

log = logging.getLogger(__name__)
err = Console(stderr=True)


def load_or_exit(path: Path) -> Scenario:
    """Load a scenario, or print its problems and exit with code 2."""
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None


def parse_until(value: str | None, scenario: Scenario) -> float:
    """Return the run length in seconds from ``--until`` (default: the scenario's horizon)."""
    if value is None:
        return scenario.horizon
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--until") from None
    if seconds <= 0:
        raise typer.BadParameter("must be a positive duration", param_hint="--until")
    return seconds


def check_seed(seed: int | None) -> None:
    """Refuse a ``--seed`` the event log and InfluxDB cannot store (exit code 2)."""
    if seed is not None and not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise typer.BadParameter(
            "outside the 64-bit integers the event log stores (-2**63 .. 2**63-1)",
            param_hint="--seed",
        )


def check_output_file(path: Path, option: str) -> None:
    """Refuse, before any work, an output path that cannot be written (exit code 2)."""
    if (problem := output_file_problem(path)) is not None:
        raise typer.BadParameter(problem, param_hint=option)


def warn_if_large(scenario: Scenario, until_s: float) -> None:
    """Log a warning with the estimated records and memory before a very large ``twin run``."""
    warning = large_run_warning(scenario, until_s, bytes_per_record=STREAMED_BYTES_PER_RECORD)
    if warning is not None:
        log.warning(warning)


def stream_with_progress(
    scenario: Scenario,
    until_s: float,
    seed: int | None,
    consume: Callable[[list[Record]], None],
) -> int:
    """Run headless with a progress bar on stderr, handing records to ``consume`` in batches;
    return the number of records. Without an interactive terminal on stderr there is no bar
    to show, so none is made (no refresh thread beside the run)."""
    if not err.is_interactive:
        return run_streaming(scenario, consume, until_s, seed)
    from rich.progress import Progress

    with Progress(*_progress_columns(), console=err, transient=True) as progress:
        task = progress.add_task(f"simulating {scenario.name}", total=until_s)
        return run_streaming(
            scenario,
            consume,
            until_s,
            seed,
            on_progress=lambda now: progress.update(task, completed=now),
        )


def _progress_columns() -> tuple:
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


_SHORT = {
    StationState.PROCESSING: "proc",
    StationState.SETUP: "setup",
    StationState.MINOR_STOP: "minor",
    StationState.DOWN: "down",
    StationState.STARVED: "starv",
    StationState.BLOCKED: "block",
    StationState.IDLE: "idle",
    StationState.PLANNED_DOWNTIME: "plan",
    StationState.OFF_SHIFT: "off",
}


def summary_tables(run: RunTally) -> list[Table]:
    """Per-station counts, per-station share of time in each state, and per-line flow."""
    hours = run.duration_s / 3600.0 or 1.0
    counts = Table(title=f"Stations ({run.duration_s / 3600.0:.1f} h simulated)")
    for col in ("line", "station", "good", "scrap", "rework", "good/h"):
        counts.add_column(col, justify="left" if col in ("line", "station") else "right")
    states = Table(title="Share of time in each state (%)")
    states.add_column("station")
    for s in StationState:
        states.add_column(_SHORT[s], justify="right")
    for t in run.stations.values():
        counts.add_row(
            t.line,
            t.station,
            str(t.parts["good"]),
            str(t.parts["scrap"]),
            str(t.parts["rework"]),
            f"{t.parts['good'] / hours:.1f}",
        )
        total = sum(t.seconds_in.values()) or 1.0
        states.add_row(
            t.station, *(f"{100.0 * t.seconds_in.get(s, 0.0) / total:.1f}" for s in StationState)
        )
    flow = Table(title="Lines")
    for col in ("line", "released", "finished", "scrapped", "finished/h", "WIP avg", "WIP end"):
        flow.add_column(col, justify="right" if col != "line" else "left")
    for t in run.lines.values():
        flow.add_row(
            t.line,
            str(t.released),
            str(t.finished),
            str(t.scrapped),
            f"{t.finished / hours:.1f}",
            f"{t.wip_area / run.duration_s if run.duration_s else 0.0:.1f}",
            str(t.wip_end),
        )
    return [counts, states, flow]


def validate(
    scenario_path: Path = typer.Argument(..., help="Scenario YAML file.", metavar="SCENARIO"),
) -> None:
    """Check a scenario file; names the path of every problem."""
    scenario = load_or_exit(scenario_path)
    typer.echo(
        f"{scenario_path}: ok ({len(scenario.lines)} line(s), "
        f"{len(scenario.station_ids())} stations, {len(scenario.products)} product(s))"
    )


def schema(
    out: Path | None = typer.Option(None, help="Write to this file instead of stdout."),
) -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    if out is not None:
        check_output_file(out, "--out")
    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    from twin_io.files import written_whole

    try:  # whole or not at all: a full disk leaves the previous file as it was
        with written_whole(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:  # what check_output_file cannot see (a full disk)
        raise typer.BadParameter(f"{out}: {exc.strerror or exc}", param_hint="--out") from None


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``twin`` app."""
    app.command("validate")(validate)
    app.command("schema")(schema)
