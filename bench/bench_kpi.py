"""Benchmark: KPI computation time for a 30-day log of the 30-station plant.

Run ``python bench/bench_kpi.py [--days 30] [--runs 5] [--synthetic]``. It uses the real model
(``plant_sim.simulation.run_batch`` on ``scenarios/plant_3lines.yaml``) when both exist, else a
synthetic record stream with the same shape: 3 lines x 10 stations, two 8-hour shifts a day,
about one-minute cycles, starving, blocking, breakdowns, minor stops, buffer levels, process
samples, releases, exits, orders and stock. Prints the record count and the median of the runs
of ``analytics.compute_report``, wall and CPU time, and PASS/FAIL against the target (median
wall time under 2 s, ``--target``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics import compute_report  # noqa: E402
from plant_sim.records import (  # noqa: E402
    BufferLevel,
    OrderEvent,
    PartDone,
    PartLeft,
    PartReleased,
    ProcessSample,
    Record,
    RunEnd,
    RunStart,
    ShiftChange,
    StateChange,
    StockLevel,
)
from plant_sim.states import StationState as S  # noqa: E402

DAY = 86400.0
#: Target for the median wall time of ``compute_report`` on the 30-day log (2-core machine).
TARGET_S = 2.0
SHIFTS = (("early", 6 * 3600.0, 14 * 3600.0), ("late", 14 * 3600.0, 22 * 3600.0))


def _station_records(
    rng: np.random.Generator, line: str, station: str, days: int, last: bool
) -> tuple[list[Record], list[float]]:
    """Return one station's state and part records over ``days`` and its part-done times."""
    out: list[Record] = []
    done: list[float] = []
    pri = 55.0
    for d in range(days):
        for _, s0, s1 in SHIFTS:
            t, end = d * DAY + s0, d * DAY + s1
            out.append(StateChange(t, line, station, S.PROCESSING, None, 5.0))
            while t < end:
                ct = max(30.0, rng.normal(60.0, 6.0))
                t += ct
                done.append(t)
                res = (
                    "good" if rng.random() > 0.02 else ("scrap" if rng.random() < 0.7 else "rework")
                )
                out.append(
                    PartDone(t, line, station, f"{station}-{len(done)}", "A", None, res, ct, pri)
                )
                u = rng.random()
                if u < 0.002:
                    out.append(StateChange(t, line, station, S.DOWN, "tool", 1.0))
                    t += rng.exponential(1200.0)
                elif u < 0.02:
                    out.append(StateChange(t, line, station, S.MINOR_STOP, "jam", 3.0))
                    t += rng.exponential(60.0)
                elif u < 0.5:
                    waiting = S.STARVED if rng.random() < 0.5 else S.BLOCKED
                    reason = "material" if waiting == S.STARVED and rng.random() < 0.05 else None
                    out.append(StateChange(t, line, station, waiting, reason, 1.5))
                    t += rng.exponential(15.0)
                if t < end:
                    out.append(StateChange(t, line, station, S.PROCESSING, None, 5.0))
            out.append(StateChange(max(t, end), line, station, S.OFF_SHIFT, None, 0.2))
    if not last:
        return out, done
    return out, done


def synthetic_log(days: int = 30, lines: int = 3, stations: int = 10, seed: int = 1) -> list:
    """Return a synthetic, time-ordered record stream of the plant (see module docstring)."""
    rng = np.random.default_rng(seed)
    recs: list[Record] = []
    layout = []
    for li in range(lines):
        line = f"line{li + 1}"
        names = [f"{line}-cell{j + 1:02d}" for j in range(stations)]
        layout.append(
            {
                "line": line,
                "stations": names,
                "buffers": [f"{line}-buf{j + 1:02d}" for j in range(stations - 1)],
            }
        )
        for j, st in enumerate(names):
            st_recs, done = _station_records(rng, line, st, days, j == stations - 1)
            recs += st_recs
            if j < stations - 1:
                level = rng.integers(0, 5, len(done))
                recs += [
                    BufferLevel(t, line, f"{line}-buf{j + 1:02d}", int(v), 10)
                    for t, v in zip(done, level, strict=True)
                ]
                recs += [
                    BufferLevel(t + 1.0, line, f"{line}-buf{j + 1:02d}", int(v), 10)
                    for t, v in zip(done, level, strict=True)
                ]
            if j == 0:
                recs += [
                    PartReleased(t - 60.0, line, f"{line}-{k}", "A", None)
                    for k, t in enumerate(done)
                ]
            if j == stations - 1:
                recs += [
                    PartLeft(t, line, f"{line}-{k}", "A", None, "finished", 900.0)
                    for k, t in enumerate(done)
                ]
            recs += [
                ProcessSample(float(t), line, st, 60.0, 4.0, t / 900.0)
                for t in np.arange(0.0, days * DAY, 60.0)
            ]
    for d in range(days):
        for name, s0, _ in SHIFTS:
            recs.append(ShiftChange(d * DAY + s0, name))
        recs.append(ShiftChange(d * DAY + SHIFTS[-1][2], None))
        for k in range(20):
            oid = f"o{d}-{k}"
            t = d * DAY + k * 3000.0
            recs.append(OrderEvent(t, oid, "A", 50, t + 2 * DAY, "arrived"))
            recs.append(
                OrderEvent(t + DAY * rng.uniform(0.5, 3), oid, "A", 50, t + 2 * DAY, "shipped")
            )
        recs.append(StockLevel(d * DAY, "steel", 100.0, "delivery"))
        recs.append(StockLevel(d * DAY + 20 * 3600.0, "steel", 0.0, "consumption"))
    recs.sort(key=lambda r: r.t)
    head = RunStart(
        0.0, "bench", "synthetic", seed, 0, days * DAY, "acme", "plant1", "assembly", layout
    )
    return [head, *recs, RunEnd(days * DAY)]


def real_log(days: int) -> list | None:
    """Return the real model's records for ``days``, or ``None`` if the model is not there."""
    scenario = ROOT / "scenarios" / "plant_3lines.yaml"
    try:
        from plant_sim.scenario import load_scenario
        from plant_sim.simulation import run_batch
    except ImportError:
        return None
    if not scenario.exists():
        return None
    return run_batch(load_scenario(scenario), until_s=days * DAY, seed=1).records


def main() -> int:
    """Run the benchmark and print the median time."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--synthetic", action="store_true", help="skip the real model")
    ap.add_argument(
        "--target",
        type=float,
        default=TARGET_S,
        help=f"target for the median wall time in seconds (default {TARGET_S})",
    )
    args = ap.parse_args()
    t = time.perf_counter()
    records = None if args.synthetic else real_log(args.days)
    source = "model plant_3lines.yaml seed 1"
    if records is None:
        records = synthetic_log(args.days)
        source = "synthetic 3x10 stations"
    print(
        f"log: {source}, {args.days} days, {len(records):,} records "
        f"(built in {time.perf_counter() - t:.1f} s)"
    )
    times, cpu = [], []
    for _ in range(args.runs):
        t, c = time.perf_counter(), time.process_time()
        report = compute_report(records)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    median = statistics.median(times)
    verdict = "PASS" if median < args.target else "FAIL"
    print(
        f"compute_report: median {median:.3f} s wall (target < {args.target:g} s: {verdict}), "
        f"{statistics.median(cpu):.3f} s CPU over {args.runs} runs "
        f"(wall min {min(times):.3f} s, max {max(times):.3f} s)"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(
            f"note: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
            "wall time includes waiting for a CPU"
        )
    print(
        f"plant OEE {report.plant.kpis.oee:.4f}, "
        f"bottlenecks {[b.momentary_bottleneck for b in report.bottlenecks]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
