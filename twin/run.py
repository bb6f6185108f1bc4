"""``twin run``: simulate headless, then print the run's summary and its KPIs.

Records stream from the model in batches of one simulated hour to the event log writer (JSON
Lines or Parquet, from ``--out``'s name), to the KPI report (``analytics.stream_report``, which
folds them per shift occurrence) and to the run's tally; none is kept. Ctrl-C or SIGTERM
stops the run between two batches, with the log closed and readable. Heavy modules load
inside the command, so ``twin run --help`` stays fast.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from twin_io.stop_signals import stop_requests

if TYPE_CHECKING:
    from plant_sim.eventlog import LogWriter
    from plant_sim.records import Record
    from plant_sim.scenario import Scenario

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
    if first.start < until_s:  # a longer run would not help
        return text + ": breaks and planned maintenance take all of its shift time"
    zone = ZoneInfo(scenario.timezone or "UTC")
    at = (scenario.start_time + timedelta(seconds=first.start)).astimezone(zone)
    return (
        f"{text}: the first shift ({first.name}) starts {at:%a %Y-%m-%d %H:%M} "
        f"{scenario.timezone or 'UTC'}, {first.start / 3600:g} h into the run "
        "(use a longer --until)"
    )


def _stream(
    scenario: Scenario,
    until_s: float,
    seed: int | None,
    consume: Callable[[list[Record]], None],
    writer: LogWriter | None,
) -> int:
    """Stream the run to ``consume`` and close the log; on Ctrl-C or SIGTERM stop at the next
    batch, close the log with the whole batches written so far and raise ``KeyboardInterrupt``."""
    from plant_sim.cli import stream_with_progress

    simulated = [0.0]  # the time of the last record handed on

    try:
        # Ctrl-C and SIGTERM stop the run at the next batch: an interrupt in the middle of a
        # write would leave a broken last line or gzip stream, and a Parquet file killed
        # before its footer cannot be read at all.
        with stop_requests() as stop:

            def consume_until_stopped(batch: list[Record]) -> None:
                if stop.is_set():
                    raise KeyboardInterrupt
                consume(batch)
                if batch:
                    simulated[0] = batch[-1].t

            return stream_with_progress(scenario, until_s, seed, consume_until_stopped)
    except KeyboardInterrupt:
        if writer is not None:
            log.warning(
                "interrupted after %.1f h simulated: %s holds the records up to then "
                "(no run_end record)",
                simulated[0] / 3600.0,
                writer.path,
            )
        raise
    finally:
        if writer is not None:
            writer.close()


def _open_log(out: Path) -> LogWriter:
    """Open the event log writer for ``--out`` before the run (exit code 2 if it cannot be)."""
    from plant_sim.eventlog import check_log_name, open_writer  # only a run with a log

    if out.is_dir():
        raise typer.BadParameter(f"{out} is a directory; give a file name", param_hint="--out")
    try:
        check_log_name(out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return open_writer(out)
    except OSError as exc:
        typer.echo(f"error: --out: {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None


def run(
    scenario_path: Path = typer.Argument(..., help="Scenario YAML file.", metavar="SCENARIO"),
    until: str | None = typer.Option(None, help="Run length, e.g. 8h, 7d (default: horizon)."),
    seed: int | None = typer.Option(None, help="Random seed (default: the scenario's)."),
    out: Path | None = typer.Option(
        None, help="Write the event log here: .parquet, .jsonl or .jsonl.gz (by the name)."
    ),
    fmt: str = typer.Option(
        "table", "--format", "-f", help="KPI output: table (with the run summary), json or csv."
    ),
) -> None:
    """Run a scenario headless, far faster than real time; print its summary and KPIs."""
    from analytics.cli import FORMATS

    if fmt not in FORMATS:
        choices = ", ".join(FORMATS)
        raise typer.BadParameter(f"{fmt!r} is not one of {choices}", param_hint="--format")
    from analytics.cli import print_kpi_tables
    from analytics.stream_report import StreamedReport
    from plant_sim.cli import check_seed, load_or_exit, parse_until, summary_tables, warn_if_large
    from plant_sim.summary import Tally

    check_seed(seed)
    scenario = load_or_exit(scenario_path)
    until_s = parse_until(until, scenario)
    warn_if_large(scenario, until_s)
    writer = None if out is None else _open_log(out)
    kpis = StreamedReport()
    counts = Tally() if fmt == "table" else None  # the summary tables print with the table only

    def consume(batch: list[Record]) -> None:
        if writer is not None:
            writer.write(batch)
        kpis.add(batch)
        if counts is not None:
            counts.add(batch)

    began = time.perf_counter()
    n = _stream(scenario, until_s, seed, consume, writer)
    wall = time.perf_counter() - began
    log.info(
        "simulated %s for %.1f h in %.2f s (%d records, %.0fx real time)",
        scenario.name,
        until_s / 3600.0,
        wall,
        n,
        until_s / wall if wall else 0.0,
    )
    if out is not None:
        log.info("event log written to %s", out)
    report = kpis.report()
    if report.plant.elements.pbt_s == 0:
        log.warning("%s", no_planned_time(scenario, until_s))
    if counts is not None:
        from twin_io.console import table_console

        console = table_console()
        for table in summary_tables(counts.result()):
            console.print(table)
    print_kpi_tables(report, fmt)


def register(app: typer.Typer) -> None:
    """Add ``twin run`` to the ``twin`` app."""
    app.command("run")(run)
