"""Event log files: reproducible bytes, the Parquet table, and streaming without holding."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from analytics import columns as columns_module
from analytics import stream_report
from analytics.columns import ColumnAccumulator, to_columns
from analytics.eventlog import read_columns, read_event_log
from analytics.report import compute_report
from analytics.stream_report import StreamedReport
from plant_sim import parquet_log
from plant_sim.eventlog import EventLog, open_writer
from plant_sim.parquet_log import COLUMNS, ParquetLogWriter, read_table
from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch, run_streaming
from plant_sim.summary import Tally, tally
from twin.cli import main

ROOT = Path(__file__).resolve().parents[2]
TANDEM = ROOT / "scenarios" / "tandem_mm1.yaml"
BOTTLING = ROOT / "scenarios" / "bottling_line.yaml"
HOUR = 3600.0


@pytest.fixture(scope="module")
def records() -> list:
    """Twelve hours of the bottling line (every record kind but scenario events)."""
    return run_batch(load_scenario(BOTTLING), until_s=12 * HOUR, seed=3).records


def test_gzip_log_has_no_name_or_time_in_its_header(records: list, tmp_path: Path) -> None:
    """Issue 14 #16: two identical runs give identical .jsonl.gz bytes, whatever the names."""
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "other-name.jsonl.gz"
    EventLog(records).save(first)
    EventLog(records).save(second)
    head = first.read_bytes()[:10]
    assert head[3] & 0x08 == 0, "FNAME flag set: the file name is in the header"
    assert head[4:8] == b"\0\0\0\0", "the header carries a modification time"
    assert first.read_bytes() == second.read_bytes()
    with gzip.open(first, "rb") as fh:
        assert fh.readline().startswith(b'{"kind":"run_start"')


def test_same_seed_gives_byte_identical_parquet(tmp_path: Path) -> None:
    outs = [tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"]
    for out, seed in zip(outs, (1, 1, 2), strict=True):
        args = ["run", str(TANDEM), "--until", "6h", "--seed", str(seed), "--out", str(out)]
        assert main([*args, "-f", "json"]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()


def test_parquet_round_trips_in_emission_order(records: list, tmp_path: Path) -> None:
    """Small row groups, written while records come in, read back as the same records."""
    path = tmp_path / "run.parquet"
    with ParquetLogWriter(path, row_group_rows=1000) as writer:
        for i in range(0, len(records), 777):
            writer.write(records[i : i + 777])
            assert writer.held < 1000
    import pyarrow.parquet as pq

    assert pq.ParquetFile(path).num_row_groups == -(-len(records) // 1000)
    assert read_event_log(path) == records
    assert EventLog.load(path).records == records


def test_parquet_schema_is_typed_and_documented(records: list, tmp_path: Path) -> None:
    path = tmp_path / "run.parquet"
    EventLog(records).save(path)
    schema = read_table(path).schema
    assert schema.names == ["kind", *COLUMNS]
    types = {f.name: str(f.type) for f in schema}
    assert types["kind"] == "dictionary<values=string, indices=int8, ordered=0>"
    assert types["t"] == "double" and types["capacity"] == "int64"
    assert types["state"] == "dictionary<values=string, indices=int32, ordered=0>"
    assert types["part_id"] == "string" and types["level"] == "double"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The event log") :]
    section = section[: section.index("\n## ", 4)]
    for name in COLUMNS:
        assert re.search(rf"`{name}`", section), f"column {name} not documented in the README"


def test_availability_per_station_from_the_parquet_columns(records: list, tmp_path: Path):
    """The README's availability query, done with pyarrow: processing time over planned busy
    time (every state but planned downtime and off shift) per station, from the state rows."""
    import numpy as np
    import pyarrow.compute as pc

    path = tmp_path / "run.parquet"
    EventLog(records).save(path)
    table = read_table(path, ["t", "station", "state"])
    end = pc.max(table.column("t")).as_py()
    states = table.filter(pc.equal(table.column("kind").cast("string"), "state"))
    report = compute_report(records)
    for station in set(states.column("station").to_pylist()):
        rows = states.filter(pc.equal(states.column("station"), station))
        t = rows.column("t").to_numpy()
        dur = np.diff(np.append(t, end))
        state = np.array(rows.column("state").to_pylist())
        busy = dur[~np.isin(state, ["planned_downtime", "off_shift"])].sum()
        share = dur[state == "processing"].sum() / busy
        assert share == pytest.approx(report.scope(station).kpis.availability, rel=1e-9)


def test_streaming_gives_the_records_of_a_batch_run(records: list) -> None:
    """Slicing the run into batches changes neither the records nor their order."""
    batches: list[list] = []
    n = run_streaming(load_scenario(BOTTLING), batches.append, 12 * HOUR, seed=3, slice_s=1234.5)
    assert n == len(records) and [r for b in batches for r in b] == records


def test_accumulated_columns_equal_the_columns_of_all_records(records: list) -> None:
    acc, counts = ColumnAccumulator(), Tally()
    for i in range(0, len(records), 1000):
        acc.add(records[i : i + 1000])
        counts.add(records[i : i + 1000])
    assert compute_report(acc.columns()).to_rows() == compute_report(to_columns(records)).to_rows()
    assert counts.result() == tally(records)


def test_accumulated_columns_switch_to_full_columns_when_values_vary(records, monkeypatch):
    """A run whose state power and part PRI take a new value on every record from its
    middle on (more combinations than a batch may code): the accumulator turns what it kept
    as combination ids into full columns and goes on with those; the columns are those of
    all records at once, value for value."""
    varied = list(records)
    for i in range(len(varied) // 2, len(varied)):
        r = varied[i]
        if r.kind == "state":
            varied[i] = replace(r, power_kw=1.0 + i / 7)
        elif r.kind == "part":
            varied[i] = replace(r, planned_cycle_time_s=50.0 + i / 3)
    monkeypatch.setattr(columns_module, "_COMBO_LIMIT", 200)
    acc = ColumnAccumulator()
    for i in range(0, len(varied), 1000):
        acc.add(varied[i : i + 1000])
    assert not acc._compact
    got, want = acc.columns(), to_columns(varied)
    for x, y in zip(got.stations, want.stations, strict=True):
        for name in ("t", "code", "power_kw", "reason", "part_t", "part_result", "part_pri_s"):
            assert getattr(x, name).dtype == getattr(y, name).dtype, name
            assert np.array_equal(getattr(x, name), getattr(y, name)), name
    assert compute_report(got).to_rows() == compute_report(want).to_rows()


def test_accumulated_columns_sort_a_station_whose_times_are_out_of_order(records: list):
    """The accumulator keeps each station's columns in stream order and sorts a station by
    time only when needed: the same KPIs as the columns of all records at once."""
    shuffled = list(records)
    station = Counter(r.station for r in records if r.kind == "state").most_common(1)[0][0]
    for kind, (a, b) in (("state", (10, 40)), ("part", (5, 30))):
        rows = [i for i, r in enumerate(shuffled) if r.kind == kind and r.station == station]
        i, j = rows[a], rows[b]
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    acc = ColumnAccumulator()
    for i in range(0, len(shuffled), 1000):
        acc.add(shuffled[i : i + 1000])
    times = [r.t for r in shuffled if r.kind == "state" and r.station == station]
    assert times != sorted(times)
    assert compute_report(acc.columns()).to_rows() == compute_report(to_columns(records)).to_rows()


def _held_by(acc: object) -> tuple[int, int]:
    """Return the Python objects (records, tuples, ids, ...) and the bytes of numpy arrays
    the KPI accumulator holds: every list, set, dict and dataclass it keeps is walked, and
    an object array counts its distinct objects."""
    objects, nbytes, seen = 0, 0, set()
    stack: list[object] = [vars(acc)]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, (str, int, float, type(None))):
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            nbytes += item.nbytes
            if item.dtype == object:
                objects += len({id(x) for x in item.tolist() if x is not None})
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, (list, tuple, set)):
            objects += len(item)
            stack += list(item)
        elif hasattr(item, "__slots__"):  # records and column chunks
            stack += [getattr(item, n) for n in item.__slots__]
        elif hasattr(item, "__dict__"):  # the growing column buffers
            stack.append(vars(item))
    return objects, nbytes


def _streamed_run(hours: float, out: Path) -> dict:
    """Stream a run of the bottling line to a Parquet log and the KPI report, as ``twin run``
    does; return the most records held at once by the batch and the writer, what the KPI
    side holds at the end (objects, array bytes; the array bytes of its flow and stock side
    and of its stations apart), the records of the run by kind and the report's rows."""
    writer, acc = open_writer(out), StreamedReport()
    held: dict = {"batch": 0, "writer": 0}
    kinds: Counter[str] = Counter()

    def consume(batch: list) -> None:
        writer.write(batch)
        acc.add(batch)
        kinds.update(r.kind for r in batch)
        held["batch"] = max(held["batch"], len(batch))
        held["writer"] = max(held["writer"], writer.held)  # records not yet converted

    held["records"] = run_streaming(load_scenario(BOTTLING), consume, hours * HOUR, seed=3)
    writer.close()
    held["kpi_objects"], held["kpi_bytes"] = _held_by(acc)
    held["flow_bytes"] = _held_by(acc._flows)[1]  # what releases, exits and stock leave
    held["station_bytes"] = _held_by(SimpleNamespace(stations=acc._stations))[1]
    held["stations"] = len(acc._stations)
    held["rows"] = acc.report().to_rows()
    held.update(kinds)
    return held


def test_records_held_do_not_grow_with_the_horizon(tmp_path: Path, monkeypatch) -> None:
    """A run four times as long holds no more records at once: one simulated hour in the
    batch, less than one row group in the Parquet writer. The KPI report keeps no Python
    object per record and nothing at all per state, part, release or stock record (states
    and parts are folded into each shift's elements and the bottleneck analysis as the run
    goes; releases, exits and stock records into the flow KPIs and stock-outs): what grows
    is the flow time of each finished exit (8 bytes, up to twice that with the buffer's
    capacity: the flow-time percentiles need every value), each new shift occurrence's
    elements and a few objects per order and shift change. The report is that of the whole
    log, row for row. (Before, 10-12 bytes were kept per state and per part record, then 9
    bytes per state record for the bottleneck analysis, and the release, exit and stock
    columns: 12, 30 and 24 bytes a record.)"""
    monkeypatch.setattr(stream_report, "FOLD_ROWS", 5_000)  # records waiting to be folded
    short = _streamed_run(12, tmp_path / "short.parquet")
    long = _streamed_run(48, tmp_path / "long.parquet")
    assert long["records"] > 3.5 * short["records"]
    assert long["batch"] <= 1.2 * short["batch"] and long["batch"] < long["records"] / 10
    assert long["writer"] < parquet_log.ROW_GROUP_ROWS
    grew = {k: long[k] - short[k] for k in ("state", "part", "release", "exit", "stock")}
    few = sum(long[k] - short[k] for k in ("order", "shift", "run_end"))
    assert grew["part"] > 100_000 and grew["state"] > 100_000
    assert long["kpi_objects"] - short["kpi_objects"] <= 3 * few + 20
    assert grew["release"] > 1_000 and grew["exit"] > 1_000 and grew["stock"] > 1_000
    flow_allowed = 2 * 8 * grew["exit"]  # a finished exit's flow time (scrapped: none)
    assert long["flow_bytes"] - short["flow_bytes"] <= flow_allowed
    elements = 2 * 27 * 8 * long["stations"] * (long["shift"] - short["shift"])
    assert long["station_bytes"] <= short["station_bytes"] + elements
    assert long["kpi_bytes"] - short["kpi_bytes"] <= flow_allowed + elements
    assert long["rows"] == compute_report(read_columns(tmp_path / "long.parquet")).to_rows()
