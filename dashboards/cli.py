"""``twin dashboards``: build, check and push the Grafana dashboards."""

from __future__ import annotations

import typer

app = typer.Typer(help="Grafana dashboards as code: build, check, push.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add ``twin dashboards`` to the ``twin`` app."""
    root.add_typer(app, name="dashboards")
