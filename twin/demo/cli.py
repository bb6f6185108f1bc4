"""``twin demo``: the whole live pipeline on this machine, without Docker, in one command."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from plant_sim import cli_options as options
from twin_io.stop_signals import stop_requests

if TYPE_CHECKING:
    from twin.demo.stack import DemoOptions

err = Console(stderr=True, highlight=False)


def demo(
    scenario: Path = typer.Argument(
        Path("scenarios/plant_3lines.yaml"), help="Scenario YAML file.", metavar="[SCENARIO]"
    ),
    speed: float = typer.Option(1.0, "--speed", help="Speed factor of the live plant."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default: the scenario's)."),
    until: str = typer.Option(
        None, "--until", help="End the live run at this simulation time (default: Ctrl-C)."
    ),
    data_dir: Path = typer.Option(
        Path(".twin-demo"), "--data-dir", help="The one folder for data, logs and configs."
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Delete --data-dir's content first."),
    mqtt_url: str = options.mqtt_url(None),
    influx_url: str = options.influx_url(None),
    influx_database: str = options.influx_database(),
    influx_token: str = options.influx_token(),
    influx_org: str = options.influx_org(),
    backfill_days: float = typer.Option(
        1.0, "--backfill-days", help="Days of history written first (0: none)."
    ),
    analytics_interval: float = typer.Option(
        30.0, "--analytics-interval", help="Seconds between KPI cycles."
    ),
    grafana: bool = typer.Option(
        True, "--grafana/--no-grafana", help="Start Grafana when it is installed."
    ),
    top: bool = typer.Option(
        None,
        "--top/--no-top",
        help="Show `twin top` here (default: when Grafana is absent and this is a terminal).",
        show_default=False,
    ),
    opcua_port: int = typer.Option(
        4840, "--opcua-port", help="OPC UA port (another free one if taken)."
    ),
) -> None:
    """Start the plant, broker, InfluxDB, gateway, analytics and Grafana; Ctrl-C stops all.

    Mosquitto and influxd (1.x or 2.x) come from PATH unless --mqtt-url/--influx-url name
    running ones; Grafana is started when installed (provisioned from dashboards/), else
    `twin top` shows the plant in this terminal. Every endpoint is printed.
    """
    from plant_sim.cli import load_or_exit
    from twin.demo.stack import DemoOptions, remove_data

    sc = load_or_exit(scenario)  # a bad scenario is exit code 2 before anything starts
    if speed <= 0:
        raise typer.BadParameter("must be positive", param_hint="--speed")
    if analytics_interval <= 0:
        raise typer.BadParameter("must be positive", param_hint="--analytics-interval")
    if fresh:
        remove_data(data_dir)
    opts = DemoOptions(
        scenario=scenario,
        data_dir=data_dir.resolve(),
        speed=speed,
        seed=seed,
        until=until,
        mqtt_url=mqtt_url,
        influx_url=influx_url,
        influx_database=influx_database,
        influx_token=influx_token,
        influx_org=influx_org,
        backfill_days=backfill_days,
        analytics_interval=analytics_interval,
        grafana=grafana,
        opcua_port=opcua_port,
        run_id=f"{sc.name}-live-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
    )
    with stop_requests() as request:  # Ctrl-C and SIGTERM: every part stops, then the demo
        code = _serve(opts, request.event, top)
    raise typer.Exit(code)


def _serve(opts: DemoOptions, stop: threading.Event, top: bool | None) -> int:
    """Start the demo's parts, wait until ``stop`` is set (or a part dies), stop every part;
    return the exit code."""
    from twin.demo.procs import StartError
    from twin.demo.stack import Demo, MissingToolError, wait_for_data

    stack = Demo(opts, lambda text: err.print(text), interrupted=stop)
    try:
        endpoints = stack.start()
        _print_endpoints(endpoints)
        assert stack.influx is not None
        count = wait_for_data(stack.influx, opts.run_id, 120.0, stop)
        err.print(f"data is flowing: {count} state records of run {opts.run_id} stored")
        show_top = top if top is not None else (endpoints.grafana is None and sys.stdout.isatty())
        return _run(stack, stop, show_top)
    except (MissingToolError, StartError) as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True)
        return 1
    finally:
        stack.stop()
        err.print("demo stopped: nothing left running")


def _run(stack: object, stop: threading.Event, show_top: bool) -> int:
    """Wait for Ctrl-C (showing ``twin top`` if asked); 1 if a part died on its own."""
    from twin.demo.stack import Demo
    from twin_io.influx import InfluxConfig

    assert isinstance(stack, Demo) and stack.influx is not None
    watcher = threading.Thread(target=_watch, args=(stack, stop), daemon=True)
    watcher.start()
    if show_top:
        from twin.top.live import show

        i = stack.influx
        show(InfluxConfig(i.url, i.database, i.token), stop, run_id=stack.o.run_id, interval_s=2.0)
    else:
        err.print("running; Ctrl-C stops everything")
        stop.wait()
    dead = stack.failed()
    if dead is not None:
        err.print(f"[red]error:[/red] {dead.name} stopped: {dead.log_tail(600)}", markup=True)
        return 1
    return 0


def _watch(stack: object, stop: threading.Event) -> None:
    """Set ``stop`` when a long-running part dies."""
    from twin.demo.stack import Demo

    assert isinstance(stack, Demo)
    while not stop.wait(1.0):
        if stack.failed() is not None:
            stop.set()


def _print_endpoints(e: object) -> None:
    from twin.demo.stack import Endpoints

    assert isinstance(e, Endpoints)
    rows = [
        ("OPC UA", e.opcua),
        ("MQTT", e.mqtt),
        ("InfluxDB", f"{e.influx} (database {e.influx_database})"),
        ("Grafana", e.grafana or "not running (twin top shows the plant)"),
        ("data folder", e.data_dir),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {value}" for name, value in rows]
    err.print("demo is up:\n" + "\n".join(lines))
    err.print(f"  twin top --influx-url {e.influx} --influx-database {e.influx_database}")


def register(app: typer.Typer) -> None:
    """Add ``twin demo`` to the ``twin`` app."""
    app.command("demo")(demo)
