"""Simulation speed: each example scenario against a minimal hand-written SimPy model of it.

Run: ``python bench/bench_sim.py [--runs 5] [--days 7]``. For every scenario it prints the
median over the runs of simulated seconds per wall second, records per second, and the wall
time per station cycle (one part processed by one station) of the full model and of a minimal
SimPy model of the same lines (same stations, cycle-time distributions and buffers; no failures,
calendar, orders, supply or observations). The ratio full/minimal is per station cycle.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

import simpy

from plant_sim.distributions import make_sampler
from plant_sim.scenario import Scenario, load_scenario
from plant_sim.simulation import run_batch

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def minimal_model(scenario: Scenario, until_s: float, seed: int) -> int:
    """A bare SimPy model of the scenario's lines; returns the number of station cycles."""
    env = simpy.Environment()
    cycles = [0]

    def station(sample, inbox, outbox):
        while True:
            if inbox is not None:
                yield inbox.get()
            yield env.timeout(sample())
            cycles[0] += 1
            if outbox is not None:
                yield outbox.put(1)

    for line in scenario.lines:
        product = scenario.line_products(line)[0]
        buffers = [simpy.Store(env, b.capacity) for b in line.buffers]
        for i, spec in enumerate(line.stations):
            dist = spec.cycle_time or spec.cycle_times[product]  # type: ignore[index]
            sample = make_sampler(dist, random.Random(f"{seed}:{spec.id}"))
            inbox = buffers[i - 1] if i > 0 else None
            outbox = buffers[i] if i < len(buffers) else None
            env.process(station(sample, inbox, outbox))
    env.run(until=until_s)
    return cycles[0]


def measure(scenario: Scenario, until_s: float, runs: int) -> dict[str, float]:
    """Median figures over ``runs`` runs of the full and the minimal model."""
    full_wall, full_cpu, full_records, full_cycles = [], [], [], []
    mini_wall, mini_cpu, mini_cycles = [], [], []
    for run in range(runs):
        began, cpu = time.perf_counter(), time.process_time()
        log = run_batch(scenario, until_s=until_s, seed=run)
        full_wall.append(time.perf_counter() - began)
        full_cpu.append(time.process_time() - cpu)
        full_records.append(len(log))
        full_cycles.append(sum(1 for r in log.records if r.kind == "part"))
        del log  # not alive while the minimal model runs
        began, cpu = time.perf_counter(), time.process_time()
        mini_cycles.append(minimal_model(scenario, until_s, run))
        mini_wall.append(time.perf_counter() - began)
        mini_cpu.append(time.process_time() - cpu)
    med = statistics.median

    def per_cycle(times: list[float], cycles: list[int]) -> float:
        return med(t / c * 1e6 for t, c in zip(times, cycles, strict=True))

    full_us = per_cycle(full_wall, full_cycles)
    mini_us = per_cycle(mini_wall, mini_cycles)
    return {
        "cpu_ratio": per_cycle(full_cpu, full_cycles) / per_cycle(mini_cpu, mini_cycles),
        "wall_s": med(full_wall),
        "sim_per_wall": until_s / med(full_wall),
        "records_per_s": med(r / w for r, w in zip(full_records, full_wall, strict=True)),
        "us_per_cycle": full_us,
        "minimal_us_per_cycle": mini_us,
        "ratio": full_us / mini_us,
    }


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--days", type=float, default=7.0)
    args = parser.parse_args()
    until_s = args.days * 86400.0
    header = (
        f"{'scenario':<16}{'wall s':>8}{'sim s/wall s':>14}{'records/s':>12}"
        f"{'us/cycle':>10}{'minimal':>9}{'ratio':>7}{'cpu':>6}"
    )
    load = os.getloadavg()[0]
    print(f"median of {args.runs} runs, {args.days:g} simulated days each (load {load:.2f})")
    print(header)
    verdicts = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        m = measure(load_scenario(path), until_s, args.runs)
        print(
            f"{path.stem:<16}{m['wall_s']:>8.2f}{m['sim_per_wall']:>14,.0f}"
            f"{m['records_per_s']:>12,.0f}{m['us_per_cycle']:>10.1f}"
            f"{m['minimal_us_per_cycle']:>9.1f}{m['ratio']:>7.2f}{m['cpu_ratio']:>6.2f}",
            flush=True,
        )
        verdicts.append(f"{path.stem} ratio {m['ratio']:.2f} <= 1.5: {_pass(m['ratio'] <= 1.5)}")
        if path.stem == "plant_3lines" and args.days == 7.0:
            week = m["wall_s"]
            verdicts.append(f"plant_3lines week {week:.2f} s < 10 s: {_pass(week < 10.0)}")
    print(f"targets (load now {os.getloadavg()[0]:.2f}):")
    for line in verdicts:
        print(f"  {line}")


def _pass(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


if __name__ == "__main__":
    main()
