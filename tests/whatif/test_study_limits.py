"""Studies that would hang or exhaust memory are refused with the path (issue 14 #11, #12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics.whatif import StudyError, build_study, load_study
from tests.whatif.conftest import SCENARIOS


def _problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(StudyError) as info:
        build_study(data, base_dir=SCENARIOS, source="bad.yaml")
    return info.value.problems


def _good(**changes: Any) -> dict[str, Any]:
    return {"name": "s", "scenario": "tandem_mm1.yaml", "kpis": ["wip_avg"], **changes}


@pytest.mark.parametrize("value", [".inf", "inf", "1e400", float("inf"), float("nan"), [], ""])
def test_a_run_length_that_never_ends_or_is_no_duration_is_refused(value: Any) -> None:
    assert [p for p, _ in _problems(_good(run_length=value))] == ["run_length"]


def test_overrides_that_would_hang_the_model_are_refused_per_variant() -> None:
    variants = [
        {"name": "zero", "overrides": {"demand.interarrival": {"kind": "constant", "value": 0}}},
        {"name": "huge", "overrides": {"demand.quantity": {"kind": "constant", "value": 1e9}}},
        {"name": "fast", "overrides": {"telemetry.sample_period": 1e-9}},
        {"name": "forever", "overrides": {"horizon": float("inf")}},
    ]
    paths = {p for p, _ in _problems(_good(variants=variants))}
    assert paths == {
        "variants[0] 'zero': demand.interarrival",
        "variants[1] 'huge': demand.quantity",
        "variants[2] 'fast': telemetry.sample_period",
        "variants[3] 'forever': horizon",
    }


def test_ranges_and_grids_too_large_to_expand_are_refused() -> None:
    step = {"start": 0, "stop": 1e9, "step": 1e-9}
    grid = {"name": "g", "parameters": {"lines.tandem.buffers.q2.capacity": step}}
    assert (
        "more than 1000 values"
        in dict(_problems(_good(grids=[grid])))[
            "grids[0].parameters.lines.tandem.buffers.q2.capacity"
        ]
    )
    axis = {"start": 1, "stop": 1000, "num": 1000}
    grid = {"name": "g", "parameters": {"seed": axis, "demand.interarrival.mean": axis}}
    assert _problems(_good(grids=[grid])) == [("grids[0]", "more than 10,000 combinations")]


def test_study_files_with_duplicate_keys_or_another_encoding_are_named(tmp_path: Path) -> None:
    text = f"name: s\nscenario: {SCENARIOS / 'tandem_mm1.yaml'}\nkpis: [wip_avg]\n"
    cases = {
        "dup.yaml": ((text + "name: t\n").encode(), "duplicate key 'name'"),
        "u16.yaml": (text.encode("utf-16"), "UTF-16"),
        "deep.yaml": ((text + "x: " + "[" * 3000 + "]" * 3000 + "\n").encode(), "deep"),
    }
    for name, (raw, words) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(StudyError, match=words):
            load_study(tmp_path / name)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_bytes((SCENARIOS / "tandem_mm1.yaml").read_text().encode("utf-16"))
    (tmp_path / "s.yaml").write_text(f"name: s\nscenario: {scenario}\nkpis: [wip_avg]\n")
    with pytest.raises(StudyError) as info:
        load_study(tmp_path / "s.yaml")
    [(where, message)] = info.value.problems
    assert where == "scenario" and "UTF-16" in message


def test_a_study_of_very_long_replications_is_announced_with_an_estimate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from analytics.whatif.cli import _warn_if_large

    data = {"name": "s", "scenario": "plant_3lines.yaml", "kpis": ["oee"]}
    with caplog.at_level("WARNING"):
        _warn_if_large(build_study({**data, "run_length": "1d"}, base_dir=SCENARIOS))
        assert not caplog.records
        _warn_if_large(build_study({**data, "run_length": "3000d"}, base_dir=SCENARIOS))
    [record] = caplog.records
    assert "million records" in record.message and "--run-length" in record.message


def test_an_mser_interval_too_short_for_the_run_is_refused() -> None:
    """0.0001 s in a 2 h run made 72 million intervals per replication (minutes, gigabytes)."""
    warmup = {"method": "mser5", "interval": 0.0001}
    assert _problems(_good(run_length="2h", warmup=warmup)) == [
        (
            "warmup.interval",
            "0.0001 s cuts the run length (7200 s) into more than 100,000 intervals",
        )
    ]
    assert build_study(
        _good(run_length="2h", warmup={"method": "mser5", "interval": 0.072}), base_dir=SCENARIOS
    )
