"""Two twins on one broker (issue 16): each with its own ``--mqtt-client-id`` and
``--sparkplug-group``. Their edge nodes connect as ``{client id}-spb-{line}``, so neither kicks
the other off (a fixed client id made the broker drop one session per connect: NDEATH wills
and new births, over and over)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.interop.sparkplug_helpers import Capture, Host, async_wait, twin_sim_argv
from tests.servers.mosquitto import Mosquitto
from twin.cli import app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TWINS = {"twin-a": "plant_a", "twin-b": "plant_b"}  # --mqtt-client-id: --sparkplug-group


def start_twin(url: str, client_id: str, group: str) -> subprocess.Popen[str]:
    argv = twin_sim_argv("--speed", "20000", "--mqtt-url", url, "--mqtt-client-id", client_id)
    argv += ["--sparkplug-group", group]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stderr=subprocess.PIPE)


async def test_two_twins_keep_their_sparkplug_sessions(spb_broker: Mosquitto) -> None:
    """Both twins are born once, answer a rebirth NCMD, and send no NDEATH until their own
    shutdown: no session was taken over."""
    capture = Capture(spb_broker.port)
    host = Host(spb_broker.port)
    twins = [start_twin(spb_broker.url, cid, group) for cid, group in TWINS.items()]
    try:
        for group in TWINS.values():
            await async_wait(lambda g=group: "DDATA" in capture.kinds(g), f"{group}'s data", 60)
        for group in TWINS.values():
            await host.rebirth(group)
        for group in TWINS.values():
            await async_wait(lambda g=group: capture.kinds(g).count("NBIRTH") >= 2, "rebirth")
    finally:
        for twin in twins:
            twin.send_signal(signal.SIGINT)
        errors = [twin.communicate(timeout=60)[1] for twin in twins]
        host.stop()
    assert [twin.returncode for twin in twins] == [0, 0], [e[-2000:] for e in errors]
    for group in TWINS.values():
        await async_wait(lambda g=group: "NDEATH" in capture.kinds(g), "the shutdown's NDEATH")
    capture.stop()
    for group in TWINS.values():
        kinds = capture.kinds(group)
        assert kinds.count("NBIRTH") == 2 and kinds.count("NDEATH") == 1, (group, kinds[:20])
        assert kinds[0] == "NBIRTH" and kinds[-1] == "NDEATH"


@pytest.mark.parametrize("group", ["", "plant/a", "plant+", "plant#"])
def test_a_bad_sparkplug_group_is_bad_input(group: str) -> None:
    scenario = str(ROOT / "scenarios" / "bottling_line.yaml")
    res = CliRunner().invoke(app, ["sim", scenario, "--sparkplug-group", group])
    assert res.exit_code == 2 and "without / + #" in res.output, res.output
