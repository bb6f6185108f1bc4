"""Refresh ``twin top``'s screen until told to stop."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.live import Live
from rich.text import Text

from twin.top.queries import Snapshot, snapshot
from twin.top.view import render
from twin_io.influx import InfluxConfig, InfluxError, InfluxQL


def snapshot_of(config: InfluxConfig, run_id: str | None = None, window: str = "shift") -> Snapshot:
    """Read one snapshot from the InfluxDB of ``config``."""
    return snapshot(InfluxQL(config), run_id, window)


def show(
    config: InfluxConfig,
    stop: threading.Event,
    *,
    run_id: str | None = None,
    window: str = "shift",
    interval_s: float = 2.0,
    console: Console | None = None,
) -> None:
    """Redraw the screen every ``interval_s`` until ``stop`` is set (errors shown, retried)."""
    ql = InfluxQL(config)
    with Live(Text("reading InfluxDB..."), console=console, auto_refresh=False) as live:
        while not stop.is_set():
            try:
                live.update(render(snapshot(ql, run_id, window)), refresh=True)
            except InfluxError as exc:
                live.update(Text(f"InfluxDB: {exc}", style="red"), refresh=True)
            stop.wait(interval_s)
