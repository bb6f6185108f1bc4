"""The ``kpi`` command, the table/JSON/CSV renderings and event-log files."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tracemalloc
from dataclasses import replace

import orjson
import pytest
import typer
from typer.testing import CliRunner

from analytics import compute_report
from analytics.cli import parse_window, print_kpi_tables, register, render
from analytics.eventlog import KPI_KINDS, EventLogError, read_event_log, write_event_log
from analytics.report import ShiftResult
from analytics.rows import ROW_COLUMNS
from tests.analytics.builders import worked_example


@pytest.fixture()
def app() -> typer.Typer:
    """A typer app with only the analytics commands (as ``twin`` registers them)."""
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    return app


@pytest.fixture(params=["run.jsonl.gz", "run.parquet"])
def log_path(tmp_path, request):
    """The worked example saved as an event log: gzip JSON lines, and Parquet."""
    path = tmp_path / request.param
    write_event_log(worked_example(), path)
    return path


def test_event_log_round_trip(tmp_path):
    """Records written and read back are equal, plain, gzip or Parquet."""
    records = worked_example()
    for name in ("run.jsonl", "run.jsonl.gz", "run.parquet"):
        path = tmp_path / name
        assert write_event_log(records, path) == len(records)
        assert read_event_log(path) == records


@pytest.mark.parametrize("name", ["run.jsonl", "run.parquet"])
def test_event_log_kind_filter(tmp_path, name):
    """``kinds`` keeps only the named record kinds."""
    path = tmp_path / name
    write_event_log(worked_example(), path)
    kept = read_event_log(path, {"run_start", "run_end", "state"})
    assert {r.kind for r in kept} == {"run_start", "run_end", "state"}
    assert len(read_event_log(path, KPI_KINDS)) == len(worked_example())


def test_event_log_errors_name_file_and_line(tmp_path):
    """A bad line is reported with its file and line number."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"kind": "run_end", "t": 1}\n{"kind": "state", "t": 2}\n')
    with pytest.raises(EventLogError, match=r"bad.jsonl:2"):
        read_event_log(path)
    with pytest.raises(EventLogError, match="cannot open"):
        read_event_log(tmp_path / "missing.jsonl")


def test_event_log_accepts_wire_payloads(tmp_path):
    """Wire payloads (records plus run_id, ts, ts_ms) read as records."""
    path = tmp_path / "wire.jsonl"
    path.write_text('{"kind": "run_end", "t": 5.0, "run_id": "r", "ts": "x", "ts_ms": 5000}\n')
    (rec,) = read_event_log(path)
    assert rec.t == 5.0


def test_kpi_command_json(app, log_path):
    """``kpi LOG --format json`` prints rows with the worked example's OEE."""
    res = CliRunner().invoke(app, ["kpi", str(log_path), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    oee = [
        r
        for r in doc["rows"]
        if r["metric"] == "oee" and r["scope"] == "st1" and r["window"] == "window"
    ]
    assert oee[0]["value"] == pytest.approx(0.6979, abs=5e-5)
    assert set(doc["rows"][0]) == set(ROW_COLUMNS)


def test_kpi_command_csv_and_window(app, log_path, tmp_path):
    """CSV output to a file; undefined values are empty cells; --window takes durations."""
    out = tmp_path / "k.csv"
    res = CliRunner().invoke(
        app, ["kpi", str(log_path), "-f", "csv", "-w", "0:30m", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    get = {(r["scope"], r["metric"]): r["value"] for r in rows if r["window"] == "window"}
    assert float(get[("st1", "availability")]) == 0.0  # setup only in the first 30 min
    assert get[("st1", "quality_ratio")] == ""  # undefined: no parts
    assert get[("st1", "oee")] == "" and get[("st1", "nee")] == ""  # a factor is undefined
    assert rows[0]["t1_s"] == "1800.0"


def test_kpi_command_window_outside_the_run_exits_2(app, log_path):
    """A window after the run's end read as "no planned time (off shift or planned downtime
    everywhere)", exit code 0; it is named as outside the run now."""
    res = CliRunner().invoke(app, ["kpi", str(log_path), "-w", "1000d:2000d"])
    assert res.exit_code == 2, res.output
    assert "--window: 24000 h to 48000 h is outside the run (0 h to " in res.output
    assert CliRunner().invoke(app, ["kpi", str(log_path), "-w", "1h:1000d"]).exit_code == 0


def test_kpi_command_table(app, log_path):
    """The table output names the KPIs and marks undefined values."""
    res = CliRunner().invoke(app, ["kpi", str(log_path)])
    assert res.exit_code == 0, res.output
    assert "69.8%" in res.stdout and "Bottleneck line1" in res.stdout and "—" in res.stdout


def test_kpi_command_table_shows_undefined_oee_as_a_dash(app, log_path):
    """A window with no production (setup only) shows OEE and NEE as "—", not 0.0%."""
    res = CliRunner().invoke(app, ["kpi", str(log_path), "-w", "0:30m"])
    assert res.exit_code == 0, res.output
    head = next(line for line in res.stdout.splitlines() if "OEE" in line and "NEE" in line)
    cols = [c.strip() for c in head.replace("┃", "|").split("|")]
    row = next(line for line in res.stdout.splitlines() if line.startswith("st1 "))
    cells = [c.strip() for c in row.replace("│", "|").split("|")]
    assert cells[cols.index("OEE")] == "—" and cells[cols.index("NEE")] == "—"
    assert cells[cols.index("A")] == "0.0%"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--format", "xml"], "--format"),
        (["--window", "8h"], "window"),
        (["--window", "8h:1h"], "window"),
    ],
)
def test_kpi_command_usage_errors(app, log_path, args, needle):
    """Bad options exit with 2 and a message naming the option."""
    res = CliRunner().invoke(app, ["kpi", str(log_path), *args])
    assert res.exit_code == 2
    assert needle in res.output


@pytest.mark.parametrize("name", ["nope.jsonl", "nope.parquet"])
def test_kpi_command_missing_log(app, tmp_path, name):
    """A missing log exits with 2 and names the file."""
    res = CliRunner().invoke(app, ["kpi", str(tmp_path / name)])
    assert res.exit_code == 2 and name in res.output


@pytest.mark.parametrize("out", ["missing/k.json", "."])
def test_kpi_command_unwritable_out_exits_2(app, log_path, tmp_path, out):
    """An ``--out`` in a folder that does not exist, or a folder, exits with 2 naming
    ``--out`` before the log is read, not a FileNotFoundError/IsADirectoryError traceback."""
    res = CliRunner().invoke(app, ["kpi", str(log_path), "-f", "json", "-o", str(tmp_path / out)])
    assert res.exit_code == 2, res.output
    assert "--out" in res.output and "Traceback" not in res.output, res.output


def test_kpi_command_unreadable_parquet(app, tmp_path):
    """A file named .parquet that is not a Parquet log exits with 2 and names the file."""
    bad = tmp_path / "bad.parquet"
    bad.write_text('{"kind": "run_end", "t": 1}\n')
    res = CliRunner().invoke(app, ["kpi", str(bad)])
    assert res.exit_code == 2 and "bad.parquet" in res.output


@pytest.mark.parametrize(
    "columns,needle",
    [
        ({"a": [1, 2], "b": ["x", "y"]}, "no column 'kind'"),  # any other table
        ({"kind": ["state"], "t": ["0"]}, "column 't' is string, not float64"),
        ({"kind": [1], "t": [0.0]}, "column 'kind' is int64, not string"),
        ({"kind": ["run_end"], "t": [1.0], "reason": [None]}, None),  # a log of no states
    ],
)
def test_kpi_command_parquet_of_other_columns(app, tmp_path, columns, needle):
    """A Parquet file whose columns are not a log's exits with 2 naming the file and the
    column, not a KeyError traceback (pyarrow's, for a dictionary column not in the file);
    a log that lacks columns its kinds do not use is read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "other.parquet"
    pq.write_table(pa.table(columns), path)
    res = CliRunner().invoke(app, ["kpi", str(path), "-f", "json"])
    if needle is None:
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["window"] == [0.0, 1.0]
    else:
        assert res.exit_code == 2, res.output
        assert "other.parquet" in res.output and needle in res.output, res.output


@pytest.mark.parametrize("kind,value", [("run_end", float("inf")), ("state", float("nan"))])
def test_kpi_command_parquet_time_not_finite_exits_2(app, tmp_path, kind, value):
    """A Parquet log can hold a NaN or infinite time (JSON Lines cannot): a run_end at inf
    gave the window [0, null] and OEE 0.0 with exit code 0; a NaN state time was taken."""

    def edit(rows):
        next(r for r in rows if r["kind"] == kind)["t"] = value
        return rows

    path = _edited_log(tmp_path, "run.parquet", edit)
    res = CliRunner().invoke(app, ["kpi", str(path), "-f", "json"])
    assert res.exit_code == 2, res.output
    assert f"{kind}: 1 record(s) whose t is not a finite number" in res.output, res.output


def _damaged_gzip_logs(tmp_path):
    """A gzip log cut short, one with bytes overwritten inside, and JSON named .gz."""
    good = tmp_path / "run.jsonl.gz"
    write_event_log(worked_example(), good)
    data = good.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    broken = bytearray(data)
    broken[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(bytes(broken))
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_bytes(gzip.decompress(data))
    return [cut, corrupt, plain]


def test_kpi_command_damaged_gzip_log_exits_2_naming_the_file(app, tmp_path):
    """A gzip log cut short (a killed writer), corrupt, or not gzip at all exits with 2 and
    names the file, not a traceback or click's 'Aborted!' (EOFError)."""
    for path in _damaged_gzip_logs(tmp_path):
        res = CliRunner().invoke(app, ["kpi", str(path), "-f", "json"])
        assert res.exit_code == 2, (path.name, res.output)
        assert f"{path.name}" in res.output and "Aborted" not in res.output, res.output
        with pytest.raises(EventLogError, match=path.name):
            read_event_log(path)


def test_print_kpi_tables_to_a_file():
    """``print_kpi_tables`` writes each format to a given stream."""
    report = compute_report(worked_example())
    for fmt in ("table", "json", "csv"):
        buf = io.StringIO()
        print_kpi_tables(report, fmt, file=buf)
        assert buf.getvalue().strip()
    with pytest.raises(ValueError, match="format"):
        render(report, "xml")


def test_parse_window():
    """Windows are START:END durations."""
    assert parse_window("8h:16h") == (8 * 3600.0, 16 * 3600.0)
    assert parse_window(None) is None


def test_gzip_log_is_really_gzip(tmp_path):
    """The writer compresses ``.gz`` files."""
    log_path = tmp_path / "run.jsonl.gz"
    write_event_log(worked_example(), log_path)
    with gzip.open(log_path, "rt") as fh:
        assert json.loads(fh.readline())["kind"] == "run_start"


def _with_shifts(occurrences: int):
    """The worked example's report with ``occurrences`` shift occurrences (its scopes)."""
    report = compute_report(worked_example())
    shifts = [
        ShiftResult("A", 8.0 * k, 8.0 * (k + 1), report.lines, report.plant, report.stations)
        for k in range(occurrences)
    ]
    return replace(report, shifts=shifts, shift_totals=shifts[:1])


class _Counted(io.TextIOBase):
    """A text sink that keeps the characters' count only."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def _peak_writing(report, fmt: str) -> tuple[int, int]:
    """Return the most bytes allocated at once while writing ``report``, and its length."""
    sink = _Counted()
    tracemalloc.start()
    try:
        print_kpi_tables(report, fmt, sink)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, sink.chars


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_rows_are_written_without_holding_every_shift_occurrence(fmt):
    """JSON and CSV go out row by row, one shift occurrence at a time: writing 400
    occurrences allocates no more at once than writing 20 (the rows as dicts and the whole
    text were held before: about six times the text), and the text is what one
    ``orjson.dumps`` of the whole document gives."""
    short_peak, short_chars = _peak_writing(_with_shifts(20), fmt)
    long_peak, long_chars = _peak_writing(_with_shifts(400), fmt)
    assert long_chars > 15 * short_chars
    assert long_peak <= 1.5 * short_peak
    long = _with_shifts(400)
    rows = long.to_rows()
    if fmt == "json":
        doc = {"run_id": long.run_id, "scenario": long.scenario}
        doc |= {"window": [long.t0_s, long.t1_s], "rows": rows}
        assert render(long, fmt) == orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    else:
        assert len(render(long, fmt).splitlines()) == len(rows) + 1


def _edited_log(tmp_path, name, edit):
    """The worked example as a JSON Lines or Parquet log, its records edited by ``edit``
    (a list of record dicts in, a list out)."""
    from plant_sim.records import RECORD_TYPES, to_dict

    rows = edit([to_dict(r) for r in worked_example()])
    path = tmp_path / name
    if name.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        records = [  # as edited: not through from_dict, which refuses some edits
            RECORD_TYPES[_TYPOS.get(r["kind"], r["kind"])](
                **{k: v for k, v in r.items() if k != "kind"}
            )
            for r in rows
        ]
        write_event_log(records, path)
        table = pq.read_table(path)
        kinds = pa.array([r["kind"] for r in rows]).dictionary_encode()
        pq.write_table(table.set_column(0, "kind", kinds), path)
    else:
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _bad_result(rows):
    part = next(r for r in rows if r["kind"] == "part")
    part["result"] = "weird"
    return rows


def _lines_not_a_list(rows):
    rows[0]["lines"] = "line1"
    return rows


#: Kinds misspelt by ``_unknown_kind``: the record is written as its kind, then renamed.
_TYPOS = {"stat": "state"}


def _unknown_kind(rows):
    state = next(r for r in rows if r["kind"] == "state")
    state["kind"] = "stat"  # a typo: the state change was dropped without a word
    return rows


@pytest.mark.parametrize("name", ["run.jsonl", "run.parquet"])
@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda rows: rows + rows, "2 run_start records"),  # one run's log twice (cat a a)
        (_bad_result, "result 'weird' is not one of good, scrap, rework"),
        (_lines_not_a_list, "lines: expected a list"),
        (_unknown_kind, "unknown record kind 'stat'"),
    ],
)
def test_kpi_command_hand_edited_log_exits_2_naming_the_file(app, tmp_path, name, edit, needle):
    """Two runs in one file (even of one run id: their KPIs added up, OEE over 100 %), a
    part result or a run_start's lines edited by hand, or a record of an unknown kind (it was
    skipped) exit with 2, naming the file and the problem, not a traceback (KeyError,
    TypeError) or exit code 0."""
    path = _edited_log(tmp_path, name, edit)
    res = CliRunner().invoke(app, ["kpi", str(path), "-f", "json"])
    assert res.exit_code == 2, res.output
    assert str(path) in res.output and needle in res.output, res.output


def _first_state(change):
    def edit(rows):
        change(next(r for r in rows if r["kind"] == "state"))
        return rows

    return edit


@pytest.mark.parametrize(
    "edit,needle",
    [
        (_first_state(lambda r: r.update(t=True)), "t: expected a number, got bool"),
        (
            _first_state(lambda r: r.update(power_kw="NaN")),
            "power_kw: expected a number, got str",
        ),
        (_first_state(lambda r: r.update(reason=7)), "reason: expected a string or null"),
        (_first_state(lambda r: r.pop("station")), "state: missing field(s) ['station']"),
    ],
)
def test_kpi_command_value_of_another_type_exits_2_naming_line_and_field(
    app, tmp_path, edit, needle
):
    """A hand-edited JSON Lines value of another type than its field's (``true`` for a time,
    the string ``"NaN"`` for a number: both were read as numbers, exit code 0) or a missing
    field exits with 2, naming the file, the line and the field."""
    path = _edited_log(tmp_path, "run.jsonl", edit)
    number = next(
        i for i, line in enumerate(path.read_bytes().splitlines(), 1) if b'"state"' in line
    )
    res = CliRunner().invoke(app, ["kpi", str(path), "-f", "json"])
    assert res.exit_code == 2, res.output
    assert f"{path}:{number}" in res.output and needle in res.output, res.output
