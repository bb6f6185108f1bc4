"""Batch work around the model: start-up, a whole ``twin run``, event log formats, ``twin kpi``.

Run ``python bench/bench_eventlog.py [--runs 5] [--phases startup,run,kpi,rss,layout]``. Every
command runs as its own process (as a user runs it); each figure is the median of ``--runs``
runs, wall and CPU (user + system) time, with the load average before and after. The
project's bytecode is compiled first, as an installed package has it (``--source``: not). It
prints, side by side in one table:

- ``startup``: ``twin --help``, ``twin run --help``, ``twin --version`` (target <= 0.3 s);
- ``run``: ``twin run plant_3lines --until 7d`` without a log (its default table output, and
  ``-f json``), and ``-f json`` with ``--out run.parquet``, with the previous format
  ``--out run.jsonl.gz`` and with ``--out run.jsonl``; the simulation inside it (the model alone,
  in this process, records dropped) and the minimal hand-written SimPy model of the same lines
  (``bench_sim.minimal_model``). Targets: whole command <= 1.6x the simulation; Parquet adds
  <= 30 % to the run;
- ``kpi``: ``twin kpi`` of a 30-day ``plant_3lines`` log in Parquet (target <= 1.5 s, default
  table output; JSON output beside it) and in JSON Lines (gzip), and the JSON reader before and
  after (in this process; target 2x);
- ``rss``: peak RSS of ``twin run --out run.parquet`` (default table output) for 30 and 90 days
  (targets: <= 300 MB; 90 days no more than 30 days), and whether two runs with the same seed
  give the same bytes;
- ``layout``: the Parquet layouts compared on the 7-day log: one table with a ``kind`` column
  (what ``--out`` writes) against one table per kind (write CPU, size, KPI read CPU).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCENARIO = ROOT / "scenarios" / "plant_3lines.yaml"
DAY = 86400.0
TWIN = [sys.executable, "-m", "twin"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """Run ``cmd``; return its wall time, CPU time (user + system) and peak RSS (kB)."""
    wrapped = ["/usr/bin/time", "-f", "%e %U %S %M", *cmd]
    out = subprocess.run(wrapped, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    wall, user, system, rss = out.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(rss)


def median_of(runs: int, fn: Callable[[], tuple[float, float, int]]) -> tuple[float, float, int]:
    results = [fn() for _ in range(runs)]
    return (
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
        max(r[2] for r in results),
    )


def in_process(fn: Callable[[], object]) -> tuple[float, float, int]:
    """Time ``fn`` in this process: wall, CPU, and 0 for RSS."""
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    return t1 - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), 0


def row(name: str, fig: tuple[float, float, int], target: str = "", verdict: str = "") -> None:
    wall, cpu, rss = fig
    mem = f"{rss / 1024:7.0f} MB" if rss else " " * 10
    print(f"  {name:<46} {wall:7.3f} s {cpu:7.3f} s {mem}  {target:<24} {verdict}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def busy() -> bool:
    """Whether the machine is loaded beyond its cores: then verdicts use CPU time, since wall
    time mostly measures waiting for a core (a command that runs on one core takes about its
    CPU time on a quiet machine)."""
    return os.getloadavg()[0] > (os.cpu_count() or 1)


def judged(fig: tuple[float, float, int]) -> float:
    """The time a verdict uses: CPU on a busy machine, else wall."""
    return fig[1] if busy() else fig[0]


def phase_startup(runs: int) -> None:
    print(f"startup (load {load()})")
    for args in (["--help"], ["run", "--help"], ["--version"]):
        fig = median_of(runs, lambda a=args: timed([*TWIN, *a]))
        target = "<= 0.3 s" if args != ["--version"] else ""
        row("twin " + " ".join(args), fig, target, verdict(judged(fig) <= 0.3) if target else "")
    bare = median_of(runs, lambda: timed([sys.executable, "-c", "pass"]))
    row("(python -c pass: the interpreter alone)", bare)


def _simulate(days: float) -> Callable[[], object]:
    from plant_sim.scenario import load_scenario
    from plant_sim.simulation import run_streaming

    scenario = load_scenario(SCENARIO)
    return lambda: run_streaming(scenario, lambda batch: None, days * DAY, seed=1)


def _minimal(days: float) -> Callable[[], object]:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_sim import minimal_model

    from plant_sim.scenario import load_scenario

    scenario = load_scenario(SCENARIO)
    return lambda: minimal_model(scenario, days * DAY, 1)


def phase_run(runs: int, tmp: Path) -> None:
    print(f"run: plant_3lines, 7 days, seed 1 (load {load()})")
    base = [*TWIN, "run", str(SCENARIO), "--until", "7d", "--seed", "1", "-f", "json"]
    sim = median_of(runs, lambda: in_process(_simulate(7)))
    row("simulation inside (model alone, in process)", sim)
    row("minimal SimPy model of the same lines", median_of(runs, lambda: in_process(_minimal(7))))
    table = median_of(runs, lambda: timed(base[:-2]))  # what a user runs: the tables
    ratio = judged(table) / judged(sim)
    row("twin run (no log; tables)", table, f"<= 1.6x sim: {ratio:.2f}x", verdict(ratio <= 1.6))
    plain = median_of(runs, lambda: timed(base))
    ratio = judged(plain) / judged(sim)
    row("twin run -f json (no log)", plain, f"{ratio:.2f}x sim")
    for name in ("run.parquet", "run.jsonl.gz", "run.jsonl"):
        fig = median_of(runs, lambda n=name: timed([*base, "--out", str(tmp / n)]))
        extra = judged(fig) / judged(plain) - 1
        size = (tmp / name).stat().st_size / 1e6
        target = f"+{100 * extra:.0f} % ({size:.1f} MB)"
        row(
            f"twin run --out {name}",
            fig,
            target,
            verdict(extra <= 0.3) if "parquet" in name else "",
        )


def phase_kpi(runs: int, tmp: Path) -> None:
    print(f"kpi: 30-day plant_3lines log (load {load()})")
    logs = {n: tmp / f"k30.{n}" for n in ("parquet", "jsonl.gz")}
    for path in logs.values():
        if not path.exists():
            timed([*TWIN, "run", str(SCENARIO), "--until", "30d", "--out", str(path), "-f", "json"])
    # the target is the whole command with its default output (tables); JSON beside it
    for name, path, fmt in [(n, p, f) for n, p in logs.items() for f in ("table", "json")]:
        fig = median_of(runs, lambda p=path, f=fmt: timed([*TWIN, "kpi", str(p), "-f", f]))
        target = "<= 1.5 s" if name == "parquet" and fmt == "table" else ""
        row(
            f"twin kpi k30.{name} -f {fmt} ({path.stat().st_size / 1e6:.0f} MB)",
            fig,
            target,
            verdict(judged(fig) <= 1.5) if target else "",
        )
    from analytics.columns import to_columns
    from analytics.eventlog import KPI_KINDS, read_columns, read_event_log

    gz = logs["jsonl.gz"]
    # the record way as it was: without the type checks it does now (they cost about 20 %)
    before = median_of(
        runs, lambda: in_process(lambda: to_columns(read_event_log(gz, KPI_KINDS, checked=False)))
    )
    after = median_of(runs, lambda: in_process(lambda: read_columns(gz)))
    row("JSON reader before (read_event_log + to_columns)", before)
    speedup = before[1] / after[1]
    row(
        "JSON reader now (read_columns)", after, f">= 2x: {speedup:.2f}x CPU", verdict(speedup >= 2)
    )
    pq = median_of(runs, lambda: in_process(lambda: read_columns(logs["parquet"])))
    row("Parquet reader (read_columns)", pq, f"{before[1] / pq[1]:.1f}x CPU")


def phase_rss(tmp: Path) -> None:
    print(f"rss: twin run --out run.parquet (default table output), one run each (load {load()})")
    figs = {}
    for days in (30, 90):
        out = tmp / f"r{days}.parquet"
        cmd = [*TWIN, "run", str(SCENARIO), "--until", f"{days}d", "--out", str(out)]
        figs[days] = timed(cmd)
        row(f"{days} days", figs[days], "<= 300 MB", verdict(figs[days][2] <= 300 * 1024))
    growth = figs[90][2] - figs[30][2]
    print(f"  90 days - 30 days: {growth / 1024:+.0f} MB (target <= 0): {verdict(growth <= 0)}")
    again = tmp / "r30b.parquet"
    timed([*TWIN, "run", str(SCENARIO), "--until", "30d", "--out", str(again)])
    same = again.read_bytes() == (tmp / "r30.parquet").read_bytes()
    print(f"  same seed, same Parquet bytes (30 days, two runs): {verdict(same)}")


def phase_layout(runs: int, tmp: Path) -> None:
    """One table with a kind column against one table per kind, on the 7-day log."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analytics.eventlog import read_columns
    from plant_sim import parquet_log
    from plant_sim.scenario import load_scenario
    from plant_sim.simulation import run_batch

    print(f"layout: 7-day plant_3lines log (load {load()})")
    records = run_batch(load_scenario(SCENARIO), until_s=7 * DAY, seed=1).records
    one = tmp / "one.parquet"
    per = tmp / "per"
    per.mkdir(exist_ok=True)

    def write_one() -> None:
        with parquet_log.ParquetLogWriter(one) as writer:
            for i in range(0, len(records), 4000):
                writer.write(records[i : i + 4000])

    def write_per_kind() -> None:
        codes = np.array([parquet_log.KINDS.index(r.kind) for r in records])
        for code, kind in enumerate(parquet_log.KINDS):
            items = [records[i] for i in np.flatnonzero(codes == code)]
            if items:
                table = parquet_log.records_to_table(items)
                names = ["t", *(n for n in parquet_log._FIELDS[kind] if n != "t")]
                pq.write_table(table.select(names), per / f"{kind}.parquet", compression="zstd")

    def read_per_kind() -> None:
        for kind in ("state", "part", "release", "exit", "order", "stock", "shift"):
            path = per / f"{kind}.parquet"
            if path.exists():
                pq.read_table(path)

    row(
        "one table, kind column: write",
        median_of(runs, lambda: in_process(write_one)),
        f"{one.stat().st_size / 1e6:.1f} MB",
    )
    size = sum(p.stat().st_size for p in per.iterdir()) if per.exists() else 0
    write_per_kind()
    size = sum(p.stat().st_size for p in per.iterdir())
    row(
        "one table per kind: write",
        median_of(runs, lambda: in_process(write_per_kind)),
        f"{size / 1e6:.1f} MB",
    )
    row(
        "one table: KPI columns read (read_columns)",
        median_of(runs, lambda: in_process(lambda: read_columns(one))),
    )
    row("per kind: KPI kinds read (files only)", median_of(runs, lambda: in_process(read_per_kind)))
    del pa


PHASES = ("startup", "run", "kpi", "rss", "layout")
PACKAGES = ("plant_sim", "analytics", "twin", "twin_io", "gateway", "dashboards")


def compile_project() -> None:
    """Write the project's bytecode, as pip does at install and Python does on a first run;
    needed where PYTHONDONTWRITEBYTECODE=1 (this machine, the Docker image) would otherwise
    have every timed command compile its modules anew."""
    import compileall

    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--phases", default=",".join(PHASES))
    ap.add_argument(
        "--source",
        action="store_true",
        help="do not compile the project's bytecode first (every command then compiles its "
        "modules, as under PYTHONDONTWRITEBYTECODE=1 without compiled files)",
    )
    args = ap.parse_args()
    phases = args.phases.split(",")
    if not args.source:
        compile_project()
    code = "from source" if args.source else "bytecode compiled (as pip installs it)"
    print(
        f"bench_eventlog {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load {load()}, median of {args.runs} runs, {code}; columns: wall, CPU, peak RSS"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "startup" in phases:
            phase_startup(args.runs)
        if "run" in phases:
            phase_run(args.runs, tmp)
        if "kpi" in phases:
            phase_kpi(args.runs, tmp)
        if "rss" in phases:
            phase_rss(tmp)
        if "layout" in phases:
            phase_layout(args.runs, tmp)
    basis = "CPU time (load above the cores)" if busy() else "wall time"
    print(f"end {datetime.now(UTC):%H:%M} UTC, load {load()}; verdicts by {basis}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
