"""``twin backfill`` stopped half-way, and ``--skip-existing`` afterwards (real InfluxDB).

``docker compose up`` runs ``twin backfill --skip-existing`` once; a ``docker compose down``
while it ran left a backfill without its ``run_end``, which every later ``up`` took for a whole
one and skipped. A stopped backfill now says so, and ``--skip-existing`` only counts a
backfill whose ``run_end`` is stored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from analytics.service import InfluxQL, LineWriter, RunReader, make_sink
from analytics.service.backfill import backfill
from plant_sim.scenario import load_scenario
from tests.servers.influxdb import InfluxServer
from twin_io.influx import InfluxConfig

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "plant_3lines.yaml"
END = "2026-03-04T00:00:00+00:00"


def _twin_backfill(influxd: InfluxServer, db: str, *args: str) -> subprocess.Popen[str]:
    influx = ["--influx-url", influxd.url, "--influx-database", db]
    return subprocess.Popen(
        [sys.executable, "-m", "twin", "backfill", str(SCENARIO), "--end", END, *influx, *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _ended(influxd: InfluxServer, db: str) -> set[str]:
    return RunReader(InfluxQL(InfluxConfig(influxd.url, db))).ended_runs()


def test_skip_existing_backfills_again_over_a_backfill_stopped_half_way(
    influxd: InfluxServer,
) -> None:
    db = influxd.create_database()
    writer = LineWriter(make_sink(InfluxConfig(influxd.url, db)))
    writer.prepare()
    stopped = threading.Event()
    stopped.set()  # stops after its first day
    end_ms = int(datetime.fromisoformat(END).timestamp() * 1000)
    half = backfill(load_scenario(SCENARIO), end_ms, 2.0, writer.write, stop=stopped)
    writer.close()
    assert not half.complete and half.done_s == 86_400.0
    assert half.run_id not in _ended(influxd, db)

    proc = _twin_backfill(influxd, db, "--days", "2", "--skip-existing")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert f"backfill {half.run_id} is stored without its run_end" in out, out
    assert "backfill skipped" not in out
    assert half.run_id in _ended(influxd, db)  # the same run, now whole

    proc = _twin_backfill(influxd, db, "--days", "2", "--skip-existing")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0 and f"backfill skipped: {half.run_id} already stored" in out, out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_twin_backfill_after_the_day_it_is_in(
    influxd: InfluxServer, sig: signal.Signals
) -> None:
    """SIGTERM killed it (exit -15) and Ctrl-C gave a traceback, either with no word of the
    backfill left without its run_end."""
    db = influxd.create_database()
    proc = _twin_backfill(influxd, db, "--days", "30")
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while not any(": 1.0 of 30.0 days" in line for line in lines):  # logged after each day
        assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
        lines.append(proc.stdout.readline())
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    text = "".join(lines) + out
    assert proc.returncode == 130, text
    assert f"stopped by {sig.name} after" in text and "without its run_end" in text, text
    assert "Traceback" not in text
    assert not _ended(influxd, db)
