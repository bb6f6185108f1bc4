"""``twin analytics`` (the periodic KPI service) and ``twin backfill`` (history at first start).

Both read their InfluxDB settings from options or the same environment variables as the
gateway (``TWIN_INFLUX_URL``, ``TWIN_INFLUX_DATABASE``, ``TWIN_INFLUX_TOKEN``, ...). Exit codes:
2 for bad options or scenarios, 1 when InfluxDB cannot be used.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import typer

from plant_sim import cli_options as options
from plant_sim.durations import seconds_text
from plant_sim.naming import name_problem
from plant_sim.records import MAX_TS_MS
from twin_io.influx import (
    InfluxConfig,
    InfluxError,
    InfluxQL,
    ensure_dbrp,
    server_version,
    settings_problem,
)
from twin_io.stop_signals import StopRequest, stop_requests
from twin_io.urls import hide_passwords

logger = logging.getLogger(__name__)


def _wait_seconds(value: float) -> float:
    if not (math.isfinite(value) and value >= 0):  # nan: never gave up on an unreachable server
        raise typer.BadParameter(f"{value:g} is not a number of seconds (0 or more)")
    return value


WAIT = typer.Option(
    60.0, "--wait", callback=_wait_seconds, help="Seconds to wait for InfluxDB at start."
)


def _fail(message: str, code: int) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _influx_config(
    url: str,
    database: str,
    token: str | None,
    username: str | None,
    password: str | None,
    org: str | None,
) -> InfluxConfig:
    """Return the settings; exit 2 naming the option for a URL or database that cannot work."""
    if (problem := settings_problem(url, database)) is not None:
        raise typer.BadParameter(problem[1], param_hint=problem[0])
    return InfluxConfig(url, database, token, username, password, org)


def connect(config: InfluxConfig, wait_s: float, stop: threading.Event | None = None) -> str:
    """Wait for InfluxDB; on 2.x with an org, make sure the DBRP mapping exists. Returns version
    (``""`` when ``stop`` was set during the wait: the caller stops)."""
    if not logger.isEnabledFor(logging.DEBUG):  # one log line per request is noise here
        logging.getLogger("httpx").setLevel(logging.WARNING)
    where = hide_passwords(config.url)
    stop = stop or threading.Event()
    started = time.monotonic()
    deadline = started + wait_s
    attempts = 0
    while True:
        try:
            version = server_version(config)
            break
        except InfluxError as exc:
            attempts += 1
            if time.monotonic() >= deadline:
                raise
            if attempts == 1:
                logger.info(
                    "waiting up to %s s for InfluxDB at %s (%s)",
                    seconds_text(wait_s),
                    where,
                    hide_passwords(str(exc)),
                )
            if stop.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                return ""
    if attempts:
        logger.info(
            "InfluxDB at %s answers after %s s", where, seconds_text(time.monotonic() - started)
        )
    if version.lstrip("vV").startswith("2") and config.org:
        ensure_dbrp(config)
    logger.info("InfluxDB %s at %s, database %s", version or "?", where, config.database)
    return version


def _refuse_legacy(config: InfluxConfig) -> None:
    """Exit 1 with what to do when the database was written by an older version."""
    from analytics.service.legacy import legacy_problem

    problem = legacy_problem(InfluxQL(config))
    if problem is not None:
        raise _fail(problem, 1)


def analytics(
    influx_url: str = options.influx_url(),
    influx_database: str = options.influx_database(),
    influx_token: str = options.influx_token(),
    influx_org: str = options.influx_org(),
    influx_username: str = options.influx_username(),
    influx_password: str = options.influx_password(),
    interval: float = options.interval(30.0, "Seconds between cycles."),
    run_id: list[str] = typer.Option(
        [], "--run-id", help="Follow this run (repeat); default: the run with the newest data."
    ),
    settle: float = typer.Option(
        900.0,
        "--settle",
        help="Data seconds past a window's end before it is final; also the seconds "
        "without a gateway_stats point after which an ended run's last windows stop waiting "
        "for that gateway.",
    ),
    once: bool = typer.Option(False, "--once", help="Run one cycle and exit."),
    health_file: Path = typer.Option(
        None, "--health-file", help="Touched after every good cycle (container health)."
    ),
    wait: float = WAIT,
) -> None:
    """Compute KPIs per station, line and plant for the current shift, hour and day, repeatedly."""
    with stop_requests() as stop:  # first thing: a signal while starting is a clean stop
        from analytics.service.reader import RunReader
        from analytics.service.service import AnalyticsService
        from analytics.service.writer import LineWriter, make_sink

        if not 0 <= settle < math.inf:  # nan: a traceback; negative: windows final too early
            raise typer.BadParameter(
                f"{settle:g} is not a number of seconds (0 or more)", param_hint="--settle"
            )
        for run in run_id:
            if (problem := name_problem(run)) is not None:
                raise typer.BadParameter(f"{run!r}: {problem}", param_hint="--run-id")
        if health_file is not None and not health_file.parent.is_dir():  # each touch would fail
            raise typer.BadParameter(
                f"{health_file}: no such directory", param_hint="--health-file"
            )
        config = _influx_config(
            influx_url, influx_database, influx_token, influx_username, influx_password, influx_org
        )
        try:
            connect(config, wait, stop.event)
            _stopped_while_starting(stop, config)
            _refuse_legacy(config)
            writer = LineWriter(make_sink(config))
            writer.prepare()
            service = AnalyticsService(
                RunReader(InfluxQL(config)),
                writer,
                run_id,
                health_file=health_file,
                settle_s=settle,
                source=f"InfluxDB at {hide_passwords(config.url)}",
            )
            _stopped_while_starting(stop, config)
        except InfluxError as exc:
            _stopped_while_starting(stop, config)  # the signal interrupted the request
            raise _fail(str(exc), 1) from None
        if not once:
            service.run_forever(interval, stop.event)  # a signal now: the cycle ends, exit 0
            return
    try:  # --once: Ctrl-C and SIGTERM end the one cycle at once (the handlers before are back)
        service.cycle()
    except InfluxError as exc:
        raise _fail(str(exc), 1) from None


def _stopped_while_starting(stop: StopRequest, config: InfluxConfig) -> None:
    """After a signal during the start: log it and exit, 130 for SIGINT (Ctrl-C), 0 for
    SIGTERM (as a SIGTERM between two cycles: a clean stop)."""
    if not stop.is_set():
        return
    logger.warning(
        "%s while starting (InfluxDB at %s): stopped before the first cycle",
        stop.name,
        hide_passwords(config.url),
    )
    raise typer.Exit(130 if stop.signal == signal.SIGINT else 0)


def _end_ms(text: str) -> int:
    if text == "now":
        return int(time.time() * 1000)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not 'now' or an ISO time", param_hint="--end"
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2026-01-19T00:00Z", param_hint="--end")
    end_ms = int(moment.timestamp() * 1000)
    if not 0 < end_ms <= MAX_TS_MS:
        raise typer.BadParameter(
            f"{text!r} is outside the times InfluxDB stores (1970-01-01 to {_day(MAX_TS_MS)})",
            param_hint="--end",
        )
    return end_ms


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def _check_span(end_ms: int, days: float) -> None:
    """Exit 2 naming ``--days`` unless the history is a positive span after 1970-01-01."""
    from analytics.service.backfill import aligned_start

    if not (math.isfinite(days) and days > 0):
        raise typer.BadParameter(f"{days:g} is not a positive number of days", param_hint="--days")
    if days * 86_400_000 > end_ms or aligned_start(end_ms, days) < 0:
        raise typer.BadParameter(
            f"{days:g} days before {_day(end_ms)} starts before 1970-01-01, the earliest time "
            "InfluxDB stores here",
            param_hint="--days",
        )


@contextlib.contextmanager
def _progress(show: bool, days: float) -> Iterator[Callable[[float, float], None] | None]:
    """A progress bar with the time left, on a terminal; else ``None`` (progress is logged)."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("backfill"),
        BarColumn(),
        TextColumn("{task.completed:.1f} of {task.total:.1f} days"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("backfill", total=days)
        yield lambda done_s, total_s: bar.update(
            task, completed=done_s / 86400, total=total_s / 86400
        )


def backfill(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    days: float = typer.Option(14.0, "--days", help="Days of history before --end."),
    end: str = typer.Option("now", "--end", help="End of the history: 'now' or an ISO time."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default: the scenario's)."),
    run_id: str = typer.Option(None, "--run-id", help="Default: NAME-backfill-DATE-sSEED."),
    skip_existing: bool = typer.Option(
        False,
        "--skip-existing",
        help="Do nothing if a whole backfill of this scenario (with its run_end) is stored.",
    ),
    influx_url: str = options.influx_url(),
    influx_database: str = options.influx_database(),
    influx_token: str = options.influx_token(),
    influx_org: str = options.influx_org(),
    influx_username: str = options.influx_username(),
    influx_password: str = options.influx_password(),
    wait: float = WAIT,
) -> None:
    """Simulate the past days and write telemetry and KPIs straight into InfluxDB."""
    from analytics.service.backfill import backfill as run_backfill
    from analytics.service.writer import BackgroundWriter, LineWriter, make_sink
    from plant_sim.cli import check_seed, load_or_exit

    end_ms = _end_ms(end)
    _check_span(end_ms, days)
    check_seed(seed)
    if run_id is not None and (problem := name_problem(run_id)) is not None:
        raise typer.BadParameter(problem, param_hint="--run-id")
    sc = load_or_exit(scenario)
    config = _influx_config(
        influx_url, influx_database, influx_token, influx_username, influx_password, influx_org
    )
    # Ctrl-C and SIGTERM (docker compose down) stop it after the day being simulated: what is
    # simulated by then is written, the run stays without its run_end
    with stop_requests() as stop:
        try:
            connect(config, wait, stop.event)
            if not stop.is_set():
                _refuse_legacy(config)
            if not stop.is_set() and skip_existing and _backfill_stored(config, sc.name):
                return
            if stop.is_set():
                logger.warning("backfill: stopped by %s before it began", stop.name)
                raise typer.Exit(130)
            line_writer = LineWriter(make_sink(config))
            line_writer.prepare()
            writer = BackgroundWriter(line_writer)
            try:
                with _progress(sys.stderr.isatty(), days) as on_progress:
                    result = run_backfill(
                        sc,
                        end_ms,
                        days,
                        writer.put,
                        seed=seed,
                        run_id=run_id,
                        on_progress=on_progress,
                        stop=stop.event,
                    )
            finally:
                writer.close()
        except InfluxError as exc:
            raise _fail(str(exc), 1) from None
    if not result.complete:
        logger.warning(
            "backfill %s: stopped by %s after %.2f of %.2f days; written up to there, without "
            "its run_end (twin backfill --skip-existing backfills again)",
            result.run_id,
            stop.name,
            (result.done_s or 0.0) / 86400,
            result.sim_days,
        )
        raise typer.Exit(130)
    print(
        f"backfill {result.run_id}: {result.sim_days:.2f} days, {result.records} records, "
        f"{result.kpi_lines} KPI points ({result.windows} windows) in {result.seconds:.1f} s "
        f"({result.sim_days / result.seconds * 60:.1f} simulated days per minute)"
    )


def _backfill_stored(config: InfluxConfig, name: str) -> bool:
    """Say (print) whether a whole backfill of scenario ``name`` is stored: one with its
    ``run_end``. A backfill stored without it (stopped early) is named in the log and does not
    count: ``--skip-existing`` backfills again."""
    from analytics.service.reader import RunReader

    reader = RunReader(InfluxQL(config))
    stored = sorted(r for r in reader.latest_by_run() if r.startswith(f"{name}-backfill-"))
    ended = reader.ended_runs()
    done = [r for r in stored if r in ended]
    if done:
        print(f"backfill skipped: {', '.join(done)} already stored")
        return True
    for run in stored:
        logger.warning(
            "backfill %s is stored without its run_end (stopped early): backfilling again", run
        )
    return False


def register_analytics(app: typer.Typer) -> None:
    """Add ``twin analytics`` to the ``twin`` app."""
    app.command("analytics")(analytics)


def register_backfill(app: typer.Typer) -> None:
    """Add ``twin backfill`` to the ``twin`` app."""
    app.command("backfill")(backfill)


__all__ = ["analytics", "backfill", "connect", "register_analytics", "register_backfill"]
