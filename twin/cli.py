"""Entry point of the ``twin`` command; each package contributes its commands here.

Commands load lazily: ``twin --help`` lists them from the table below without importing them,
and ``twin CMD`` imports only the module that defines CMD (so ``twin run`` never loads asyncua,
influxdb_client, scipy, dask or matplotlib). Each module exposes ``register(app)``.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

import typer
from typer.core import TyperGroup


class LazyCommand(NamedTuple):
    """Where a command lives and the one line ``twin --help`` shows for it."""

    module: str
    register: str
    help: str


#: Every ``twin`` command in the order ``twin --help`` lists them. ``help`` must be the first
#: line of the command's docstring (tests/test_cli_lazy.py checks it).
COMMANDS: dict[str, LazyCommand] = {
    "validate": LazyCommand(
        "plant_sim.cli", "register", "Check a scenario file; names the path of every problem."
    ),
    "schema": LazyCommand(
        "plant_sim.cli",
        "register",
        "Print the JSON Schema of scenario files (for editor completion).",
    ),
    "run": LazyCommand(
        "twin.run",
        "register",
        "Run a scenario headless, far faster than real time; print its summary and KPIs.",
    ),
    "sim": LazyCommand(
        "plant_sim.live.cli",
        "register",
        "Run SCENARIO live: paced clock, OPC UA server and MQTT (UNS) publisher.",
    ),
    "gateway": LazyCommand(
        "gateway.cli",
        "register",
        "Subscribe to OPC UA and MQTT and store every record in InfluxDB, losing nothing.",
    ),
    "kpi": LazyCommand(
        "analytics.cli",
        "register",
        "Compute ISO 22400, flow, supply, loss and bottleneck KPIs from a saved event log.",
    ),
    "whatif": LazyCommand(
        "analytics.whatif.cli",
        "register",
        "Run a what-if study: variants x replications, intervals, paired comparisons, report.",
    ),
    "analytics": LazyCommand(
        "analytics.service.cli",
        "register_analytics",
        "Compute KPIs per station, line and plant for the current shift, hour and day, repeatedly.",
    ),
    "backfill": LazyCommand(
        "analytics.service.cli",
        "register_backfill",
        "Simulate the past days and write telemetry and KPIs straight into InfluxDB.",
    ),
    "dashboards": LazyCommand(
        "dashboards.cli", "register", "Grafana dashboards as code: build, check, push."
    ),
    "demo": LazyCommand(
        "twin.demo.cli",
        "register",
        "Start the plant, broker, InfluxDB, gateway, analytics and Grafana; Ctrl-C stops all.",
    ),
    "top": LazyCommand(
        "twin.top.cli",
        "register",
        "Show each station's state, OEE with A, P, Q, losses, orders and gateway lag, live.",
    ),
}


class LazyGroup(TyperGroup):
    """A typer group that imports a command's module only when the command is used."""

    _listing = False  # True while the help lists the commands: no import needed then

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        spec = COMMANDS[cmd_name]
        if self._listing:
            return typer.core.TyperCommand(cmd_name, help=spec.help, short_help=spec.help)
        staging = typer.Typer(rich_markup_mode=None)
        getattr(importlib.import_module(spec.module), spec.register)(staging)
        for name, command in typer.main.get_group(staging).commands.items():
            self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="twin",
    cls=LazyGroup,
    help="Smart Factory Twin: simulate a plant, stream it over OPC UA and MQTT, compute KPIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rendering it with rich costs 0.1 s of start-up
)


def version() -> str:
    """Return the installed version of the project (``unknown`` when it is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("smart-factory-twin")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"twin {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    _version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Smart Factory Twin: simulate a plant, stream it over OPC UA and MQTT, compute KPIs."""
    from plant_sim.logs import configure

    configure(logging.DEBUG if verbose else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 runtime failure, 2 usage or input error.

    Without ``argv`` (the ``twin`` program itself, which ends right after) the objects of the
    run are left out of the collections at exit (``skip_exit_collection``)."""
    code = _main(argv)
    if argv is None:
        from plant_sim.gc_pause import skip_exit_collection

        skip_exit_collection()
    return code


def _main(argv: Sequence[str] | None) -> int:
    """Run the CLI with ``argv`` (default: the command line); return its exit code."""
    try:
        app(args=list(argv) if argv is not None else None, standalone_mode=True)
    except ModuleNotFoundError as exc:  # a command of an extra that is not installed
        from twin.extras import install_hint

        hint = install_hint(exc)
        if hint is None:
            raise
        print(f"error: {hint}", file=sys.stderr)
        return 1
    except SystemExit as exc:  # click ends every standalone run this way
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
