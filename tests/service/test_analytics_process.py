"""``twin analytics`` as a user runs it: its log while it waits for InfluxDB at start, through
an outage, and how it stops on SIGINT/SIGTERM. The tests wait for log lines, never for a time
tuned to the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers.influxdb import INFLUXD, InfluxServer, free_port

ROOT = Path(__file__).resolve().parents[2]


def _default_sigint() -> None:  # a child of a background shell would inherit SIGINT ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _analytics(log: Path, url: str, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "twin", "analytics", "--influx-url", url, *args],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_default_sigint,
        )


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in: {log.read_text()}"
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.mark.integration
def test_the_log_tells_the_wait_for_influxdb_and_its_return(tmp_path: Path) -> None:
    """It logged nothing while it waited for InfluxDB at start, nothing when InfluxDB answered
    again after an outage, and 'retrying in 0 s' with --interval 0.2."""
    if not Path(INFLUXD).exists():
        pytest.skip(f"no {INFLUXD}")
    server = InfluxServer(tmp_path / "influxd")  # its port is chosen; nothing listens yet
    url = f"http://analyst:s3cret@127.0.0.1:{server.http_port}"
    shown = f"http://analyst:***@127.0.0.1:{server.http_port}"
    log = tmp_path / "analytics.log"
    health = tmp_path / "healthy"  # touched after every good cycle
    proc = _analytics(log, url, "--wait", "120", "--interval", "0.2", "--health-file", str(health))
    try:
        _wait_for(log, f"waiting up to 120 s for InfluxDB at {shown}", proc)
        server.start()
        _wait_for(log, f"InfluxDB at {shown} answers after", proc)
        deadline = time.monotonic() + 60
        while not health.exists():  # running its cycles
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        server.kill()
        _wait_for(log, "cycle failed, retrying in 0.2 s", proc)
        server.restart()
        _wait_for(log, f"InfluxDB at {shown} answers again after", proc)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    finally:
        _stop(proc)
        server.stop()
    text = log.read_text(errors="replace")
    assert code == 0, text
    assert "s3cret" not in text
    assert "retrying in 0 s" not in text


@pytest.mark.integration
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_a_signal_while_waiting_for_influxdb_stops_cleanly(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """SIGTERM before the handlers were installed (during the wait for InfluxDB, up to --wait)
    killed the process (-15, no word); SIGINT ended it with exit 1 and an InfluxDB error."""
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    log = tmp_path / "analytics.log"
    proc = _analytics(log, url, "--wait", "120")
    try:
        _wait_for(log, "waiting up to 120 s for InfluxDB at", proc)
        proc.send_signal(sig)
        got = proc.wait(60)
    finally:
        _stop(proc)
    text = log.read_text(errors="replace")
    assert got == code, text
    assert f"{sig.name} while starting (InfluxDB at {url}): stopped before the first cycle" in text
    assert "Traceback" not in text and "error:" not in text
