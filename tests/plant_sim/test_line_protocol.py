"""The one line-protocol encoder for measurements that are not records (metrics, KPIs, what-if)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plant_sim.telemetry_schema import (
    SchemaError,
    encode_point,
    field_value,
    metrics_line,
)


def test_values_by_type_and_undefined_ones_left_out() -> None:
    fields = {
        "on": True,
        "n": 3,
        "big": np.int64(2**40),
        "x": 0.5,
        "y": np.float64(2.0),
        "gone": None,
        "nan": math.nan,
        "inf": -math.inf,
        "say": 'a "q" \\ b',
    }
    line = encode_point("m x", {"z": "1", "a b": "v,w"}, fields, 17)
    assert line == (
        r"m\ x,a\ b=v\,w,z=1 on=true,n=3i,big=1099511627776i,x=0.5,y=2.0,"
        r'say="a \"q\" \\ b" 17'
    )
    assert encode_point("m", {}, {"gone": None, "nan": math.nan}, 1) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [(2**63, "64-bit"), ("line\nbreak", "line break"), (object(), "cannot store")],
)
def test_what_cannot_be_stored_is_refused_with_the_field_name(value: object, problem: str) -> None:
    with pytest.raises(SchemaError, match=f"f: .*{problem}"):
        field_value(value, "f")


def test_gateway_metrics_keep_ints_as_integers() -> None:
    line = metrics_line("gw 1", "mqtt", {"records_in": 5, "lag_p50_ms": 2}, 1000)
    assert line == "gateway_stats,gateway=gw\\ 1,source=mqtt lag_p50_ms=2i,records_in=5i 1000000000"
    assert metrics_line("g", "s", {"lag": 2.5}, 1).endswith(" lag=2.5 1000000")
