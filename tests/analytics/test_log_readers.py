"""The fast log readers give the columns the record way gives, and its errors.

``read_columns`` reads JSON Lines through msgspec structs (``jsonl_columns``) and Parquet through
numpy columns per row group (``parquet_kinds``); ``to_columns(read_event_log(...))`` is the
record way they must equal, value for value and type for type.
"""

from __future__ import annotations

import gzip
from dataclasses import fields, is_dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import jsonl_columns
from analytics.columns import stock_columns, to_columns
from analytics.eventlog import (
    KPI_KINDS,
    EventLogError,
    _fast_records,
    read_columns,
    read_event_log,
)
from plant_sim.eventlog import is_parquet
from plant_sim.parquet_log import ParquetLogWriter, read_table
from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600.0


@pytest.fixture(scope="module")
def records() -> list:
    """Eight hours of plant_3lines: orders, stock, shifts, scrap and rework."""
    return run_batch(load_scenario(ROOT / "scenarios" / "plant_3lines.yaml"), 8 * HOUR, 2).records


def assert_same(a: object, b: object, where: str = "columns") -> None:
    """Assert two column sets are equal, with the same types down to each value."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where  # type: ignore[union-attr]
        assert [type(x) for x in a.tolist()] == [type(x) for x in b.tolist()], where  # type: ignore[union-attr]
        assert a.tolist() == b.tolist(), where  # type: ignore[union-attr]
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where  # type: ignore[arg-type]
        for i, (x, y) in enumerate(zip(a, b, strict=True)):  # type: ignore[call-overload]
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where  # type: ignore[call-overload]
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")  # type: ignore[index]
    elif is_dataclass(a):
        for f in fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def record_way(path: Path) -> object:
    """The columns of the record way; for Parquet, stock levels as the columns that reader
    gives (``stock_columns`` of the same records: no record object per stock row)."""
    cols = to_columns(read_event_log(path, KPI_KINDS))
    if is_parquet(path):
        cols = replace(cols, stock=stock_columns(cols.stock))
    return cols


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz", "run.parquet"])
def test_fast_readers_equal_the_record_way(records: list, tmp_path: Path, name: str) -> None:
    from analytics.eventlog import write_event_log

    path = tmp_path / name
    write_event_log(records, path)
    assert_same(read_columns(path), record_way(path))
    if "jsonl" in name:
        assert _fast_records(path) is not None, (
            "the fast JSON reader fell back"
        )  # Parquet stores every time as a float; JSON keeps an int an int
        assert_same(read_columns(path), to_columns(records))


def test_json_reader_takes_wire_keys_blank_lines_and_json_types(tmp_path: Path) -> None:
    """Values keep their JSON types (an int level stays an int, as the record way reads it);
    wire payload keys are ignored and blank lines skipped, across block boundaries."""
    lines = [
        '{"kind":"run_start","t":0,"run_id":"r","scenario":"s","seed":1,"start_epoch_ms":0,'
        '"horizon_s":null,"enterprise":"e","site":"s","area":"a","lines":[{"line":"L",'
        '"stations":["A"],"buffers":[]}]}',
        "",
        '{"t":1.5,"kind":"state","line":"L","station":"A","state":"processing","reason":null,'
        '"power_kw":3,"run_id":"r","ts":"2026-01-01T00:00:00Z","ts_ms":1500}',
        '{"kind":"sample","t":2,"anything":[1,2,3]}',
        '{"kind":"stock","t":2,"material":"m","level":100,"cause":"initial"}',
        '{"kind":"part","t":3,"line":"L","station":"A","part_id":"p1","product":"x",'
        '"order_id":null,"result":"scrap","cycle_time_s":2,"planned_cycle_time_s":2.5}',
        '{"kind":"exit","t":3,"line":"L","part_id":"p1","product":"x","order_id":null,'
        '"outcome":"scrapped","flow_time_s":2}',
        '{"kind":"run_end","t":10}',
    ]
    path = tmp_path / "wire.jsonl"
    path.write_text("\r\n".join(lines) + "\n")
    small = jsonl_columns.BLOCK
    try:
        jsonl_columns.BLOCK = 64  # many blocks, lines cut across them
        assert _fast_records(path) is not None, "the fast JSON reader fell back"
        fast = read_columns(path)
    finally:
        jsonl_columns.BLOCK = small
    assert_same(fast, record_way(path))
    assert type(fast.stock[0].level) is int


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"kind":"state","t":2}', "missing"),
        ("[1, 2]", "expected a JSON object"),
        ('{"kind":"run_end","t":2,"extra":1}', "unknown field"),
        ('{"kind":"run_end","t":', ""),
        (
            '{"kind":"state","t":2,"line":"L","station":"A","state":"dancing","reason":null,'
            '"power_kw":1}',
            "dancing",
        ),
    ],
)
def test_json_reader_names_the_bad_line(tmp_path: Path, line: str, error: str) -> None:
    """A line the fast reader rejects is read the record way, which names file and line."""
    path = tmp_path / "bad.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('{"kind":"run_end","t":1}\n\n' + line + "\n")
    with pytest.raises(EventLogError, match=rf"bad.jsonl.gz:3: .*{error}"):
        read_columns(path)


def test_parquet_reader_joins_row_groups_with_their_own_dictionaries(
    records: list, tmp_path: Path
) -> None:
    """Small row groups, each with its own dictionaries and chunks: the same columns."""
    path = tmp_path / "small.parquet"
    with ParquetLogWriter(path, row_group_rows=500) as writer:
        for i in range(0, len(records), 333):
            writer.write(records[i : i + 333])
    assert pq.ParquetFile(path).num_row_groups > 10
    assert_same(read_columns(path), record_way(path))


def test_parquet_reader_takes_plain_string_columns(records: list, tmp_path: Path) -> None:
    """A log written by another tool (kind and ids as plain strings, one row group)."""
    table = read_table_of(records, tmp_path)
    plain = table.set_column(0, "kind", table.column("kind").cast(pa.string()))
    path = tmp_path / "plain.parquet"
    pq.write_table(plain, path, row_group_size=len(records) // 3, use_dictionary=False)
    assert_same(read_columns(path), record_way(tmp_path / "full.parquet"))


def test_parquet_reader_names_a_missing_value(records: list, tmp_path: Path) -> None:
    table = read_table_of(records, tmp_path)
    kinds = table.column("kind").to_pylist()
    power = table.column("power_kw").to_pylist()
    power[kinds.index("state")] = None
    path = tmp_path / "hole.parquet"
    pq.write_table(
        table.set_column(
            table.schema.get_field_index("power_kw"), "power_kw", pa.array(power, pa.float64())
        ),
        path,
    )
    with pytest.raises(EventLogError, match=r"hole.parquet: state: 1 record\(s\) without power_kw"):
        read_columns(path)


def read_table_of(records: list, tmp_path: Path) -> pa.Table:
    path = tmp_path / "full.parquet"
    with ParquetLogWriter(path) as writer:
        writer.write(records)
    return read_table(path)


def test_parquet_reader_names_a_missing_column(records: list, tmp_path: Path) -> None:
    """A log without a column the KPIs read is bad input: an error naming it (exit 2 in
    ``twin kpi``), not a KeyError."""
    path = tmp_path / "no_order_id.parquet"
    pq.write_table(read_table_of(records, tmp_path).drop_columns(["order_id"]), path)
    with pytest.raises(EventLogError, match=r"no_order_id.parquet: .*no column 'order_id'"):
        read_columns(path)


def test_parquet_reader_joins_columns_read_in_several_chunks(
    records: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row group's column in several Arrow chunks (each decoded, looked up and joined)
    gives the columns a single chunk gives."""
    from analytics import parquet_kinds

    path = tmp_path / "chunks.parquet"
    with ParquetLogWriter(path, row_group_rows=5000) as writer:
        writer.write(records)
    single = read_columns(path)

    def in_chunks(group: parquet_kinds._Group, name: str) -> tuple:
        column = group._table.column(name)
        half = len(column) // 2
        return group._decode_chunks(
            name, [*column.slice(0, half).chunks, *column.slice(half).chunks]
        )

    monkeypatch.setattr(parquet_kinds._Group, "_decode", in_chunks)
    assert_same(read_columns(path), single)
    assert_same(single, record_way(path))


@pytest.mark.parametrize("bad", [None, "dancing"])
def test_parquet_reader_names_a_state_that_is_not_one(
    records: list, tmp_path: Path, bad: str | None
) -> None:
    """A state row whose state is missing or unknown is named in the error as it is."""
    table = read_table_of(records, tmp_path)
    states = table.column("state").to_pylist()
    states[table.column("kind").to_pylist().index("state")] = bad
    path = tmp_path / "bad_state.parquet"
    column = table.schema.get_field_index("state")
    pq.write_table(table.set_column(column, "state", pa.array(states, pa.string())), path)
    with pytest.raises(EventLogError, match=rf"state: {bad!r} is not a valid StationState"):
        read_columns(path)
