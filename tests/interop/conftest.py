"""Fixtures of the interoperability tests: independent stacks from npm, run with node."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from plant_sim.scenario import Scenario, load_scenario
from tests.servers.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).with_name("node")


def npm_install() -> None:
    """Install the test-only npm packages of ``package-lock.json`` (what scripts/test.sh runs)."""
    if (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed for the interoperability tests (scripts/test.sh installs node)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
        check=True,
        capture_output=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def node_stack() -> Path:
    """The directory of the node scripts, with their npm packages installed."""
    if shutil.which("node") is None:
        pytest.fail("node is needed for the interoperability tests")
    npm_install()
    return NODE_DIR


def run_node(script: Path, *args: str, timeout: float = 120) -> dict:
    """Run a node script and return the JSON it prints on its ``RESULT`` line."""
    proc = subprocess.run(
        ["node", str(script), *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert len(lines) == 1, proc.stdout[-2000:]
    return json.loads(lines[0][len("RESULT ") :])


@pytest.fixture(scope="session")
def bottling() -> Scenario:
    """The 6-station example scenario."""
    return load_scenario(ROOT / "scenarios" / "bottling_line.yaml")


@pytest.fixture
def spb_broker(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    """A Mosquitto for the Sparkplug tests (the gateway tests' broker configuration)."""
    from tests.gateway import helpers as h

    return mosquitto_factory(extra_conf=h.BROKER_CONF)
