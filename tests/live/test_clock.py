"""The paced clock maps simulation time to wall time at a changeable speed."""

from __future__ import annotations

import pytest

from plant_sim.live.clock import PacedClock, check_speed


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_speed_maps_sim_time_to_wall_time() -> None:
    t = FakeTime()
    clock = PacedClock(60, time_fn=t)
    assert clock.target() == 0.0
    t.now += 2.0
    assert clock.target() == pytest.approx(120.0)
    assert clock.wait_s(180.0) == pytest.approx(1.0)
    assert clock.wall_at(60.0) == pytest.approx(101.0)
    assert clock.lag_s(60.0) == pytest.approx(1.0)
    assert clock.lag_s(500.0) == 0.0


def test_set_speed_keeps_current_sim_time_and_changes_rate() -> None:
    t = FakeTime()
    clock = PacedClock(1, time_fn=t)
    t.now += 10.0
    clock.set_speed(100)
    assert clock.target() == pytest.approx(10.0)
    t.now += 1.0
    assert clock.target() == pytest.approx(110.0)
    assert clock.speed == 100


def test_restart_makes_sim_time_due_now() -> None:
    t = FakeTime()
    clock = PacedClock(10, time_fn=t)
    t.now += 5.0
    clock.restart(3.0)
    assert clock.target() == pytest.approx(3.0)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "fast", True, 1e12])
def test_bad_speeds_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="speed"):
        check_speed(bad)  # type: ignore[arg-type]
