"""Child processes of ``twin demo``: free ports, readiness checks, clean start and stop.

Each child runs in a session of its own (a Ctrl-C in the terminal reaches ``twin demo`` only,
which then stops the children in order) and, on Linux, is sent SIGTERM by the kernel if
``twin demo`` itself dies without cleaning up (``PR_SET_PDEATHSIG``), so nothing is left running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from twin_io.lifetime import die_with_parent


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """Return ``preferred`` if nothing listens there, else a port the kernel picks as free."""
    if preferred:
        with socket.socket() as sock:
            try:
                sock.bind((host, preferred))
            except OSError:
                pass
            else:
                return preferred
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    """Tell whether a TCP connect to ``host:port`` succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class StartError(RuntimeError):
    """A child did not start or did not become ready; the message says which and why."""


@dataclass
class Child:
    """One child process: its command, environment, log file and readiness check."""

    name: str
    argv: Sequence[str]
    log_path: Path
    ready: Callable[[], bool] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    stop_timeout_s: float = 30.0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        """Tell whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the process, its output going to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,
                preexec_fn=die_with_parent,  # the child only calls prctl
            )

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until the readiness check passes; raise ``StartError`` with the log's tail."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.running():
                code = self.proc.returncode if self.proc else None
                raise StartError(f"{self.name} exited with code {code}: {self.log_tail()}")
            if self.ready is None or self.ready():
                return
            if time.monotonic() > deadline:
                raise StartError(
                    f"{self.name} not ready after {timeout_s:.0f} s: {self.log_tail()}"
                )
            time.sleep(0.1)

    def wait_exit(self, timeout_s: float) -> int:
        """Wait until a one-shot child has ended; return its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def stop(self) -> None:
        """Stop with SIGTERM (the child flushes and says goodbye), SIGKILL after the timeout."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log_tail(self, n: int = 1500) -> str:
        """The end of the child's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return text[-n:].strip() or "(empty log)"


def twin_argv(*args: str) -> list[str]:
    """The command line of a ``twin`` subcommand run by this Python."""
    return [sys.executable, "-m", "twin", *args]
