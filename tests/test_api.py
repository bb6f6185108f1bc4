"""The notebook API: three lines from a scenario file to a KPI DataFrame."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")

from analytics.report import compute_report  # noqa: E402
from plant_sim.scenario import ScenarioError  # noqa: E402
from plant_sim.simulation import run_batch  # noqa: E402
from twin.api import load, simulate  # noqa: E402

BOTTLING = Path(__file__).resolve().parents[1] / "scenarios" / "bottling_line.yaml"


def test_three_lines_give_the_kpis_of_twin_run() -> None:
    scenario = load(BOTTLING)
    kpis = simulate(scenario, until="1d").kpis()
    assert isinstance(kpis, pd.DataFrame)
    truth = compute_report(run_batch(scenario, 86400.0).records, shifts=False)
    assert kpis.loc[("plant", "", "plant"), "oee"] == truth.plant.kpis.oee
    filler = kpis.xs("filler", level="scope").iloc[0]
    assert filler["availability"] == truth.scope("filler").kpis.availability
    assert set(kpis.index.get_level_values("level")) == {"plant", "line", "station"}
    assert len(kpis) == 1 + len(scenario.lines) + len(scenario.station_ids())


def test_window_and_undefined_values() -> None:
    run = simulate(BOTTLING, until="8h")
    night = run.kpis(("0h", "6h"))  # before the first shift: no planned time
    assert math.isnan(night.loc[("plant", "", "plant"), "oee"])
    day = run.kpis(("6h", "8h"))
    assert day.loc[("plant", "", "plant"), "oee"] > 0


def test_records_as_frames() -> None:
    run = simulate(BOTTLING, until="8h", seed=7)
    parts = run.frame("part")
    assert {"station", "result", "cycle_time_s"} <= set(parts.columns)
    assert len(parts) == sum(1 for r in run.records if r.kind == "part")


def test_a_bad_file_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nproducts: []\nlines: []\n")
    with pytest.raises(ScenarioError, match="products"):
        load(bad)
