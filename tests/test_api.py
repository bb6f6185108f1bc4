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


TANDEM = BOTTLING.parent / "tandem_mm1.yaml"


@pytest.mark.parametrize("until", [0, -5, math.nan, "0s"])
def test_an_until_without_a_run_is_refused(until: object) -> None:
    """It gave an empty run (run_start and run_end only) without a word."""
    with pytest.raises(ValueError, match="until: "):
        simulate(TANDEM, until=until)


@pytest.mark.parametrize("until", [math.inf, 1e300, True])
def test_an_until_that_never_ends_is_refused(until: object) -> None:
    """inf and 1e300 ran without end (twin run --until refuses them); True ran 1 s."""
    with pytest.raises(ValueError, match="until: "):
        simulate(TANDEM, until=until)


@pytest.mark.parametrize(
    ("seed", "error"), [("x", TypeError), (2.5, TypeError), (True, TypeError), (2**63, ValueError)]
)
def test_a_seed_that_is_no_64_bit_integer_is_refused(seed: object, error: type) -> None:
    """A string or float seed ran (and named the run 'tandem_mm1-sx'); 2**63 ran and could not
    be written to an event log."""
    with pytest.raises(error, match="seed: "):
        simulate(TANDEM, until="1h", seed=seed)


def test_misused_windows_kinds_and_scenarios_are_named() -> None:
    """A NaN window gave KPIs of nothing in particular, a 3-tuple used its first two values,
    an unknown kind an empty frame, a dict an error about os.PathLike."""
    run = simulate(TANDEM, until="2h")
    for window in [(math.nan, "1h"), ("1h", "2h", "3h"), "8h"]:
        with pytest.raises(ValueError, match="window: "):
            run.kpis(window)
    assert run.kpis((0, 3600)).equals(run.kpis(("0h", "1h")))
    with pytest.raises(ValueError, match="kind: 'parts' is not one of"):
        run.frame("parts")
    with pytest.raises(TypeError, match="scenario: expected a Scenario or a file path"):
        simulate({"name": "x"}, until="1h")
