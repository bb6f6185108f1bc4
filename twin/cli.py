"""Entry point of the ``twin`` command; each package contributes its commands here."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import typer

app = typer.Typer(
    name="twin",
    help="Smart Factory Twin: simulate a plant, stream it over OPC UA and MQTT, compute KPIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    """Smart Factory Twin: simulate a plant, stream it over OPC UA and MQTT, compute KPIs."""
    from plant_sim.logs import configure

    configure(logging.DEBUG if verbose else logging.INFO)


def _register() -> None:
    """Attach every package's commands (each module exposes ``register(app)``)."""
    from plant_sim import cli as plant_sim_cli

    plant_sim_cli.register(app)
    app.command("run")(__import__("twin.run").run.run)  # twin run (headless + KPIs)
    __import__("plant_sim.live.cli").live.cli.register(app)  # twin sim (live twin)
    __import__("gateway.cli").cli.register(app)  # twin gateway
    __import__("analytics.cli").cli.register(app)  # twin kpi
    __import__("analytics.whatif.cli").whatif.cli.register(app)  # twin whatif
    __import__("analytics.service.cli").service.cli.register_analytics(app)  # twin analytics
    __import__("analytics.service.cli").service.cli.register_backfill(app)  # twin backfill
    __import__("dashboards.cli").cli.register(app)  # twin dashboards
    __import__("twin.demo.cli").demo.cli.register(app)  # twin demo
    __import__("twin.top.cli").top.cli.register(app)  # twin top
    # Further packages register here: analytics, gateway, live twin, what-if, dashboards.


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 runtime failure, 2 usage or input error."""
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
