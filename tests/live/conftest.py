"""Fixtures of the live-twin tests: scenarios and a batch event log to compare against."""

from __future__ import annotations

from pathlib import Path

import pytest

from plant_sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bottling() -> Scenario:
    """The 6-station example scenario."""
    return load_scenario(ROOT / "scenarios" / "bottling_line.yaml")
