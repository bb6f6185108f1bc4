"""Benchmark: a what-if study of 20 variants x 10 replications x 1 simulated week (warm-up: the
first day) on the 30-station plant (``scenarios/plant_3lines.yaml``), with 1 and 2 workers.

Run ``python bench/bench_whatif.py [--variants 20] [--replications 10] [--days 7]
[--workers 1,2] [--repeat 1]``. Variants are the base plus buffer-capacity changes (one buffer
each). Prints, per worker count, the median wall time of ``run_study`` over the repeats, the
mean time of one replication inside a worker, the speed-up over the first worker count and the
scaling efficiency (speed-up / workers), and the busy share: the time spent inside
replications / (workers x wall time), which stays near 100 % when the executor keeps its workers
busy even while other programs slow the cores down. Checks that every worker count gave identical
results and writes the numbers to ``bench/results/bench_whatif.json``. Two workers on a two-core
machine share it with everything else running there: the load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.whatif import LocalExecutor, Study, build_study, run_study  # noqa: E402

BUFFERS = [
    (line, f"{line[-1]}_b{k}")
    for k in range(1, 10)
    for line in ("assembly_a", "assembly_b", "assembly_c")
]


def make_study(variants: int, replications: int, days: float) -> Study:
    """Return the benchmark study: the base and ``variants - 1`` buffer-capacity variants."""
    specs = []
    for i in range(variants - 1):
        line, buffer = BUFFERS[i % len(BUFFERS)]
        capacity = 10 + 5 * (i // len(BUFFERS) + 1)
        specs.append(
            {
                "name": f"{buffer}_{capacity}",
                "overrides": {f"lines.{line}.buffers.{buffer}.capacity": capacity},
            }
        )
    return build_study(
        {
            "name": "bench_whatif",
            "scenario": "plant_3lines.yaml",
            "seed": 1,
            "replications": replications,
            "run_length": days * 86400.0,
            "warmup": days * 86400.0 / 7,
            "kpis": ["throughput_uph", "oee", "wip_avg", "otd", "flow_time_avg_s"],
            "variants": specs,
        },
        base_dir=ROOT / "scenarios",
        source="bench",
    )


def _measure(study: Study, workers: int, repeat: int) -> dict:
    walls, results = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        results.append(run_study(study, LocalExecutor(workers)))
        walls.append(time.perf_counter() - began)
        print(
            f"  {workers} worker(s): {walls[-1]:.1f} s (load {os.getloadavg()[0]:.2f})", flush=True
        )
    per_rep = statistics.mean(r.wall_s for res in results for r in res.runs)
    busy = [
        sum(r.wall_s for r in res.runs) / (workers * wall)
        for res, wall in zip(results, walls, strict=True)
    ]
    return {
        "workers": workers,
        "wall_s": walls,
        "median_wall_s": statistics.median(walls),
        "mean_replication_s": per_rep,
        "busy_share": statistics.median(busy),
        "runs": results[0].runs,
    }


def main() -> None:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=20)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    study = make_study(args.variants, args.replications, args.days)
    counts = [int(w) for w in args.workers.split(",")]
    print(
        f"{len(study.variants)} variants x {study.replications} replications x "
        f"{args.days:g} d on {study.base.scenario.name} "
        f"({len(study.base.scenario.station_ids())} stations), {os.cpu_count()} CPUs"
    )
    rows = [_measure(study, w, args.repeat) for w in counts]
    identical = all(r["runs"] == rows[0]["runs"] for r in rows)
    first = rows[0]
    report = []
    for r in rows:
        speedup = first["median_wall_s"] * first["workers"] / r["median_wall_s"]
        efficiency = speedup / r["workers"]
        report.append(
            {k: v for k, v in r.items() if k != "runs"}
            | {"speedup": speedup, "efficiency": efficiency}
        )
        print(
            f"workers={r['workers']}: median wall {r['median_wall_s']:.1f} s, one replication "
            f"{r['mean_replication_s']:.2f} s in its worker, speed-up {speedup:.2f}, "
            f"scaling efficiency {100 * efficiency:.0f} %, busy share "
            f"{100 * r['busy_share']:.0f} %"
        )
    print(
        f"identical results across worker counts: {identical}; load average now "
        f"{os.getloadavg()[0]:.2f}"
    )
    out = ROOT / "bench" / "results" / "bench_whatif.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "variants": len(study.variants),
                "replications": study.replications,
                "days": args.days,
                "cpus": os.cpu_count(),
                "identical": identical,
                "rows": report,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
