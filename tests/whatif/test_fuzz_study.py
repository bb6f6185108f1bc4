"""Property tests of the study loader (issue 14, fuzz suite): any study data, any file bytes,
give a ``Study`` or a ``StudyError`` naming paths; never another exception or a hang."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.whatif import StudyError, build_study, load_study
from plant_sim.durations import MAX_SECONDS
from tests.whatif.conftest import SCENARIOS

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
VALUES = st.one_of(
    st.sampled_from(
        [
            float("inf"),
            float("nan"),
            1e308,
            5e-324,
            -0.0,
            0,
            -1,
            10**30,
            "",
            ".inf",
            "1e400",
            "8h",
            "mser5",
            "wip_avg",
            [],
            {},
            None,
            True,
            {"start": 0, "stop": 1e9, "step": 1e-9},
            {"start": 1, "stop": 5, "num": 3},
            {"kind": "constant", "value": 0},
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
)
PATHS = st.sampled_from(
    [
        "seed",
        "horizon",
        "demand.interarrival.mean",
        "demand.interarrival",
        "telemetry.sample_period",
        "lines.tandem.buffers.q2.capacity",
        "lines.tandem.stations.s1.cycle_time",
        "calendar",
        "x.y",
    ]
)
KEYS = st.sampled_from(
    ["run_length", "warmup", "replications", "seed", "kpis", "confidence", "timeline_bins", "name"]
)


@st.composite
def studies(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "s", "scenario": "tandem_mm1.yaml", "kpis": ["wip_avg"]}
    data.update(draw(st.dictionaries(KEYS, VALUES, max_size=3)))
    data["variants"] = [
        {"name": f"v{i}", "overrides": overrides}
        for i, overrides in enumerate(
            draw(st.lists(st.dictionaries(PATHS, VALUES, max_size=2), max_size=2))
        )
    ]
    if draw(st.booleans()):
        data["grids"] = [
            {
                "name": "g",
                "parameters": draw(st.dictionaries(PATHS, VALUES, min_size=1, max_size=2)),
            }
        ]
    return data


@FUZZ
@given(data=studies())
def test_any_study_data_is_a_study_or_a_study_error(data: dict[str, Any]) -> None:
    try:
        study = build_study(data, base_dir=SCENARIOS, source="fuzz.yaml")
    except StudyError as exc:
        assert exc.problems and all(path and message for path, message in exc.problems)
        return
    assert 0 < study.run_length_s <= MAX_SECONDS
    assert all(0 < v.scenario.horizon <= MAX_SECONDS for v in study.variants)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_study_file_bytes_are_a_study_or_a_study_error(
    raw: bytes, tmp_path_factory: Any
) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "study.yaml"
    path.write_bytes(raw)
    try:
        load_study(path)
    except StudyError as exc:
        assert exc.problems
