"""``twin top``'s screen: a ``Snapshot`` as rich tables (coloured states, KPIs, losses, lag)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from twin.top.queries import Elements, ScopeView, Snapshot

STATE_STYLE = {
    "processing": "bold green",
    "setup": "cyan",
    "minor_stop": "yellow",
    "down": "bold red",
    "starved": "magenta",
    "blocked": "bright_magenta",
    "idle": "blue",
    "planned_downtime": "grey62",
    "off_shift": "grey42",
}
NONE = "—"


def pct(value: float | None) -> str:
    """A ratio as a percentage with one decimal, ``—`` when undefined."""
    return NONE if value is None else f"{value * 100:.1f} %"


def num(value: object, fmt: str = "{:,.0f}") -> str:
    """A number formatted, ``—`` when missing."""
    return NONE if value is None else fmt.format(float(value))  # type: ignore[arg-type]


def clock(ms: int | None) -> str:
    """Epoch ms as a UTC date and time."""
    if ms is None:
        return NONE
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """Seconds as ``1h02m``, ``4m05s`` or ``12s``."""
    s = max(int(seconds), 0)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def _oee_cells(e: Elements) -> list[str]:
    return [pct(e.oee), pct(e.availability), pct(e.performance), pct(e.quality)]


def header(snap: Snapshot) -> Text:
    """The first line: run, data clock, window."""
    if snap.run_id is None:
        return Text(snap.note or "no data", style="bold yellow")
    window = snap.window if not snap.shift else f"shift {snap.shift}"
    text = Text.assemble(
        ("twin top ", "bold"),
        f"run {snap.run_id} · data time {clock(snap.latest_ms)} UTC · ",
        (f"{window} since {clock(snap.window_start_ms)}", "bold"),
    )
    if snap.note:
        text.append(f"\n{snap.note}", style="yellow")
    return text


def station_table(snap: Snapshot) -> Table:
    """One row per station: state (coloured) and since when, parts, OEE with A, P, Q."""
    table = Table(title="Stations", title_justify="left", expand=False)
    for col in ("line", "station", "state", "since", "for"):
        table.add_column(col)
    for col in ("parts", "good", "OEE", "A", "P", "Q"):
        table.add_column(col, justify="right")
    for s in snap.stations:
        state = s.state + (f" ({s.reason})" if s.reason else "")
        age = (snap.latest_ms - s.since_ms) / 1000 if snap.latest_ms else 0.0
        table.add_row(
            s.line,
            s.station,
            Text(state, style=STATE_STYLE.get(s.state, "")),
            clock(s.since_ms)[11:],
            duration(age),
            num(s.elements.pq),
            num(s.elements.gq),
            *_oee_cells(s.elements),
        )
    return table


def scope_table(lines: list[ScopeView], plant: ScopeView | None) -> Table:
    """Lines and the plant: OEE with A, P, Q, output, throughput, WIP."""
    table = Table(title="Lines and plant", title_justify="left")
    table.add_column("scope")
    for col in ("OEE", "A", "P", "Q", "produced", "good", "exit/h", "WIP avg"):
        table.add_column(col, justify="right")
    for view in [*lines, *([plant] if plant else [])]:
        v = view.values
        table.add_row(
            Text(view.scope, style="bold" if view.scope == "plant" else ""),
            *_oee_cells(view.elements),
            num(view.elements.pq),
            num(view.elements.gq),
            num(v.get("exit_rate_uph"), "{:,.1f}"),
            num(v.get("wip_avg"), "{:,.1f}"),
        )
    return table


def delivery_table(snap: Snapshot) -> Table:
    """Orders: backlog and on-time delivery; the gateway's lag."""
    table = Table(title="Orders and gateway", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    v = snap.plant.values if snap.plant else {}
    table.add_row("on-time delivery", pct(v.get("otd")))
    table.add_row("backlog (orders)", num(v.get("backlog_orders")))
    table.add_row("backlog (units)", num(v.get("backlog_units")))
    table.add_row("late orders in backlog", num(v.get("late_backlog_orders")))
    g = snap.gateway
    if g.get("p50") is not None and g["p50"] < 0:  # record times run ahead at a speed above 1
        lag = "— (plant time ahead of the clock)"
    else:
        lag = f"{num(g.get('p50'))} / {num(g.get('p99'))} ms"
    table.add_row("gateway lag p50 / p99", lag)
    table.add_row("gateway buffered", num(g.get("buffered")))
    return table


def loss_table(snap: Snapshot, top: int = 5) -> Table:
    """The plant's top losses of the window by stop time."""
    table = Table(title=f"Top {top} losses", title_justify="left")
    table.add_column("reason")
    table.add_column("stops", justify="right")
    table.add_column("time", justify="right")
    for reason, events, seconds in snap.losses[:top]:
        table.add_row(reason, str(events), duration(seconds))
    if not snap.losses:
        table.add_row(NONE, NONE, NONE)
    return table


def render(snap: Snapshot) -> RenderableType:
    """The whole screen."""
    parts: list[RenderableType] = [header(snap)]
    if snap.run_id is not None:
        parts += [
            station_table(snap),
            scope_table(snap.lines, snap.plant),
            loss_table(snap),
            delivery_table(snap),
        ]
    return Group(*parts)
