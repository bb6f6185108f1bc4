"""Fixtures of the what-if tests: small studies on the M/M/1 tandem line, run in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics.whatif import SerialExecutor, Study, StudyResult, build_study, run_study

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
STUDIES = ROOT / "studies"

#: One exponential station fed by Poisson orders (arrival mean 60 s, service mean 30 s): M/M/1
#: with rho = 0.5, made from the tandem scenario by overrides.
MM1_OVERRIDES: dict[str, Any] = {
    "lines.tandem.stations": [{"id": "s1", "cycle_time": {"kind": "exponential", "mean": 30}}],
    "lines.tandem.buffers": [],
}


def tandem_study(**spec: Any) -> Study:
    """Build a study on ``scenarios/tandem_mm1.yaml``; ``spec`` keys replace the defaults."""
    data: dict[str, Any] = {
        "name": "tandem_test",
        "scenario": "tandem_mm1.yaml",
        "replications": 4,
        "seed": 7,
        "run_length": "6h",
        "warmup": "1h",
        "kpis": ["throughput_uph", "wip_avg", "availability@s3", "order_lead_time_avg_s"],
        "variants": [
            {
                "name": "more_demand",
                "description": "5 % more orders",
                "overrides": {"demand.interarrival.mean": 57.142857},
            },
            {
                "name": "same",
                "description": "the base, written out",
                "overrides": {"demand.interarrival.mean": 60},
            },
        ],
    }
    data.update(spec)
    return build_study(data, base_dir=SCENARIOS, source="<tandem_test>")


@pytest.fixture(scope="session")
def small_result() -> StudyResult:
    """A small tandem study (3 variants x 4 replications x 6 h), run in this process."""
    return run_study(tandem_study(), SerialExecutor())
