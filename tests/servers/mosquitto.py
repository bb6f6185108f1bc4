"""A real Mosquitto broker on a free loopback port, started per test (pytest plugin).

Fixtures:
- ``mosquitto``: a running ``Mosquitto`` (anonymous, persistence in a temp dir).
- ``mosquitto_factory``: ``mosquitto_factory(extra_conf=[...])`` starts another broker with
  extra ``mosquitto.conf`` lines (e.g. ``"max_queued_messages 10000"``).

``Mosquitto`` has ``host``, ``port``, ``url`` (``mqtt://127.0.0.1:PORT``), ``stop()``,
``start()``, ``restart()`` (same port and persistence file) and ``kill()`` (SIGKILL).
Without ``/usr/sbin/mosquitto`` (or ``$MOSQUITTO``) the fixtures skip, or fail when CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_binary() -> str | None:
    """Return the mosquitto executable, or None if it is not installed."""
    env = os.environ.get("MOSQUITTO")
    if env:
        return env
    for path in _CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("mosquitto")


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 10.0) -> None:
    """Wait until a TCP connect to ``host:port`` succeeds; raise ``TimeoutError`` if not."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                msg = f"nothing listens on {host}:{port} after {timeout_s} s"
                raise TimeoutError(msg) from None
            time.sleep(0.02)


class Mosquitto:
    """One mosquitto process with its own config, data dir and log."""

    host = "127.0.0.1"

    def __init__(self, binary: str, workdir: Path, extra_conf: Sequence[str] = ()) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "mosquitto.log"
        self.conf_path = workdir / "mosquitto.conf"
        # As root, Mosquitto drops to the user "mosquitto", who cannot write the persistence
        # file into our temporary folder: broker restarts would then lose queued messages.
        run_as = ["user root"] if os.geteuid() == 0 else []
        lines = [
            *run_as,
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            "autosave_interval 1",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            *extra_conf,
        ]
        self.conf_path.write_text("\n".join(lines) + "\n")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker URL for the twin's ``--mqtt-url``."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True if the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until it accepts TCP connections."""
        if self.running:
            return
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.host, self.port, timeout_s)
        except TimeoutError:
            err = self._proc.stderr.read().decode() if self._proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {err}") from None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the broker with SIGTERM (it saves its persistence file), SIGKILL if stuck."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
        if proc.stderr:
            proc.stderr.close()

    def kill(self) -> None:
        """Kill the broker at once (no persistence save)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down ``down_s`` seconds, and start again on the same port."""
        self.stop()
        if down_s:
            time.sleep(down_s)
        self.start()


def _binary_or_skip() -> str:
    binary = mosquitto_binary()
    if binary is None:
        msg = "mosquitto is not installed (apt-get install mosquitto, or set $MOSQUITTO)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return binary


@pytest.fixture
def mosquitto_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Mosquitto]]:
    """Start brokers on demand (``extra_conf=[...]``); all are stopped at teardown."""
    binary = _binary_or_skip()
    started: list[Mosquitto] = []

    def make(extra_conf: Sequence[str] = ()) -> Mosquitto:
        broker = Mosquitto(binary, tmp_path_factory.mktemp("mosquitto"), extra_conf)
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    """A running broker for one test."""
    return mosquitto_factory()
