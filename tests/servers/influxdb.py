"""Fixtures for a real InfluxDB 1.x (Debian's ``influxd``) on a free loopback port.

``influxd`` (session scope) is one server shared by the whole run; each test that needs a clean
store takes ``influx_db``, a fresh database on it. Fault tests take ``influxd_factory`` to start a
private server they may kill (SIGKILL) and restart on the same data directory.

The server keeps every directory (meta, data, wal) in a temporary folder, binds HTTP to
``127.0.0.1:<free port>``, moves the RPC bind address to another free port, and turns off
reporting, the ``_internal`` monitor store and the HTTP access log. When ``influxd`` is missing,
the fixtures skip, unless ``CI=true``, where they fail: a green CI must not hide a missing install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from twin.demo.servers import influx1_conf

INFLUXD = os.environ.get("TWIN_TEST_INFLUXD", "/usr/bin/influxd")
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(root: Path, http_port: int, rpc_port: int) -> str:
    return influx1_conf(root, http_port, rpc_port)  # the same server as ``twin demo`` starts


class InfluxServer:
    """One ``influxd`` process with its own data directory; can be killed and restarted."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.config_path = root / "influxdb.conf"
        self.config_path.write_text(_config(root, self.http_port, self.rpc_port))
        self.log_path = root / "influxd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The HTTP base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        """Start ``influxd`` and wait until ``/ping`` answers 204."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [INFLUXD, "-config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"influxd exited with {self.proc.returncode}: {self.log_tail()}")
            if self.ping():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(
            f"influxd did not answer /ping in {START_TIMEOUT_S} s: {self.log_tail()}"
        )

    def ping(self) -> bool:
        """Tell whether the server answers ``/ping`` with 204."""
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM to its own pid), killing it after 10 s."""
        self._signal(signal.SIGTERM, wait_s=10.0)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        self._signal(signal.SIGKILL, wait_s=10.0)

    def restart(self) -> None:
        """Start again on the same port and data directory."""
        self.start()

    def _signal(self, sig: signal.Signals, wait_s: float) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=wait_s)

    def log_tail(self, n: int = 2000) -> str:
        """Return the end of the server log, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def query(self, q: str, db: str | None = None, epoch: str = "ns") -> dict:
        """Run an InfluxQL statement (POST) and return the JSON answer."""
        params = {"q": q, "epoch": epoch}
        if db:
            params["db"] = db
        resp = httpx.post(f"{self.url}/query", params=params, timeout=30.0)
        resp.raise_for_status()
        return resp.json()

    def create_database(self, name: str | None = None) -> str:
        """Create a database (a fresh unique one by default) and return its name."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.query(f'CREATE DATABASE "{name}"')
        return name


def _require_influxd() -> None:
    if shutil.which(INFLUXD) or Path(INFLUXD).exists():
        return
    message = f"influxd not found at {INFLUXD} (apt-get install influxdb)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """A real InfluxDB 1.x shared by the session; do not kill it (use ``influxd_factory``)."""
    _require_influxd()
    server = InfluxServer(tmp_path_factory.mktemp("influxd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influx_db(influxd: InfluxServer) -> Iterator[str]:
    """A fresh, empty database on the session server; dropped afterwards."""
    name = influxd.create_database()
    yield name
    with contextlib.suppress(httpx.HTTPError):
        influxd.query(f'DROP DATABASE "{name}"')


@pytest.fixture
def influxd_factory(tmp_path: Path) -> Iterator[Callable[[], InfluxServer]]:
    """Start private servers (for kill/restart tests); all are stopped at teardown."""
    _require_influxd()
    servers: list[InfluxServer] = []

    def make() -> InfluxServer:
        server = InfluxServer(tmp_path / f"influxd{len(servers)}")
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
