"""Study files: loading, variants and grids, warm-up forms, and errors that name the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.whatif import MserSpec, StudyError, build_study, load_study
from analytics.whatif.grids import expand_grid, range_values
from analytics.whatif.spec import GridSpec, RangeSpec
from tests.whatif.conftest import SCENARIOS, STUDIES, tandem_study

EXAMPLES = sorted(STUDIES.glob("*.yaml"))


def test_there_are_example_studies_for_each_topic_of_the_issue() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {
        "buffer_sizing",
        "preventive_maintenance",
        "changeover_sequencing",
        "supplier_disruption",
        "demand_surge",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_study_is_valid(path: Path) -> None:
    study = load_study(path)
    assert study.base.name == "base" and len(study.variants) >= 2
    assert len({v.name for v in study.variants}) == len(study.variants)


def test_a_variant_is_the_base_with_its_overrides() -> None:
    study = load_study(STUDIES / "buffer_sizing.yaml")
    base, first = study.variants[0].scenario, study.variants[1].scenario
    caps = {b.id: b.capacity for b in first.lines[2].buffers}
    assert (caps["c_b2"], caps["c_b4"], caps["c_b5"]) == (10, 10, 10)
    assert base.demand is None and base.supply is None  # base_overrides apply to all
    assert first.demand is None
    assert {b.id: b.capacity for b in base.lines[2].buffers}["c_b2"] == 5


def test_seeds_are_shared_by_every_variant() -> None:
    study = tandem_study(seed=40, replications=3)
    assert study.seeds() == [40, 41, 42]


def test_changes_replace_top_level_keys_before_validation() -> None:
    study = load_study(STUDIES / "tandem_capacity.yaml", replications=3, run_length="4h")
    assert study.replications == 3 and study.run_length_s == 4 * 3600.0


def test_the_run_length_defaults_to_the_scenario_horizon() -> None:
    study = tandem_study(run_length=None, warmup=0)
    assert study.run_length_s == 10 * 86400.0


def test_warmup_is_fixed_or_mser() -> None:
    assert tandem_study(warmup="90m").warmup == 5400.0
    assert tandem_study(warmup="mser5").warmup == MserSpec()
    spec = tandem_study(warmup={"method": "mser5", "series": "throughput", "interval": "5m"})
    assert spec.warmup == MserSpec(series="throughput", interval=300.0)


def test_ranges_include_the_stop_value() -> None:
    assert range_values(RangeSpec(start=4, stop=16, step=4)) == [4, 8, 12, 16]
    assert range_values(RangeSpec(start="10m", stop="20m", num=3)) == [600, 900, 1200]
    assert range_values(RangeSpec(start=0.1, stop=0.3, step=0.1)) == [0.1, 0.2, 0.3]


def test_a_grid_gives_one_named_variant_per_combination() -> None:
    grid = GridSpec(
        name="g", parameters={"a.b": [1, 2], "c": {"start": 5, "stop": 6, "step": 1}, "d": ["edd"]}
    )
    variants = expand_grid(grid)
    assert [v.name for v in variants] == ["g_1_5_edd", "g_1_6_edd", "g_2_5_edd", "g_2_6_edd"]
    assert variants[1].overrides == {"a.b": 1, "c": 6, "d": "edd"}
    assert variants[1].description == "a.b=1, c=6, d=edd"


def _problems(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(StudyError) as info:
        build_study(data, base_dir=SCENARIOS, source="bad.yaml")
    assert str(info.value).startswith("bad.yaml: invalid study")
    return info.value.problems


def _good() -> dict:
    return {
        "name": "s",
        "scenario": "plant_3lines.yaml",
        "kpis": ["oee"],
        "variants": [{"name": "v", "overrides": {"seed": 2}}],
    }


def test_schema_errors_name_the_study_path() -> None:
    data = {
        **_good(),
        "replications": 1,
        "warmup": {"method": "mser5", "series": "x"},
        "extra": 1,
        "variants": [{"name": "bad name"}],
        "grids": [{"name": "g", "parameters": {"p": {"start": 4, "stop": 2, "step": 1}, "q": 3}}],
    }
    problems = dict(_problems(data))
    assert "Input should be greater than or equal to 2" in problems["replications"]
    assert "'wip' or 'throughput'" in problems["warmup.series"]
    assert "Extra inputs" in problems["extra"]
    assert "pattern" in problems["variants[0].name"]
    assert "stop is below start" in problems["grids[0].parameters.p"]
    assert "valid list" in problems["grids[0].parameters.q"]


def test_override_and_scenario_errors_name_the_variant_and_the_scenario_path() -> None:
    data = {
        **_good(),
        "variants": [
            {"name": "v1", "overrides": {"lines.zz.buffers.b.capacity": 1}},
            {
                "name": "v2",
                "overrides": {
                    "lines.assembly_a.buffers.a_b2.capacity": 0,
                    "demand.interarrival.mean": "soon",
                },
            },
            {"name": "v2"},
        ],
    }
    problems = _problems(data)
    assert (
        "variants[0] 'v1', override lines.zz.buffers.b.capacity",
        "lines: no item with id 'zz' (known: assembly_a, assembly_b, assembly_c)",
    ) in problems
    paths = [p for p, _ in problems]
    assert "variants[1] 'v2': lines[0].buffers[1].capacity" in paths
    assert "variants[1] 'v2': demand.interarrival.mean" in paths
    assert "variants[2] 'v2'" in paths  # the name is taken


def test_kpi_errors_name_the_list_entry() -> None:
    data = {
        **_good(),
        "kpis": ["oee@nowhere", "speed", "otd@assembly_a", "wip_avg@a_press", "oee", "oee@plant"],
    }
    problems = dict(_problems(data))
    assert "neither 'plant' nor a line or station id" in problems["kpis[0]"]
    assert "unknown KPI 'speed'" in problems["kpis[1]"]
    assert "otd is defined for plant scopes" in problems["kpis[2]"]
    assert "not for station 'a_press'" in problems["kpis[3]"]
    assert "listed twice" in problems["kpis[5]"]


def test_a_missing_scenario_and_a_too_long_warmup_are_named() -> None:
    assert _problems({**_good(), "scenario": "nope.yaml"})[0][0] == "scenario"
    assert _problems({**_good(), "warmup": "8d", "run_length": "7d"})[0][0] == "warmup"
    assert _problems({**_good(), "base_overrides": {"lines.q": 1}})[0][0].startswith(
        "base_overrides, override lines.q"
    )


def test_a_broken_study_file_is_reported_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(StudyError, match=r"broken.yaml: invalid study\n  \(yaml\)"):
        load_study(bad)
    with pytest.raises(StudyError, match=r"\(file\)"):
        load_study(tmp_path / "missing.yaml")


def test_every_exported_name_resolves() -> None:
    import analytics.whatif as whatif

    for name in whatif.__all__:
        assert getattr(whatif, name) is not None, name
    with pytest.raises(AttributeError):
        _ = whatif.no_such_name


def test_the_committed_json_schema_is_current() -> None:
    """Regenerate with: python -c "import json; from analytics.whatif.spec import json_schema;
    print(json.dumps(json_schema(), indent=2, sort_keys=True))" > studies/study.schema.json"""
    import json

    from analytics.whatif.spec import json_schema

    committed = json.loads((STUDIES / "study.schema.json").read_text())
    assert committed == json_schema()
