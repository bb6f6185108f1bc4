"""Small builders shared by the plant_sim tests."""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from plant_sim.records import Record
from plant_sim.scenario import Scenario, parse_scenario
from plant_sim.states import StationState

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def scenario_data(name: str) -> dict[str, Any]:
    """The parsed YAML of an example scenario, to modify in a test."""
    return yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())


def make(data: dict[str, Any], **changes: Any) -> Scenario:
    """Validate a (copied, changed) scenario dict."""
    data = copy.deepcopy(data)
    data.update(changes)
    return parse_scenario(data)


def state_intervals(
    records: list[Record],
) -> dict[str, list[tuple[float, float, StationState, str | None]]]:
    """Per station, the (start, end, state, reason) intervals of a finished run."""
    end = records[-1].t
    out: dict[str, list] = defaultdict(list)
    open_: dict[str, tuple[float, StationState, str | None]] = {}
    for r in records:
        if r.kind == "state":
            if r.station in open_:
                t0, s0, why = open_[r.station]
                out[r.station].append((t0, r.t, s0, why))
            open_[r.station] = (r.t, r.state, r.reason)
    for sid, (t0, s0, why) in open_.items():
        out[sid].append((t0, end, s0, why))
    return out


def time_average(
    records: list[Record], kind: str, key: str, value: str, match: str, t_from: float = 0.0
) -> float:
    """Time-weighted mean of stepwise ``value`` over records of ``kind`` where ``key == match``."""
    end = records[-1].t
    area, level, since = 0.0, 0.0, t_from
    for r in records:
        if r.kind == kind and getattr(r, key) == match:
            if r.t > t_from:
                area += level * (r.t - since)
                since = r.t
            level = getattr(r, value)
    area += level * (end - since)
    return area / (end - t_from)
