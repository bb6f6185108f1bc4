"""Grids and ranges over parameters, expanded into named variants (pure).

A grid with parameters ``{p1: [a, b], p2: {start: 1, stop: 3, step: 1}}`` gives one variant per
combination, in the order written (``p1`` varies slowest). Names are ``<grid>_<v1>_<v2>``
(values made name-safe); descriptions list ``path=value`` in full.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

from analytics.whatif.spec import GridSpec, RangeSpec, VariantSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def range_values(spec: RangeSpec) -> list[float | int]:
    """Return the values of a range, inclusive of ``stop`` (within float rounding)."""
    if spec.num is not None:
        step = (spec.stop - spec.start) / (spec.num - 1)
        values = [spec.start + i * step for i in range(spec.num)]
    else:
        assert spec.step is not None
        count = math.floor((spec.stop - spec.start) / spec.step + 1e-9) + 1
        values = [spec.start + i * spec.step for i in range(count)]
    return [_tidy(v) for v in values]


def _tidy(value: float) -> float | int:
    """Return integral values as ``int`` (capacities must be integers) and round float noise."""
    rounded = round(value, 9)
    return int(rounded) if rounded == int(rounded) else rounded


def _label(value: Any) -> str:
    text = _UNSAFE.sub("-", str(value)).strip("-")
    return text or "x"


def grid_size(grid: GridSpec) -> int:
    """Return how many variants ``expand_grid`` would make, without making them."""
    return math.prod(
        len(range_values(v)) if isinstance(v, RangeSpec) else len(v)
        for v in grid.parameters.values()
    )


def expand_grid(grid: GridSpec) -> list[VariantSpec]:
    """Return the variants of ``grid``: one per combination of its parameter values."""
    paths = list(grid.parameters)
    axes = [
        range_values(v) if isinstance(v, RangeSpec) else list(v) for v in grid.parameters.values()
    ]
    out = []
    for combo in itertools.product(*axes):
        assignments = dict(zip(paths, combo, strict=True))
        desc = ", ".join(f"{p}={v}" for p, v in assignments.items())
        out.append(
            VariantSpec(
                name=f"{grid.name}_" + "_".join(_label(v) for v in combo),
                description=f"{grid.description}: {desc}" if grid.description else desc,
                overrides={**grid.overrides, **assignments},
            )
        )
    return out
