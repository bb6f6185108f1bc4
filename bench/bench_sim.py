"""Simulation speed: each example scenario against a minimal hand-written SimPy model of it.

Run: ``python bench/bench_sim.py [--runs 5] [--days 7]``. For every scenario it prints the
median over the runs of simulated seconds per wall second, records per second, and the wall
time per station cycle (one part processed by one station) of the full model and of a minimal
SimPy model of the same lines: same stations, cycle-time distributions, buffers and customer
order arrivals (parts queue for the first station); no failures, calendar, order records, supply
or observations. The ratio full/minimal is per station cycle, the median of the runs' ratios
(each run times both models one right after the other). The column ``saturated`` is the
ratio against the reference used before 2026-12-03, whose first stations never wait (no
demand): a saturated line, which for tandem_mm1 is not the M/M/1 tandem but an unstable one.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy

from plant_sim.distributions import Sampler, make_sampler
from plant_sim.scenario import Scenario, load_scenario
from plant_sim.simulation import run_batch

Process = Generator[simpy.Event, Any, None]
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def minimal_model(scenario: Scenario, until_s: float, seed: int, demand: bool = True) -> int:
    """A bare SimPy model of the scenario's lines; returns the number of station cycles.

    With ``demand`` (the reference), customer orders arrive as the scenario's demand says and
    their parts queue for the first station of the least-loaded line that makes the product, as
    in the full model; without it (or with no arrival process) the first stations never wait:
    saturated lines.
    """
    env = simpy.Environment()
    cycles = [0]
    spec = scenario.demand
    fed = demand and spec is not None and spec.interarrival is not None
    queues: dict[str, list[simpy.Store]] = {}
    for line in scenario.lines:
        products = scenario.line_products(line)
        buffers = [simpy.Store(env, b.capacity) for b in line.buffers]
        orders = simpy.Store(env)
        for product in products:
            queues.setdefault(product, []).append(orders)
        for i, station in enumerate(line.stations):
            rng = random.Random(f"{seed}:{station.id}")
            outbox = buffers[i] if i < len(buffers) else None
            dists = {p: station.cycle_time or station.cycle_times[p] for p in products}  # type: ignore[index]
            if fed:
                samples = {p: make_sampler(d, rng) for p, d in dists.items()}
                inbox = buffers[i - 1] if i else orders
                env.process(_fed_station(env, cycles, samples, inbox, outbox))
            else:
                sample = make_sampler(dists[products[0]], rng)
                inbox = buffers[i - 1] if i else None
                env.process(_saturated_station(env, cycles, sample, inbox, outbox))
    if fed:
        env.process(_arrivals(env, scenario, seed, queues))
    env.run(until=until_s)
    return cycles[0]


def _saturated_station(
    env: simpy.Environment,
    cycles: list[int],
    sample: Sampler,
    inbox: simpy.Store | None,
    outbox: simpy.Store | None,
) -> Process:
    """A station of the minimal model; the first one (no inbox) never waits."""
    while True:
        if inbox is not None:
            yield inbox.get()
        yield env.timeout(sample())
        cycles[0] += 1
        if outbox is not None:
            yield outbox.put(1)


def _fed_station(
    env: simpy.Environment,
    cycles: list[int],
    samples: dict[str, Sampler],
    inbox: simpy.Store,
    outbox: simpy.Store | None,
) -> Process:
    """A station of the minimal model that takes parts (products) from its inbox."""
    while True:
        product = yield inbox.get()
        yield env.timeout(samples[product]())
        cycles[0] += 1
        if outbox is not None:
            yield outbox.put(product)


def _arrivals(
    env: simpy.Environment, scenario: Scenario, seed: int, queues: dict[str, list[simpy.Store]]
) -> Process:
    """Orders by the scenario's demand; each one's parts go to the shortest queue for it."""
    spec = scenario.demand
    assert spec is not None and spec.interarrival and spec.quantity
    interarrival = make_sampler(spec.interarrival, random.Random(f"{seed}:demand:interarrival"))
    quantity = make_sampler(spec.quantity, random.Random(f"{seed}:demand:quantity"))
    mix = random.Random(f"{seed}:demand:mix")
    products = sorted(spec.mix)
    weights = [spec.mix[p] for p in products]
    while True:
        yield env.timeout(interarrival())
        product = mix.choices(products, weights)[0]
        queue = min(queues[product], key=lambda store: len(store.items))
        for _ in range(max(1, round(quantity()))):
            queue.put(product)


def measure(scenario: Scenario, until_s: float, runs: int) -> dict[str, float]:
    """Median figures over ``runs`` runs of the full and the minimal model."""
    full_wall, full_cpu, full_records, full_cycles = [], [], [], []
    mini_wall, mini_cpu, mini_cycles = [], [], []
    sat_wall, sat_cycles = [], []
    for run in range(runs):
        began, cpu = time.perf_counter(), time.process_time()
        log = run_batch(scenario, until_s=until_s, seed=run)
        full_wall.append(time.perf_counter() - began)
        full_cpu.append(time.process_time() - cpu)
        full_records.append(len(log))
        full_cycles.append(sum(1 for r in log.records if r.kind == "part"))
        del log  # not alive while the minimal models run
        began, cpu = time.perf_counter(), time.process_time()
        mini_cycles.append(minimal_model(scenario, until_s, run))
        mini_wall.append(time.perf_counter() - began)
        mini_cpu.append(time.process_time() - cpu)
        began = time.perf_counter()
        sat_cycles.append(minimal_model(scenario, until_s, run, demand=False))
        sat_wall.append(time.perf_counter() - began)
    med = statistics.median

    def per_cycle(times: list[float], cycles: list[int]) -> list[float]:
        return [t / c * 1e6 for t, c in zip(times, cycles, strict=True)]

    def paired(full: list[float], reference: list[float]) -> float:
        # each run's ratio of two models timed one right after the other: the machine's speed,
        # which drifts by tens of percent within a minute here, cancels out
        return med(f / r for f, r in zip(full, reference, strict=True))

    full_us = per_cycle(full_wall, full_cycles)
    mini_us = per_cycle(mini_wall, mini_cycles)
    return {
        "cpu_ratio": paired(per_cycle(full_cpu, full_cycles), per_cycle(mini_cpu, mini_cycles)),
        "wall_s": med(full_wall),
        "sim_per_wall": until_s / med(full_wall),
        "records_per_s": med(r / w for r, w in zip(full_records, full_wall, strict=True)),
        "us_per_cycle": med(full_us),
        "minimal_us_per_cycle": med(mini_us),
        "ratio": paired(full_us, mini_us),
        "saturated_ratio": paired(full_us, per_cycle(sat_wall, sat_cycles)),
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
        f"{'us/cycle':>10}{'minimal':>9}{'ratio':>7}{'cpu':>6}{'saturated':>11}"
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
            f"{m['minimal_us_per_cycle']:>9.1f}{m['ratio']:>7.2f}{m['cpu_ratio']:>6.2f}"
            f"{m['saturated_ratio']:>11.2f}",
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
