"""``twin top``: a live terminal view of a running plant, read from InfluxDB."""

from __future__ import annotations

import sys
import threading

import typer

from plant_sim import cli_options as options

WINDOW = typer.Option("shift", "--window", help="KPI window: shift, hour or day (newest one).")


def top(
    influx_url: str = options.influx_url(),
    influx_database: str = options.influx_database(),
    influx_token: str = options.influx_token(),
    influx_username: str = options.influx_username(),
    influx_password: str = options.influx_password(),
    run_id: str = typer.Option(None, "--run-id", help="Show this run (default: the newest)."),
    window: str = WINDOW,
    interval: float = options.interval(2.0, "Seconds between refreshes."),
    once: bool = typer.Option(False, "--once", help="Print one screen and exit."),
) -> None:
    """Show each station's state, OEE with A, P, Q, losses, orders and gateway lag, live."""
    from twin.top.live import show, snapshot_of
    from twin_io.influx import InfluxConfig, InfluxError, settings_problem

    if window not in ("shift", "hour", "day"):
        raise typer.BadParameter(f"{window!r} is not shift, hour or day", param_hint="--window")
    if (problem := settings_problem(influx_url, influx_database)) is not None:
        raise typer.BadParameter(problem[1], param_hint=problem[0])
    config = InfluxConfig(
        influx_url, influx_database, influx_token, influx_username, influx_password
    )
    try:
        if once:
            from rich.console import Console

            from twin.top.view import render

            Console().print(render(snapshot_of(config, run_id, window)))
            return
        show(config, threading.Event(), run_id=run_id, window=window, interval_s=interval)
    except InfluxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        return


def register(app: typer.Typer) -> None:
    """Add ``twin top`` to the ``twin`` app."""
    app.command("top")(top)
