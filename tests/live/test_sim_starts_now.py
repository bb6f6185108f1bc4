"""``twin sim`` starts at the wall clock's now by default; ``--scenario-start`` at start_time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.servers.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _run_start_ms(broker: Mosquitto, *extra: str) -> int:
    argv = [sys.executable, "-m", "twin", "sim", str(ROOT / "scenarios/tandem_mm1.yaml")]
    argv += ["--no-opcua", "--mqtt-url", broker.url, "--speed", "1000", "--until", "1m", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    sub = ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port)]
    sub += ["-t", "acme/plant1/area1/_plant/run", "-C", "1", "-W", "10"]
    out = subprocess.run(sub, capture_output=True, text=True, timeout=30, check=True).stdout
    return int(orjson.loads(out)["start_epoch_ms"])


def test_sim_starts_now_unless_told_the_scenarios_start(mosquitto: Mosquitto) -> None:
    if shutil.which("mosquitto_sub") is None:
        pytest.skip("mosquitto_sub is not installed (mosquitto-clients)")
    before = time.time() * 1000
    started = _run_start_ms(mosquitto)
    assert before - 1000 <= started <= time.time() * 1000
    assert _run_start_ms(mosquitto, "--scenario-start") == 1767571200000  # 2026-01-05 00:00Z
