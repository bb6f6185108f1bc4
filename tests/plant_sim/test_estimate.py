"""The run-size estimate is an upper bound within a factor of 5 on the example scenarios."""

from __future__ import annotations

import pytest

from plant_sim.estimate import estimate_run
from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch
from tests.plant_sim.helpers import SCENARIOS


@pytest.mark.parametrize(
    ("name", "until_s"),
    [("bottling_line", 86400.0), ("plant_3lines", 86400.0), ("tandem_mm1", 86400.0)],
)
def test_the_estimate_bounds_the_real_record_count(name: str, until_s: float) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    real = len(run_batch(scenario, until_s, 1).records)
    estimate = estimate_run(scenario, until_s)
    assert real <= estimate.records <= 5 * real
    assert estimate.memory_bytes == estimate.records * 300


def test_failures_every_microsecond_make_a_day_a_very_large_run() -> None:
    from plant_sim.estimate import large_run_warning
    from plant_sim.scenario import parse_scenario
    from tests.plant_sim.helpers import scenario_data

    data = scenario_data("bottling_line")
    assert large_run_warning(parse_scenario(data), 86400.0) is None
    data["lines"][0]["stations"][1]["failures"][0]["tbf"] = {"kind": "exponential", "mean": 1e-6}
    warning = large_run_warning(parse_scenario(data), 86400.0)
    assert warning is not None and "million records" in warning
