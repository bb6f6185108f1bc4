"""Command-line options shared by every ``twin`` command: one name and one variable per concept.

InfluxDB is always ``--influx-url``, ``--influx-database``, ``--influx-token``, ``--influx-org``,
``--influx-username``/``--influx-password`` with ``TWIN_INFLUX_URL``, ``TWIN_INFLUX_DATABASE``,
``TWIN_INFLUX_TOKEN``, ``TWIN_INFLUX_ORG``, ``TWIN_INFLUX_USERNAME``, ``TWIN_INFLUX_PASSWORD``
(the gateway's settings have the same names); the MQTT broker is ``--mqtt-url`` with
``TWIN_MQTT_URL``; files written are ``--out``.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

MAX_INTERVAL_S = 86_400.0


def _interval_seconds(value: float) -> float:
    if not 0 < value <= MAX_INTERVAL_S:  # nan did not pause at all; inf: OverflowError
        raise typer.BadParameter(f"{value:g} is not a number of seconds above 0 and up to 86400")
    return value


def interval(default: float, help: str) -> float:
    """``--interval``: seconds between the cycles of a repeating command, above 0, <= a day."""
    return typer.Option(default, "--interval", callback=_interval_seconds, help=help)


def influx_url(default: str | None = "http://localhost:8086") -> str:
    """``--influx-url`` (``TWIN_INFLUX_URL``)."""
    return typer.Option(
        default,
        "--influx-url",
        envvar="TWIN_INFLUX_URL",
        help="InfluxDB base URL (1.x, 2.x or 3.x).",
    )


def influx_database() -> str:
    """``--influx-database`` (``TWIN_INFLUX_DATABASE``); ``--database`` stays a hidden alias."""
    return typer.Option(
        "twin",
        "--influx-database",
        envvar="TWIN_INFLUX_DATABASE",
        help="Database (1.x, 3.x) or DBRP database name (2.x).",
    )


def influx_token() -> str | None:
    """``--influx-token`` (``TWIN_INFLUX_TOKEN``)."""
    return typer.Option(
        None,
        "--influx-token",
        envvar="TWIN_INFLUX_TOKEN",
        show_default=False,
        help="API token (2.x, 3.x), sent as 'Authorization: Token ...'.",
    )


def influx_org() -> str | None:
    """``--influx-org`` (``TWIN_INFLUX_ORG``)."""
    return typer.Option(
        None,
        "--influx-org",
        envvar="TWIN_INFLUX_ORG",
        help="2.x organisation: with it, the DBRP mapping is created if missing.",
    )


def influx_username() -> str | None:
    """``--influx-username`` (``TWIN_INFLUX_USERNAME``)."""
    return typer.Option(
        None, "--influx-username", envvar="TWIN_INFLUX_USERNAME", help="1.x user name."
    )


def influx_password() -> str | None:
    """``--influx-password`` (``TWIN_INFLUX_PASSWORD``)."""
    return typer.Option(
        None,
        "--influx-password",
        envvar="TWIN_INFLUX_PASSWORD",
        show_default=False,
        help="1.x password.",
    )


def mqtt_url(default: str | None = "mqtt://127.0.0.1:1883") -> str:
    """``--mqtt-url`` (``TWIN_MQTT_URL``)."""
    return typer.Option(
        default,
        "--mqtt-url",
        envvar="TWIN_MQTT_URL",
        help="MQTT broker URL: mqtt://host:port (user:password@ before host; mqtts:// TLS).",
    )


def output_file_problem(path: Path) -> str | None:
    """What keeps a command from writing its output file ``path`` (``--out``): a directory,
    a directory that does not exist, no permission; ``None`` if it can be written."""
    if path.is_dir():
        return f"{path} is a directory; give a file name"
    if not path.parent.is_dir():
        return f"directory {path.parent} does not exist"
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{path} cannot be written (permissions)"
    return None
