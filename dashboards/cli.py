"""``twin dashboards build|check|push``: the Grafana dashboards as code."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
import yaml

from dashboards.checks import check
from dashboards.files import (
    ALERTS_FILE,
    JSON_DIR,
    build_all,
    load_all,
    render,
    render_alerts,
    write_alerts,
    write_all,
)
from dashboards.grafana_alerting import check_alert_file
from dashboards.model import DATASOURCE_UID, plant_timezone

app = typer.Typer(help="Grafana dashboards as code: build, check, push.", no_args_is_help=True)


def _thresholds() -> dict[str, str]:
    """The alert thresholds set in the environment (``TWIN_ALERT_*``); exit 2 when one is bad."""
    from dashboards.alerts import check_thresholds, thresholds_from_env

    given = thresholds_from_env(os.environ)
    try:
        check_thresholds(given)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    return given


_TIMEZONE_HELP = (
    "The plant's IANA time zone (the scenario's `timezone`, e.g. Europe/Berlin): times shown "
    "and day-over-day buckets in its calendar, daylight saving included (default: UTC)."
)


def _timezone(name: str | None) -> str | None:
    """The ``--timezone`` value checked; exit 2 naming the option when it is no zone."""
    try:
        return plant_timezone(name)
    except ValueError as exc:
        print(f"error: --timezone: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


@app.command("build")
def build_command(
    out: Path = typer.Option(JSON_DIR, "--out", help="Directory for the JSON files."),
    timezone: str = typer.Option(None, "--timezone", help=_TIMEZONE_HELP),
) -> None:
    """Write the dashboard JSON files and the alert rules from their Python builders.

    Alert thresholds come from TWIN_ALERT_* environment variables (defaults otherwise) and are
    written into the rules: Grafana does not put variables into alert queries.
    """
    zone = _timezone(timezone)
    thresholds = _thresholds()
    try:
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(0, "not a directory")
        paths = write_all(out, zone)
    except OSError as exc:  # --out is a file, or a folder that cannot be made or written
        print(f"error: --out: {out}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    for path in paths:
        print(path)
    if out == JSON_DIR:  # the provisioned alert rules go with the committed boards
        try:
            print(write_alerts(thresholds=thresholds))
        except OSError as exc:  # the old file stays whole (written_whole)
            print(f"error: {ALERTS_FILE}: {exc.strerror or exc}", file=sys.stderr)
            raise typer.Exit(1) from None


@app.command("check")
def check_command(
    directory: Path = typer.Option(JSON_DIR, "--dir", help="Directory of dashboard JSON."),
    timezone: str = typer.Option(None, "--timezone", help=_TIMEZONE_HELP),
) -> None:
    """Check the dashboard files: structure, datasource uid, queries; exit 1 on problems."""
    zone = _timezone(timezone)
    if not directory.is_dir():
        print(f"error: --dir: {directory} is not a directory", file=sys.stderr)
        raise typer.Exit(2)
    try:
        boards = load_all(directory)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    problems = check(boards)
    if directory == JSON_DIR:
        built = build_all(zone)
        problems += [
            f"{name}: differs from its builder; run twin dashboards build"
            for name, board in built.items()
            if name not in boards or render(boards[name]) != render(board)
        ]
        text = ALERTS_FILE.read_text(encoding="utf-8") if ALERTS_FILE.exists() else ""
        if text != render_alerts(_thresholds()):
            problems.append(
                f"{ALERTS_FILE.name}: differs from its builder; run twin dashboards build"
            )
        problems += [
            f"{ALERTS_FILE.name}: {p}"
            for p in check_alert_file(yaml.safe_load(text) or {}, (DATASOURCE_UID,))
        ]
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        raise typer.Exit(1)
    print(f"{len(boards)} dashboards OK")


def _check_push_input(grafana_url: str, directory: Path) -> None:
    """Exit 2 naming the option, before connecting, for a Grafana URL that is not http(s)
    and a --dir that is not a directory."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(grafana_url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        print(
            f"error: --grafana-url: {grafana_url!r} is not an http(s) URL"
            " (e.g. http://localhost:3000)",
            file=sys.stderr,
        )
        raise typer.Exit(2)
    if not directory.is_dir():
        print(f"error: --dir: {directory} is not a directory", file=sys.stderr)
        raise typer.Exit(2)


@app.command("push")
def push_command(
    grafana_url: str = typer.Option(
        ...,
        "--grafana-url",
        envvar="GRAFANA_URL",
        help="Grafana base URL, e.g. http://localhost:3000.",
    ),
    token: str = typer.Option(
        None,
        "--grafana-token",
        envvar="GRAFANA_TOKEN",
        help="Service-account token (or use --user/--password).",
    ),
    user: str = typer.Option(None, "--user", envvar="GRAFANA_USER", help="Grafana user."),
    password: str = typer.Option(
        None, "--password", envvar="GRAFANA_PASSWORD", help="Grafana password."
    ),
    influx_url: str = typer.Option(
        None,
        "--influx-url",
        help="Create the datasource if missing, pointing at this InfluxDB (as Grafana sees it).",
    ),
    database: str = typer.Option(
        "twin",
        "--influx-database",
        envvar="TWIN_INFLUX_DATABASE",
        help="Datasource database (DBRP).",
    ),
    influx_token: str = typer.Option(
        None,
        "--influx-token",
        envvar="TWIN_INFLUX_TOKEN",
        help="Token the datasource sends to InfluxDB.",
    ),
    directory: Path = typer.Option(JSON_DIR, "--dir", help="Directory of dashboard JSON."),
) -> None:
    """Upload the dashboards to an existing Grafana (grafana-client)."""
    from dashboards.push import PushError, connect, ensure_datasource, push

    _check_push_input(grafana_url, directory)

    credential: str | tuple[str, str] | None = token
    if credential is None and user:
        credential = (user, password or "")
    try:
        api = connect(grafana_url, credential)
        if influx_url and ensure_datasource(api, influx_url, database, influx_token):
            print("datasource created")
        for url in push(api, load_all(directory)):
            print(f"{grafana_url.rstrip('/')}{url}")
    except (PushError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None


def register(root: typer.Typer) -> None:
    """Add ``twin dashboards`` to the ``twin`` app."""
    root.add_typer(app, name="dashboards")
