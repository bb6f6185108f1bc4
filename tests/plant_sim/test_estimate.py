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
