"""The ``twin whatif STUDY.yaml`` command: run a study with a progress bar, print and save it.

Exit codes: 0 done; 2 for a bad study file or bad options (every problem with its path, on
stderr), output paths and InfluxDB options included, which are checked before anything runs; 1
when a run or an output fails (for example InfluxDB refusing the results); 130 when Ctrl-C or
SIGTERM stopped it (as ``twin run``): workers ended, each output file whole or as it was.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from analytics.whatif.errors import ExecutorError, InfluxWriteError, StudyError
from analytics.whatif.executors import EXECUTORS, Executor, make_executor, scheduler_problem
from analytics.whatif.results import StudyResult
from analytics.whatif.runner import run_study
from analytics.whatif.study import Study, load_study
from plant_sim.estimate import large_run_warning
from twin_io.stop_signals import stop_requests

log = logging.getLogger(__name__)
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _run(study: Study, executor: Executor, progress: bool, done: list[int]) -> StudyResult:
    """Run the study; ``done[0]`` counts the finished runs (for a message if it is stopped)."""
    total = len(study.variants) * study.replications

    def count(n: int, _total: int) -> None:
        done[0] = n

    try:
        if not progress:
            return run_study(study, executor, count)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task(f"{study.name}: runs", total=total)

            def update(n: int, of: int) -> None:
                count(n, of)
                bar.update(task, completed=n, total=of)

            return run_study(study, executor, update)
    except ExecutorError as exc:
        raise _fail(f"--scheduler: {exc}", code=1) from None


def _outputs(
    result: StudyResult,
    csv: Path | None,
    parquet: Path | None,
    html: Path | None,
    json_path: Path | None,
) -> list[str]:
    """Write each output asked for; return ``option: problem`` for each that failed (disk full,
    ...), after trying the others, so one failing output does not lose the rest."""
    from analytics.whatif.export import write_csv, write_json, write_parquet

    def report(result: StudyResult, path: Path) -> list[Path]:
        from analytics.whatif.html_report import write_html  # matplotlib: only when asked

        return [
            write_html(result, path, generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
        ]

    outputs = (
        ("--json", json_path, "summary", write_json),
        ("--csv", csv, "results", write_csv),
        ("--parquet", parquet, "results", write_parquet),
        ("--html", html, "report", report),
    )
    failed = []
    for option, path, what, write in outputs:
        if path is None:
            continue
        try:
            log.info("%s written to %s", what, ", ".join(map(str, write(result, path))))
        except OSError as exc:
            failed.append(f"{option}: cannot write {exc.filename or path}: {exc.strerror or exc}")
    return failed


def _influx(result: StudyResult, url: str, db: str, token: str | None) -> None:
    from analytics.whatif.influx import to_line_protocol, write_influx
    from twin_io.urls import hide_passwords

    lines = to_line_protocol(result, at_ms=int(datetime.now(UTC).timestamp() * 1000))
    try:
        n = write_influx(lines, url, db, token=token)
    except InfluxWriteError as exc:
        raise _fail(f"--influx-url: {exc}", code=1) from None
    log.info("%d points written to %s (db %s)", n, hide_passwords(url), db)


def _check_outputs(
    inputs: dict[str, Path], paths: dict[str, Path | None], influx_url: str | None, influx_db: str
) -> None:
    """Exit 2 naming the option if an output cannot be written (before the study runs)."""
    from analytics.whatif.outputs import check_influx, check_output_paths

    problems = check_output_paths(paths, inputs)
    if influx_url:
        problems += check_influx(influx_url, influx_db)
    if problems:
        text = "; ".join(f"{option}: {problem}" for option, problem in problems)
        raise _fail(f"{text} (checked before the study runs)")


def _check_scheduler(address: str | None) -> None:
    """Exit 2 naming ``--scheduler`` for an address that is not ``[SCHEME://]HOST:PORT``."""
    problem = None if address is None else scheduler_problem(address)
    if problem is not None:
        raise typer.BadParameter(
            f"{address!r} is not a Dask scheduler address ({problem}); "
            "give [tcp://]HOST:PORT, e.g. tcp://10.0.0.5:8786",
            param_hint="--scheduler",
        )


def _check(study: Study) -> None:
    typer.echo(
        f"{study.source}: ok ({len(study.variants)} variants x {study.replications} "
        f"replications, {len(study.kpis)} KPIs, run length {study.run_length_s:g} s)"
    )
    for v in study.variants:
        typer.echo(f"  {v.name}: {v.description}")


def _warn_if_large(study: Study) -> None:
    """Warn before a study whose replications are each estimated very large (in memory)."""
    for variant in study.variants:
        warning = large_run_warning(variant.scenario, study.run_length_s, "--run-length")
        if warning is not None:
            log.warning("variant %s, each replication: %s", variant.name, warning)
            return


def whatif_command(
    study_path: Path = typer.Argument(..., help="Study YAML file.", metavar="STUDY"),
    executor: str = typer.Option("local", help=f"Where to run: {', '.join(EXECUTORS)}."),
    workers: int | None = typer.Option(None, min=1, help="Local processes (default: CPUs)."),
    scheduler: str | None = typer.Option(
        None,
        help="Dask scheduler address [tcp://]HOST:PORT (with --executor dask), "
        "e.g. tcp://10.0.0.5:8786.",
    ),
    replications: int | None = typer.Option(None, min=2, help="Override the study's count."),
    run_length: str | None = typer.Option(None, help="Override the run length, e.g. 1d."),
    seed: int | None = typer.Option(None, min=0, help="Override the base seed."),
    csv: Path | None = typer.Option(None, help="Write the summary (and .replications) as CSV."),
    parquet: Path | None = typer.Option(
        None, help="Write the summary (and .replications) as Parquet."
    ),
    html: Path | None = typer.Option(None, help="Write the HTML report with plots here."),
    json_path: Path | None = typer.Option(
        None, "--json", help="Write the summary (headline, warnings, rows) as JSON."
    ),
    influx_url: str | None = typer.Option(
        None, help="Also write results to this InfluxDB (v1 /write), e.g. http://localhost:8086."
    ),
    influx_database: str = typer.Option(
        "twin",
        "--influx-database",
        envvar="TWIN_INFLUX_DATABASE",
        help="InfluxDB database (v1) or bucket mapping.",
    ),
    influx_token: str | None = typer.Option(
        None, "--influx-token", envvar="TWIN_INFLUX_TOKEN", help="InfluxDB API token."
    ),
    check: bool = typer.Option(False, "--check", help="Validate and list variants; no runs."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the result tables."),
) -> None:
    """Run a what-if study: variants x replications, intervals, paired comparisons, report."""
    _check_scheduler(scheduler)
    try:
        study = load_study(study_path, replications=replications, run_length=run_length, seed=seed)
    except StudyError as exc:
        raise _fail(str(exc)) from None
    try:
        runner = make_executor(executor, workers, scheduler)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _check_outputs(
        {
            "the study file": study_path,
            "the scenario file": study_path.parent / study.spec.scenario,
        },
        {"--csv": csv, "--parquet": parquet, "--html": html, "--json": json_path},
        influx_url,
        influx_database,
    )
    if check:
        _check(study)
        return
    _warn_if_large(study)
    done, result = [0], None
    # the first SIGINT or SIGTERM (kill, docker stop) raises KeyboardInterrupt in here; later
    # ones are only noted while the study stops
    with stop_requests(interrupt=True) as stop:
        try:
            began = time.perf_counter()
            result = _run(study, runner, progress, done)
            log.info(
                "%s: %d replications in %.1f s",
                study.name,
                len(result.runs),
                time.perf_counter() - began,
            )
            if not quiet:
                from analytics.whatif.tables import print_result

                print_result(result)
            failed = _outputs(result, csv, parquet, html, json_path)
            if influx_url:
                _influx(result, influx_url, influx_database, influx_token)
        except KeyboardInterrupt:
            if result is None:
                log.warning(
                    "%s: stopped by %s (%d runs finished); nothing written",
                    study.name,
                    stop.name,
                    done[0],
                )
            else:
                log.warning(
                    "%s: stopped by %s while giving the results; each output file is whole or "
                    "as it was",
                    study.name,
                    stop.name,
                )
            raise typer.Exit(130) from None
    if failed:
        raise _fail("; ".join(failed), code=1)


def register(app: typer.Typer) -> None:
    """Add the ``whatif`` command to the ``twin`` app."""
    app.command("whatif")(whatif_command)
