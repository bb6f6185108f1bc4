"""The ``twin kpi`` command and the KPI tables that ``twin run`` prints.

``register(app)`` adds ``kpi EVENTLOG [--window START:END] [--format table|json|csv]``;
``print_kpi_tables(report, fmt)`` renders a ``KpiReport`` as rich tables, JSON or CSV. Names,
units and better-directions come from ``analytics.registry``. Undefined values print as "—".
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

import typer

from analytics.registry import KPI_BY_ID
from analytics.report import KpiReport, ScopeResult, compute_report
from plant_sim.cli_options import output_file_problem
from plant_sim.durations import parse_duration

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

FORMATS = ("table", "json", "csv")
UNDEFINED = "—"

_MAIN = (
    "availability",
    "effectiveness",
    "quality_ratio",
    "oee",
    "nee",
    "technical_eff",
    "setup_rate",
    "allocation_eff",
    "utilization_eff",
)
_OUTPUT = (
    "throughput_uph",
    "scrap_ratio",
    "rework_ratio",
    "fpy",
    "failures",
    "mtbf_h",
    "mttr_h",
    "minor_stops",
    "energy_kwh",
    "epu_kwh",
    "epgu_kwh",
    "idle_energy_kwh",
)
_ELEMENTS = (
    ("PBT", "pbt_s"),
    ("APT", "apt_s"),
    ("AUST", "aust_s"),
    ("ADET", "adet_s"),
    ("ADOT", "adot_s"),
    ("PDOT", "pdot_s"),
    ("off shift", "outside_s"),
    ("starved", "starved_s"),
    ("material", "material_starved_s"),
    ("blocked", "blocked_s"),
)
_SHORT = {
    "availability": "A",
    "effectiveness": "E",
    "quality_ratio": "QR",
    "oee": "OEE",
    "nee": "NEE",
    "technical_eff": "TE",
    "setup_rate": "Setup",
    "allocation_eff": "Alloc",
    "utilization_eff": "Util",
    "throughput_uph": "u/h",
    "scrap_ratio": "Scrap",
    "rework_ratio": "Rework",
    "fpy": "FPY",
    "failures": "FE",
    "mtbf_h": "MTBF h",
    "mttr_h": "MTTR h",
    "minor_stops": "Minor",
    "energy_kwh": "kWh",
    "epu_kwh": "kWh/u",
    "epgu_kwh": "kWh/good",
    "idle_energy_kwh": "idle kWh",
}


def fmt_value(metric: str, value: object) -> str:
    """Return a value for a table: percent for ratios, "—" for undefined."""
    if value is None:
        return UNDEFINED
    if isinstance(value, bool):
        return "yes" if value else "no"
    spec = KPI_BY_ID.get(metric)
    if spec is not None and spec.is_ratio and isinstance(value, float):
        return f"{100 * value:.1f}%"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if metric.endswith("_s"):
            return f"{value / 60:.1f} min"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _table(title: str, first: str, columns: list[str]) -> Table:
    from rich.table import Table  # rich only for tables: json and csv need none of it

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column(first)
    for c in columns:
        table.add_column(c, justify="right")
    return table


def _add_row(table: Table, *cells: str) -> None:
    """Add a row of plain-text cells. A cell without markup or emoji codes (no ``[`` or
    ``:``) goes in as ``Text``, the same text rich would make of it after parsing for both."""
    from rich.text import Text

    table.add_row(*(Text(c) if "[" not in c and ":" not in c else c for c in cells))


def _kpi_table(title: str, scopes: list[ScopeResult], metrics: tuple[str, ...]) -> Table:
    table = _table(title, "scope", [_SHORT.get(m, m) for m in metrics])
    for s in scopes:
        vals = s.kpis.as_dict()
        cells = [fmt_value(m, vals[m]) for m in metrics]
        if "effectiveness" in metrics and s.kpis.effectiveness_over_100:
            cells[metrics.index("effectiveness")] += " !"
        _add_row(table, s.scope, *cells)
    return table


def _elements_table(scopes: list[ScopeResult]) -> Table:
    table = _table("Time elements (h)", "scope", [n for n, _ in _ELEMENTS])
    for s in scopes:
        d = s.elements.as_dict()
        _add_row(table, s.scope, *(f"{d[k] / 3600:.2f}" for _, k in _ELEMENTS))
    return table


def _shift_table(report: KpiReport) -> Table:
    metrics = ("availability", "effectiveness", "quality_ratio", "oee", "throughput_uph")
    table = _table("Shifts (plant)", "shift", ["from h", "to h", *(_SHORT[m] for m in metrics)])
    for sh in chain(report.shift_totals, report.shifts):  # occurrences built one at a time
        vals = sh.plant.kpis.as_dict()
        span = (
            ("all", "") if sh.t0_s is None else (f"{sh.t0_s / 3600:.1f}", f"{sh.t1_s / 3600:.1f}")
        )  # type: ignore[operator]
        _add_row(table, sh.shift, *span, *(fmt_value(m, vals[m]) for m in metrics))
    return table


def _loss_tables(report: KpiReport) -> list[Table]:
    plant = report.losses[-1]
    pareto = _table(
        "Downtime by reason, plant (Pareto)", "reason", ["events", "hours", "share", "cum."]
    )
    for r in plant.pareto[:12]:
        _add_row(
            pareto,
            r.key,
            str(r.events),
            f"{r.time_s / 3600:.2f}",
            f"{100 * r.share:.1f}%",
            f"{100 * r.cum_share:.1f}%",
        )
    stops = _table(
        "Minor stops against breakdowns",
        "scope",
        ["breakdowns", "h", "mean min", "minor stops", "h", "mean min"],
    )
    for loss in report.losses:
        s = loss.stops
        _add_row(
            stops,
            loss.scope,
            str(s.breakdowns),
            f"{s.breakdown_s / 3600:.2f}",
            fmt_value("mean_s", s.mean_breakdown_s).replace(" min", ""),
            str(s.minor_stops),
            f"{s.minor_stop_s / 3600:.2f}",
            fmt_value("mean_s", s.mean_minor_stop_s).replace(" min", ""),
        )
    views = _table(
        "Losses, plant: ISO 22400 beside the six big losses",
        "loss",
        ["category", "hours", "of PBT"],
    )
    for v in plant.views:
        _add_row(
            views,
            f"{v.view}: {v.loss}",
            v.category,
            UNDEFINED if v.time_s is None else f"{v.time_s / 3600:.2f}",
            fmt_value("oee", v.share_of_pbt),
        )
    return [pareto, stops, views]


def _bottleneck_tables(report: KpiReport) -> list[Table]:
    tables = []
    for b in report.bottlenecks:
        title = (
            f"Bottleneck {b.line} (active period method): average "
            f"{b.average_bottleneck or UNDEFINED}, momentary "
            f"{b.momentary_bottleneck or UNDEFINED}, shifting "
            f"{fmt_value('oee', b.shifting_ratio)} of working time"
        )
        table = _table(
            title, "station", ["avg active", "active", "sole", "shifting", "blocked", "starved"]
        )
        for s in b.stations:
            _add_row(
                table,
                s.station,
                fmt_value("x_s", s.avg_active_period_s),
                *(
                    fmt_value("active_ratio", getattr(s, m))
                    for m in (
                        "active_ratio",
                        "sole_bottleneck_ratio",
                        "shifting_bottleneck_ratio",
                        "blocked_ratio",
                        "starved_ratio",
                    )
                ),
            )
        tables.append(table)
    return tables


def _flow_supply_tables(report: KpiReport) -> list[Table]:
    metrics = (
        "wip_avg",
        "exit_rate_uph",
        "flow_time_avg_s",
        "flow_time_p50_s",
        "flow_time_p95_s",
        "line_lead_time_avg_s",
        "little_wip",
        "little_gap_ratio",
    )
    flow = _table(
        "Flow (flow time: first station takes the part -> exit; line lead time: order "
        "released to the line -> exit)",
        "scope",
        ["WIP", "exits/h", "FT mean", "FT p50", "FT p95", "line LT", "TH×CT", "Little gap"],
    )
    for scope, fv in report.flow.items():
        vals = fv.as_dict()
        _add_row(flow, scope, *(fmt_value(m, vals[m]) for m in metrics))
    supply = _table("Supply chain (plant)", "KPI", ["value"])
    for metric, value in report.supply.as_dict().items():
        if metric in KPI_BY_ID:
            _add_row(supply, KPI_BY_ID[metric].name, fmt_value(metric, value))
    _add_row(
        supply,
        KPI_BY_ID["material_starved_h"].name,
        f"{report.plant.kpis.material_starved_h:.2f} h",
    )
    return [flow, supply]


def _render_tables(report: KpiReport, console: Console) -> None:
    scopes = [report.plant, *report.lines, *report.stations]
    head = f"KPIs {report.scenario or ''} run {report.run_id or '?'}, window "
    console.print(f"[bold]{head}{report.t0_s / 3600:.2f} h – {report.t1_s / 3600:.2f} h[/]")
    tables = [
        _kpi_table("ISO 22400 KPIs", scopes, _MAIN),
        _kpi_table("Output, maintenance and energy", scopes, _OUTPUT),
        _elements_table(scopes),
    ]
    if report.shifts:
        tables.append(_shift_table(report))
    tables += [*_loss_tables(report), *_bottleneck_tables(report), *_flow_supply_tables(report)]
    for t in tables:
        console.print()
        console.print(t)
    console.print(
        f"\n{UNDEFINED} undefined (denominator 0); ! effectiveness above 100 % "
        "(flagged, not clamped). Line: sums of station elements, output counted at "
        "the last station."
    )


def _csv_value(v: object) -> object:
    return "" if v is None else v


def _json(report: KpiReport) -> Iterator[bytes]:
    """Yield the report as JSON (UTF-8), a newline at the end: the same bytes as one
    ``orjson.dumps`` of the whole document, one row at a time (rows are never all held)."""
    import orjson  # json and csv need rows and orjson; twin run's tables need neither

    from analytics.rows import iter_report_rows

    rows = iter_report_rows(report)
    first = next(rows, None)
    doc = {"run_id": report.run_id, "scenario": report.scenario}
    doc["window"] = [report.t0_s, report.t1_s]
    doc["rows"] = [] if first is None else [first]
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    if first is None:
        yield text + b"\n"
        return
    yield text.removesuffix(b"\n  ]\n}")  # ends with the first row
    for row in rows:  # each row as orjson indents it two levels deep (inside "rows")
        yield b",\n    " + orjson.dumps(row, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n    ")
    yield b"\n  ]\n}\n"


def _write_csv(report: KpiReport, out: IO[str]) -> None:
    """Write the report's rows to ``out`` as CSV, row by row."""
    from analytics.rows import ROW_COLUMNS, iter_report_rows

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROW_COLUMNS)
    writer.writerows([_csv_value(row[k]) for k in ROW_COLUMNS] for row in iter_report_rows(report))


def render(report: KpiReport, fmt: str) -> str:
    """Return the report as ``json`` or ``csv`` text, or the ``table`` text (no colour)."""
    if fmt == "json":
        return b"".join(_json(report)).decode()
    if fmt == "csv":
        buf = io.StringIO()
        _write_csv(report, buf)
        return buf.getvalue()
    if fmt == "table":
        from rich.console import Console

        console = Console(file=io.StringIO(), width=140, record=True, color_system=None)
        _render_tables(report, console)
        return console.export_text()
    raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")


def print_kpi_tables(report: KpiReport, fmt: str = "table", file: IO[str] | None = None) -> None:
    """Print the report to ``file`` (stdout): rich tables, JSON or CSV (rows streamed)."""
    out = file or sys.stdout
    if fmt == "table" and file is None:
        from twin_io.console import table_console

        _render_tables(report, table_console())
        return
    if fmt == "json":
        buffer = getattr(out, "buffer", None)
        if buffer is not None:  # no text round trip of megabytes
            out.flush()
            buffer.writelines(_json(report))
            buffer.flush()
        else:
            out.writelines(chunk.decode() for chunk in _json(report))
        return
    if fmt == "csv":
        _write_csv(report, out)
        return
    out.write(render(report, fmt))


def parse_window(text: str | None) -> tuple[float, float] | None:
    """Return ``(start, end)`` seconds from ``"START:END"`` (durations like ``8h:16h``)."""
    if text is None:
        return None
    start, sep, end = text.partition(":")
    if not sep:
        raise ValueError(f"window: {text!r} is not START:END (e.g. 8h:16h or 0:28800)")
    t0, t1 = parse_duration(start), parse_duration(end)
    if t1 < t0:
        raise ValueError(f"window: end {end!r} is before start {start!r}")
    return t0, t1


def _usage_error(param: str, message: str) -> NoReturn:
    """Print ``error: PARAM: message`` to stderr and exit with status 2.

    ``SystemExit`` rather than a click exception: ``twin.cli.main`` turns it into the exit
    code whether typer runs standalone or not.
    """
    typer.echo(f"error: {param}: {message}", err=True)
    raise SystemExit(2)


def kpi_command(
    eventlog: Path = typer.Argument(
        ..., help="Event log: .parquet, or JSON lines (.jsonl, .jsonl.gz)."
    ),
    window: str | None = typer.Option(
        None, "--window", "-w", help="START:END in sim time, e.g. 8h:16h (default: run)."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    output: Path | None = typer.Option(None, "--out", "-o", help="Write here, not stdout."),
    shifts: bool = typer.Option(True, "--shifts/--no-shifts", help="Per-shift results."),
) -> None:
    """Compute ISO 22400, flow, supply, loss and bottleneck KPIs from a saved event log."""
    if fmt not in FORMATS:
        _usage_error("--format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        win = parse_window(window)
    except ValueError as exc:
        _usage_error("--window", str(exc).removeprefix("window: "))
    if output is not None and (problem := output_file_problem(output)) is not None:
        _usage_error("--out", problem)  # before the log is read
    from analytics.eventlog import read_columns  # twin run, which prints tables too, reads none

    try:
        columns = read_columns(eventlog)
    except ValueError as exc:  # EventLogError included: names the file and line
        _usage_error("EVENTLOG", str(exc))
    if win is not None and (win[0] >= columns.end_s or win[1] <= columns.start_s):
        _usage_error(  # it read as "no planned time (off shift ... everywhere)", exit code 0
            "--window",
            f"{win[0] / 3600:g} h to {win[1] / 3600:g} h is outside the run "
            f"({columns.start_s / 3600:g} h to {columns.end_s / 3600:g} h)",
        )
    try:
        report = compute_report(columns, win, shifts=shifts)
    except ValueError as exc:
        _usage_error("EVENTLOG", str(exc))
    if report.plant.elements.pbt_s == 0:
        typer.echo(
            f"note: no planned time in {report.t0_s / 3600:g} h to {report.t1_s / 3600:g} h "
            "(off shift or planned downtime everywhere): OEE and its factors are undefined (—)",
            err=True,
        )
    if output is None:
        print_kpi_tables(report, fmt)
    else:
        from twin_io.files import written_whole

        try:  # whole or not at all: a full disk leaves the previous file as it was
            with written_whole(output) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
                print_kpi_tables(report, fmt, fh)
        except (
            OSError
        ) as exc:  # what output_file_problem cannot see (a folder under /proc, a full disk)
            _usage_error("--out", f"{output}: {exc.strerror or exc}")


def register(app: typer.Typer) -> None:
    """Add the ``kpi`` command to the ``twin`` app."""
    app.command("kpi")(kpi_command)
