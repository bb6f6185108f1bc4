"""telemetry_schema: line protocol per record kind, escaping, refusals, and the reverse mapping."""

from __future__ import annotations

import math

import pytest

from plant_sim import telemetry_schema as ts
from plant_sim.records import (
    BufferLevel,
    OrderEvent,
    PartDone,
    RunStart,
    ShiftChange,
    StateChange,
)
from plant_sim.states import StationState

RUN = RunStart(
    0.0, "r1", "sc", 7, 1_000, None, "acme", "p1", "a1", [{"line": "L1", "stations": ["s1"]}]
)


def test_every_record_kind_has_one_measurement() -> None:
    assert len(ts.MEASUREMENT_KINDS) == len(ts.SCHEMAS)
    for schema in ts.SCHEMAS.values():
        assert list(schema.tags) == sorted(schema.tags)
        assert "run_id" in schema.tags
        names = {f.name for f in schema.fields}
        assert not names & set(schema.tags), "a tag and a field may not share a name"
        assert not any(n.startswith("_") for n in names | set(schema.tags))


def test_state_line_has_tags_fields_derived_numbers_and_ns_timestamp() -> None:
    rec = StateChange(1.5, "L1", "s1", StationState.DOWN, "jam", 0.5)
    line = ts.to_line(rec, "r1", 2_000, seq=3, source="mqtt")
    assert line == (
        'machine_state,line=L1,run_id=r1,station=s1 t=1.5,state="down",reason="jam",'
        'power_kw=0.5,state_num=4i,item_state=1i,operation_mode=3i,packml=9i,source="mqtt" '
        "2000000003"
    )


def test_hostile_names_are_escaped() -> None:
    rec = PartDone(
        2.0, "line 1,a=b", "stätion \"q\" 'x'", "p=1", "prod uct", None, "good", 1.0, 1.0
    )
    series, fields = ts.point_parts(rec, "run id")
    assert series == (
        r"part_event,line=line\ 1\,a\=b,product=prod\ uct,result=good,run_id=run\ id,"
        "station=stätion\\ \"q\"\\ 'x'"
    )
    assert 'part_id="p=1"' in fields
    assert ts.escape_string('say "hi" \\ now') == r'"say \"hi\" \\ now"'
    assert ts.escape_measurement("a b,c") == r"a\ b\,c"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (BufferLevel(1.0, "L1", "b1", "3", None), "level"),  # a string where an int belongs
        (BufferLevel(1.0, "L1", "b1", True, None), "level"),  # bool is not an int here
        (BufferLevel("1.0", "L1", "b1", 3, None), "t"),  # type: ignore[arg-type]
        (BufferLevel(math.nan, "L1", "b1", 3, None), "t"),
        (BufferLevel(1.0, "", "b1", 3, None), "line"),  # empty tag value
        (BufferLevel(1.0, "L\n1", "b1", 3, None), "line"),  # line break
        (BufferLevel(1.0, "L\\1", "b1", 3, None), "line"),  # backslash: not portable
        (BufferLevel(1.0, 5, "b1", 3, None), "line"),  # type: ignore[arg-type]
        (BufferLevel(None, "L1", "b1", 3, None), "t"),  # type: ignore[arg-type]
        (OrderEvent(1.0, "o1", "p", 2**70, 9.0, "arrived"), "quantity"),
        (ShiftChange(1.0, "x" * 70_000), "shift"),
    ],
)
def test_values_that_cannot_be_stored_are_refused_naming_the_field(
    record: object, field: str
) -> None:
    with pytest.raises(ts.SchemaError, match=f"^{field}:"):
        ts.point_parts(record, "r1")  # type: ignore[arg-type]


def test_bad_timestamps_and_seq_are_refused() -> None:
    with pytest.raises(ts.SchemaError, match="ts_ms"):
        ts.check_ts_ms(-1)
    with pytest.raises(ts.SchemaError, match="ts_ms"):
        ts.check_ts_ms(10**15)
    with pytest.raises(ts.SchemaError, match="seq"):
        ts.timestamp_ns(1, ts.SEQ_LIMIT)


def test_rows_map_back_to_records() -> None:
    result = {
        "results": [
            {
                "statement_id": 0,
                "series": [
                    {
                        "name": "machine_state",
                        "columns": [
                            "time",
                            "line",
                            "power_kw",
                            "product",
                            "reason",
                            "run_id",
                            "source",
                            "state",
                            "state_num",
                            "station",
                            "t",
                        ],
                        "values": [
                            [
                                2_000_000_001,
                                "L1",
                                1,
                                None,
                                None,
                                "r1",
                                "opcua",
                                "processing",
                                1,
                                "s1",
                                3,
                            ]
                        ],
                    },
                    {
                        "name": "run_start",
                        "columns": [
                            "time",
                            "area",
                            "enterprise",
                            "horizon_s",
                            "lines",
                            "run_id",
                            "scenario",
                            "schema",
                            "seed",
                            "site",
                            "start_epoch_ms",
                            "t",
                        ],
                        "values": [
                            [
                                1_000_000_000,
                                "a1",
                                "acme",
                                None,
                                '[{"line":"L1","stations":["s1"]}]',
                                "r1",
                                "sc",
                                1,
                                7,
                                "p1",
                                1000,
                                0,
                            ]
                        ],
                    },
                ],
            }
        ]
    }
    got = ts.records_from_result(result)
    assert got[0].record == RUN
    assert got[1].record == StateChange(3.0, "L1", "s1", StationState.PROCESSING, None, 1.0)
    assert got[1].record.t == 3.0 and isinstance(got[1].record.power_kw, float)
    assert (got[1].ts_ms, got[1].seq, got[1].source, got[1].run_id) == (2000, 1, "opcua", "r1")


def test_select_statement_quotes() -> None:
    assert ts.select_statement("buffer", "it's") == (
        'SELECT * FROM "buffer" WHERE "run_id" = \'it\\\'s\''
    )


def test_metrics_line() -> None:
    line = ts.metrics_line("gw 1", "mqtt", {"records_in": 3, "lag_ms_p50": 1.5}, 5)
    assert line == "gateway_stats,gateway=gw\\ 1,source=mqtt lag_ms_p50=1.5,records_in=3i 5000000"
