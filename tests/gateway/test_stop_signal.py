"""A SIGTERM that arrives while the gateway process starts stops it cleanly (exit code 0).

The process is held at a known point of its start-up, whatever the machine's speed: it reads
its config file from a named pipe, which blocks until the test writes the file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway import helpers as h
from tests.servers.influxdb import InfluxServer

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _kill_if_running(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _log_of_exit_0(proc: subprocess.Popen[bytes], log: Path) -> str:
    """Return the gateway's log, once its exit code is checked to be 0."""
    text = log.read_text()
    assert proc.returncode == 0, text[-2000:]
    return text


def _open_writer(fifo: Path) -> int | None:
    """Open the pipe for writing once the gateway opened it for reading (else None)."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader yet
        return None


@pytest.mark.parametrize("command", [["-m", "gateway"], ["-m", "twin", "gateway"]])
def test_sigterm_during_start_up_stops_cleanly(
    tmp_path: Path, influxd: InfluxServer, influx_db: str, command: list[str]
) -> None:
    fifo = tmp_path / "gw.toml"
    os.mkfifo(fifo)
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *command, "--config", str(fifo)],
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        fd: int | None = None

        def reading() -> bool:
            nonlocal fd
            fd = _open_writer(fifo)
            return fd is not None or proc.poll() is not None

        h.wait_until(reading, 60, "the gateway to read its config file", step_s=0.05)
        assert fd is not None, log.read_text()
        proc.send_signal(signal.SIGTERM)  # pending before the settings can be read
        config = (
            f'influx_url = "{influxd.url}"\ninflux_database = "{influx_db}"\n'
            f'mqtt_url = "mqtt://127.0.0.1:1"\ndata_dir = "{tmp_path / "gw"}"\n'
        )
        os.write(fd, config.encode())
        os.close(fd)
        proc.wait(60)
    finally:
        _kill_if_running(proc)
    text = _log_of_exit_0(proc, log)
    assert "stop requested during start-up" in text


def test_sigterm_while_the_broker_does_not_answer_stops_cleanly(
    tmp_path: Path, influxd: InfluxServer, influx_db: str
) -> None:
    """The gateway waits up to 10 s for a broker's first answer at start. A SIGTERM in that
    wait was taken for nothing: it waited on, then exited 1 with 'MQTT broker ...: no answer'."""
    log = tmp_path / "gateway.log"
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.settimeout(60)
        url = f"mqtt://127.0.0.1:{silent.getsockname()[1]}"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "twin", "gateway", "--influx-url", influxd.url),
                    *("--influx-database", influx_db, "--mqtt-url", url),
                    *("--data-dir", str(tmp_path / "gw")),
                ],
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        try:
            conn, _ = silent.accept()  # the gateway connected and waits for CONNACK
            with conn:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
        finally:
            _kill_if_running(proc)
    text = _log_of_exit_0(proc, log)
    assert f"stop requested while connecting to MQTT broker {url}" in text
    assert "Traceback" not in text
