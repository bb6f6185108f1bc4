"""``twin demo`` end to end against Debian's Mosquitto and InfluxDB, then ``twin top``.

The demo runs the tandem line (3 stations, no shift calendar, so ``twin top`` shows the hour)
for 3 to 4 simulated hours at 1200x. Once the plant has ended and its last hour's KPIs cover the
whole run, ``twin top`` is rendered to a recorded console: every station of the scenario is
there, with the parts and the OEE, A, P and Q that the simulator's own event log gives over
the same window (the same seed and start time, run headless). SIGINT then stops the demo, and
no process it started is left.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from analytics.report import compute_report
from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch
from twin.demo.servers import find_binary
from twin.top.live import snapshot_of
from twin.top.queries import Snapshot
from twin.top.view import pct, render
from twin_io.influx import InfluxConfig, InfluxError, InfluxQL

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "tandem_mm1.yaml"


def run_length_s() -> float:
    """About 3 h, ending some 45 minutes past a full hour: the last hour window holds parts.

    The plant starts at now, so where the run ends within its last UTC hour depends on the
    clock; a run ending a minute past the hour would show KPIs of that one minute.
    """
    return float(3 * 3600 + int(45 * 60 - time.time() % 3600) % 3600)


def _need(name: str) -> None:
    if find_binary(name) is None:
        message = f"{name} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _wait(predicate, timeout_s: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"twin demo exited with {proc.returncode}: {log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"{what} not seen in {timeout_s} s: {log.read_text()[-3000:]}")


def _pids_under(folder: Path) -> list[int]:
    """Pids of processes whose command line names ``folder`` (what the demo started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(folder) in cmdline and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


def _rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 11 and cells[0] == "tandem":
            rows[cells[1]] = cells
    return rows


def test_demo_runs_the_pipeline_and_top_shows_the_event_logs_kpis(tmp_path: Path) -> None:
    _need("mosquitto")
    _need("influxd")
    data = tmp_path / "demo"
    log = tmp_path / "demo.out"
    argv = [sys.executable, "-m", "twin", "demo", str(SCENARIO), "--speed", "1200"]
    run_s = run_length_s()
    argv += ["--until", f"{run_s:.0f}s", "--data-dir", str(data), "--backfill-days", "0.05"]
    argv += ["--analytics-interval", "1", "--no-top", "--opcua-port", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("TWIN_INFLUX_URL", "TWIN_MQTT_URL"):
        env.pop(name, None)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        text = _wait(
            lambda: "data is flowing" in log.read_text() and log.read_text(),
            180,
            "data flowing",
            proc,
            log,
        )
        if shutil.which("grafana") is None and shutil.which("grafana-server") is None:
            assert "Grafana not found, skipped" in text
        url = re.search(r"InfluxDB\s+(http://\S+)", text).group(1)
        config = InfluxConfig(url, "twin")

        def final() -> Snapshot | None:
            try:
                snap = snapshot_of(config)
            except InfluxError:  # _wait then names a demo that has exited, with its log
                return None
            live = snap.run_id is not None and snap.run_id.startswith("tandem_mm1-live-")
            return snap if live and snap.t1_s == run_s else None

        snap = _wait(final, 180, "the last hour's KPIs of the whole run", proc, log)
        docs = InfluxQL(config).query(
            f'SELECT "start_epoch_ms", "seed" FROM "run_start" WHERE "run_id" = \'{snap.run_id}\''
        )
        start_ms, seed = docs[0]["results"][0]["series"][0]["values"][0][1:3]
        scenario = load_scenario(SCENARIO)
        start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        scenario = scenario.model_copy(update={"start_time": start})
        truth = run_batch(scenario, run_s, seed).records
        report = compute_report(truth, (snap.t0_s, snap.t1_s), shifts=False)
        want = {}
        for station in ("s1", "s2", "s3"):
            ref = report.scope(station)
            assert ref.elements.pq > 0
            k = ref.kpis
            want[station] = [
                f"{ref.elements.pq:,.0f}",
                f"{ref.elements.gq:,.0f}",
                pct(k.oee),
                pct(k.availability),
                pct(k.effectiveness),
                pct(k.quality_ratio),
            ]

        def shown() -> dict[str, list[str]]:
            console = Console(record=True, width=200, color_system=None)
            console.print(render(snap))
            return {station: cells[5:] for station, cells in _rows(console.export_text()).items()}

        # The last hour is computed as soon as the data time reaches the run's end, and
        # again each analytics cycle until the run's last records (a gateway batch behind)
        # have landed: wait for that, then twin top shows the event log's KPIs exactly.
        deadline = time.monotonic() + 60
        while shown() != want and time.monotonic() < deadline:
            time.sleep(0.5)
            snap = final() or snap
        assert shown() == want
    finally:
        started = [int(p) for p in re.findall(r"\(pid (\d+)\)", log.read_text())]
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(120)
    assert code == 0, log.read_text()[-3000:]
    assert "demo stopped: nothing left running" in log.read_text()
    assert len(started) >= 5  # mosquitto, influxd, gateway, plant, analytics (+ backfill)
    alive = [pid for pid in started if Path(f"/proc/{pid}").exists()]
    assert not alive, f"left running: {alive}"
    assert not _pids_under(data), "a process of the demo is still running"
