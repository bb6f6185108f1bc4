"""Benchmark: backfill speed and analytics cycle time for the 30-station plant, on real InfluxDB.

Run ``python bench/bench_service.py [--days 3] [--runs 3] [--influx-url URL]``. Without a URL it
starts Debian's ``influxd`` (1.x) in a temporary directory, as the tests do. Per run:

- backfill: ``scenarios/plant_3lines.yaml``, ``--days`` ending at 12:00 UTC, into a fresh
  database: simulated days per wall minute (simulation, line protocol, KPI windows and the
  writes, which run in a background thread);
- analytics cycle, cold: a new service (no window final yet) at a "now" one hour before the
  run's end computes every window of the run up to then (hours, shifts, days: the whole
  backlog, a day of records at a time), as a service started late or restarted does;
- analytics cycle, warm: a cycle of a running service, whose earlier windows are final: the
  current hour, shift and day (it reads from the day's start).

Prints each run and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.service import (  # noqa: E402
    AnalyticsService,
    BackgroundWriter,
    InfluxConfig,
    InfluxQL,
    LineWriter,
    RunReader,
    backfill,
    make_sink,
)
from analytics.service.windows import current_windows, windows_between  # noqa: E402
from plant_sim.scenario import load_scenario  # noqa: E402

END_MS = 1_767_960_000_000  # 2026-01-09T12:00:00Z, a Friday


def run_once(url: str, days: float, run: int) -> tuple[float, float, float]:
    """Return (simulated days per minute, cold cycle s, warm cycle s) of one run."""
    config = InfluxConfig(url, f"bench_{run}_{int(time.time())}")
    line_writer = LineWriter(make_sink(config))
    line_writer.prepare()
    writer = BackgroundWriter(line_writer)
    started = time.perf_counter()
    result = backfill(
        load_scenario(ROOT / "scenarios" / "plant_3lines.yaml"), END_MS, days, writer.put
    )
    writer.close()
    wall = time.perf_counter() - started
    speed = result.sim_days / wall * 60
    service = AnalyticsService(
        RunReader(InfluxQL(config)), LineWriter(make_sink(config)), settle_s=0
    )
    latest = service.reader.latest_by_run()[result.run_id] - 3_600_000  # mid-run "now"
    cold = service.run_cycle(result.run_id, latest)
    # Warm: as a running service sees it, every window but the current ones already final.
    warm_service = AnalyticsService(service.reader, service.writer, settle_s=0)
    clock = service.reader.clock(result.run_id, latest)
    assert clock is not None
    marks = warm_service._marks(clock)
    current = {w.key for w in current_windows(latest, marks)}
    warm_service._final |= {
        (result.run_id, *w.key)
        for w in windows_between(clock.meta.start_epoch_ms, latest, marks)
        if w.key not in current
    }
    warm = warm_service.run_cycle(result.run_id, latest)
    assert cold is not None and warm is not None
    print(
        f"run {run}: {result.records} records, {result.sim_days:.2f} days in {wall:.1f} s = "
        f"{speed:.1f} simulated days/min; cycle cold {cold.seconds:.2f} s "
        f"({cold.records} records, {len(cold.windows)} windows), warm {warm.seconds:.2f} s "
        f"({warm.records} records, {len(warm.windows)} windows)",
        flush=True,
    )
    return speed, cold.seconds, warm.seconds


def main() -> None:
    """Parse the options, run the benchmark, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--influx-url", default=None)
    args = parser.parse_args()
    server = None
    url = args.influx_url
    if url is None:
        from tests.servers.influxdb import InfluxServer

        server = InfluxServer(Path(tempfile.mkdtemp(prefix="bench-influxd-")))
        server.start()
        url = server.url
    try:
        runs = [run_once(url, args.days, i) for i in range(args.runs)]
    finally:
        if server is not None:
            server.stop()
    speed, cold, warm = (statistics.median(x) for x in zip(*runs, strict=True))
    print(
        f"median of {args.runs}: backfill {speed:.1f} simulated days per wall minute; "
        f"analytics cycle {cold:.2f} s cold, {warm:.2f} s warm (30 stations)"
    )


if __name__ == "__main__":
    main()
