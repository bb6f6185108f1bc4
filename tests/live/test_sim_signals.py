"""``twin sim`` stopped by SIGINT at awkward moments: while it waits for the broker at start.

The process runs as a user runs it (``python -m twin sim``); the tests wait for its log lines,
never for a time tuned to the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.servers.mosquitto import free_port

ROOT = Path(__file__).resolve().parents[2]


def _default_sigint() -> None:  # a child of a background shell would inherit SIGINT ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sim(log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "twin", "sim", "scenarios/bottling_line.yaml", *args],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_default_sigint,
        )


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in: {log.read_text()}"
        time.sleep(0.02)


def _assert_final_message_says_not_waited(text: str) -> None:
    """twin sim's last words (rich wraps them) say the drain was cut short, not timed out."""
    words = " ".join(text.split())
    final = words[words.index("live run finished") :]
    assert "were not delivered" in final and "not waited for" in final, final
    assert "of the shutdown" not in final, final


@pytest.mark.integration
@pytest.mark.parametrize(("sig", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_a_signal_while_waiting_for_the_broker_stops_at_once(
    tmp_path: Path, sig: signal.Signals, exit_code: int
) -> None:
    """Ctrl-C waited out the rest of --mqtt-wait (here 120 s): the wait ran in a worker thread
    that ``asyncio.run`` joins before it returns. SIGTERM came before twin sim's handlers and
    killed it (-15, not a word); now it stops as Ctrl-C does, with exit 0 as once running."""
    log = tmp_path / "sim.log"
    broker = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens
    proc = _sim(log, "--no-opcua", "--mqtt-url", broker, "--mqtt-wait", "120")
    try:
        _wait_for(log, f"MQTT: connecting to {broker}", proc, 60)
        sent = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = log.read_text(errors="replace")
    assert code == exit_code, text
    assert "Traceback" not in text
    assert f"{sig.name} while starting: twin sim stopped before the run began" in text
    assert took < 30, f"stopped {took:.1f} s after {sig.name}"


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_while_mqtt_drains_stops_at_once_and_reports_the_loss(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """Stopped while the broker is away, ``twin sim`` waits up to --mqtt-drain-timeout for the
    queued messages. A second signal in that wait was worse than useless: SIGTERM killed the
    process (-15) and SIGINT waited the drain out all the same (then 130); neither said that
    messages were not delivered."""
    log = tmp_path / "sim.log"
    broker = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens: everything stays queued
    proc = _sim(
        log,
        *("--no-opcua", "--mqtt-url", broker, "--mqtt-wait", "0", "--speed", "60"),
    )  # the default --mqtt-drain-timeout (30 s)
    try:
        _wait_for(log, "live run ", proc, 60)
        proc.send_signal(sig)
        _wait_for(log, "stopping: waiting up to 30 s for", proc, 60)
        proc.send_signal(sig)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = log.read_text(errors="replace")
    assert code == 1, text
    assert "Traceback" not in text
    assert "were not delivered" in text and "(the stop was requested again)" in text
    _assert_final_message_says_not_waited(text)


def _stalled_broker() -> tuple[socket.socket, list[socket.socket]]:
    """A broker that takes the edge node's session (CONNACK) and then reads nothing more: the
    twin's socket fills (small segments and window: within ~100 KB) and paho keeps the rest."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = srv.accept()
                conn.recv(1)  # the CONNECT begins; answer without reading the rest
                conn.sendall(b"\x20\x02\x00\x00")
                conns.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    return srv, conns


def _send_queue(conn: socket.socket) -> int:
    """Bytes the peer of ``conn`` (the twin) has sent and ``conn`` not read (/proc/net/tcp)."""
    port = conn.getpeername()[1]
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # ESTABLISHED
            return int(fields[4].split(":")[0], 16)
    return 0


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_while_sparkplug_drains_stops_at_once_and_reports_the_loss(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The Sparkplug edge nodes waited for their unsent messages in a worker thread that a
    second signal did not reach: twin sim sat out --mqtt-drain-timeout (then 10 s whatever it
    said), then exited 0 without counting what paho still held."""
    srv, conns = _stalled_broker()
    log = tmp_path / "sim.log"
    proc = _sim(
        log,
        *("--no-opcua", "--mqtt-format", "sparkplug", "--speed", "10000"),
        *("--mqtt-url", f"mqtt://127.0.0.1:{srv.getsockname()[1]}"),
    )  # the default --mqtt-drain-timeout (30 s)
    try:
        _wait_for(log, "live run ", proc, 60)
        # stalled: the twin's unread bytes stop growing while it runs 10000 times real time
        deadline = time.monotonic() + 60
        seen: list[int] = []
        while len(seen) < 10 or seen[-1] == 0 or len(set(seen[-10:])) > 1:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            seen.append(_send_queue(conns[0]) if conns else 0)
            time.sleep(0.05)
        proc.send_signal(sig)
        _wait_for(log, "stopping: waiting up to 30 s for", proc, 60)
        proc.send_signal(sig)
        code = proc.wait(60)
    finally:
        srv.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for conn in conns:
            conn.close()
    text = log.read_text(errors="replace")
    assert code == 1, text
    assert "Traceback" not in text
    assert "were not delivered" in text and "(the stop was requested again)" in text
    _assert_final_message_says_not_waited(text)
