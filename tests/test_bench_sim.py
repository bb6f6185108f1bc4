"""The bench's reference model simulates the same line as the full model."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch

ROOT = Path(__file__).resolve().parents[1]
DAYS_S = 4 * 86400.0


def _bench_sim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_sim", ROOT / "bench" / "bench_sim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_minimal_tandem_has_the_scenarios_arrivals_and_the_saturated_one_does_not() -> None:
    bench = _bench_sim()
    scenario = load_scenario(ROOT / "scenarios" / "tandem_mm1.yaml")
    arrivals = DAYS_S / 60.0  # the demand's mean interarrival time
    fed = bench.minimal_model(scenario, DAYS_S, seed=1)
    assert fed == pytest.approx(3 * arrivals, rel=0.05), "each arrival is processed by 3 stations"
    saturated = bench.minimal_model(scenario, DAYS_S, seed=1, demand=False)
    assert saturated == pytest.approx(DAYS_S / 30 + DAYS_S / 40 + DAYS_S / 45, rel=0.05)
    log = run_batch(scenario, DAYS_S, seed=1)
    full = sum(1 for r in log.records if r.kind == "part")
    assert full == pytest.approx(fed, rel=0.05), "the reference makes as many cycles as the model"
