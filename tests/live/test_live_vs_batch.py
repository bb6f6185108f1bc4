"""Live mode at a high speed factor yields the same event log as batch mode for the same seed."""

from __future__ import annotations

from plant_sim.live.clock import PacedClock
from plant_sim.live.runner import LiveRunner
from plant_sim.live.service import LiveConfig, MemorySink, make_model
from plant_sim.records import to_dict
from plant_sim.scenario import Scenario
from plant_sim.simulation import run_batch


async def test_live_equals_batch_for_the_same_seed(bottling: Scenario) -> None:
    until = 9 * 3600.0  # through the start of the first shift
    sink = MemorySink()
    runner = LiveRunner(make_model(bottling, LiveConfig(seed=7)), PacedClock(200_000), [sink])
    stats = await runner.run(until)
    batch = run_batch(bottling, until, seed=7)
    assert stats.flushes > 10  # it really ran in many paced slices
    assert [to_dict(r) for r in sink.records] == [to_dict(r) for r in batch.records]


async def test_speed_change_while_running_keeps_the_log(bottling: Scenario) -> None:
    sink = MemorySink()
    runner = LiveRunner(make_model(bottling, LiveConfig(seed=3)), PacedClock(50_000), [sink])

    class Switch:
        async def publish(self, records: list, first_n: int | None = None) -> None:
            if runner.model.now > 3600 and runner.clock.speed != 400_000:
                runner.clock.set_speed(400_000)

        async def set_clock(self, *args: float) -> None:
            pass

    runner.sinks.append(Switch())
    await runner.run(7 * 3600.0)
    batch = run_batch(bottling, 7 * 3600.0, seed=3)
    assert runner.clock.speed == 400_000
    assert [to_dict(r) for r in sink.records] == [to_dict(r) for r in batch.records]
