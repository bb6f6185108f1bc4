"""Where replications run: in this process, in local worker processes, or on a Dask cluster.

Every executor maps one picklable function over picklable tasks and returns the results in
task order, whatever order they finish in, so a study gives the same results on any executor
and any number of workers (each task carries its own seed). ``on_done`` is called in this
process after each finished task, for progress bars.

Local workers are started with ``spawn``: a fresh interpreter per worker, never a fork of a
process that may hold threads (a progress bar's refresh thread, a Dask client) and their locks.
They end with this process however it ends (``twin_io.lifetime``: SIGTERM, SIGKILL), and on
``KeyboardInterrupt`` (Ctrl-C; ``twin whatif`` turns SIGTERM into one) they are ended at once,
not after their running tasks. They ignore SIGINT: Ctrl-C reaches the whole process group, and
this process stops them.
"""

from __future__ import annotations

import ipaddress
import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar

from analytics.whatif.errors import ExecutorError
from twin_io.lifetime import die_with_parent
from twin_io.stop_signals import leave_interrupts_to_parent

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
OnDone = Callable[[int], None]
EXECUTORS = ("local", "serial", "dask")
#: Address schemes of ``distributed`` that reach a scheduler on another host (no scheme: tcp).
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")


class Executor(Protocol):
    """Runs ``fn`` over ``tasks``; returns results in task order."""

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_done: OnDone | None = None
    ) -> list[R]:
        """Return ``[fn(t) for t in tasks]``, computed wherever the executor runs them."""
        ...


class SerialExecutor:
    """Runs every task in this process, one after the other."""

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_done: OnDone | None = None
    ) -> list[R]:
        """Run the tasks in order in this process."""
        out = []
        for i, task in enumerate(tasks):
            out.append(fn(task))
            if on_done is not None:
                on_done(i)
        return out


class LocalExecutor:
    """Runs tasks in ``workers`` local processes (default: one per CPU; 1 runs in-process)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_done: OnDone | None = None
    ) -> list[R]:
        """Run the tasks in a process pool; results in task order."""
        workers = min(self.workers, len(tasks))
        if workers <= 1:
            return SerialExecutor().map(fn, tasks, on_done)
        others = set(multiprocessing.active_children())  # children not of this pool
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
        try:
            futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
            return _gather(futures, len(tasks), on_done)
        except KeyboardInterrupt:
            _end_workers(pool, others)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent_pid: int) -> None:
    """Set up a worker: it ends with its parent and leaves Ctrl-C to it."""
    die_with_parent(parent_pid)  # a killed twin whatif leaves no worker running
    leave_interrupts_to_parent()


def _end_workers(pool: ProcessPoolExecutor, others: set) -> None:
    """End the pool's workers now (SIGTERM) and wait for them, dropping the pending tasks.

    Python 3.11's pool has no public way to end its workers before their running tasks are
    done: they are found as this process's children (``multiprocessing.active_children``)
    other than ``others``, those it had before the pool."""
    processes = [p for p in multiprocessing.active_children() if p not in others]
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


def _gather(futures: dict[Future, int], n: int, on_done: OnDone | None) -> list[Any]:
    """Collect results by task index as futures finish; the first error propagates."""
    out: list[Any] = [None] * n
    pending = set(futures)
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for fut in finished:
            i = futures[fut]
            out[i] = fut.result()
            if on_done is not None:
                on_done(i)
    return out


class DaskExecutor:
    """Runs tasks on a Dask cluster (``dask.distributed``) at ``scheduler`` (an address).

    Every worker needs this package installed (the same version), since tasks name
    ``analytics.whatif`` functions. A ``distributed.Client`` may be given instead of an address;
    it is then left open. An address that does not answer within ``timeout_s`` raises
    ``ExecutorError`` naming it.
    """

    def __init__(self, scheduler: Any, timeout_s: float = 30.0) -> None:
        self.scheduler = scheduler
        self.timeout_s = timeout_s

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_done: OnDone | None = None
    ) -> list[R]:
        """Submit every task to the cluster; results in task order."""
        from distributed import Client, as_completed

        own = not isinstance(self.scheduler, Client)
        client = self._connect(Client) if own else self.scheduler
        try:
            futures = client.map(fn, list(tasks), pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            out: list[Any] = [None] * len(tasks)
            for fut, result in as_completed(futures, with_results=True):
                i = index[fut.key]
                out[i] = result
                if on_done is not None:
                    on_done(i)
            return out
        finally:
            if own:
                client.close()

    def _connect(self, client_class: Any) -> Any:
        try:
            return client_class(self.scheduler, timeout=self.timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(
                f"Dask scheduler {self.scheduler}: cannot connect ({exc.__class__.__name__}: {exc})"
            ) from exc


def scheduler_problem(address: str) -> str | None:
    """Say what is wrong with a Dask scheduler address ``[SCHEME://]HOST:PORT``, else ``None``.

    Only the form is checked (no dask import, no connection): ``Client`` took ``garbage`` as an
    address and failed after the study started."""
    scheme, sep, location = address.rpartition("://")
    if sep and scheme not in SCHEDULER_SCHEMES:
        return f"unknown scheme {scheme + sep!r} (use one of {', '.join(SCHEDULER_SCHEMES)})"
    if location.startswith("["):  # an IPv6 address: [::1]:8786
        host, bracket, tail = location[1:].partition("]")
        if not bracket:
            return "no ] after [ (an IPv6 address)"
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"[{host}] is not an IPv6 address"
        if not tail.startswith(":"):
            return "no :PORT after the host"
        port = tail[1:]
    else:
        host, colon, port = location.rpartition(":")
        if not colon:
            return "no :PORT after the host"
        if ":" in host:
            return "an IPv6 address needs brackets, e.g. tcp://[::1]:8786"
        if not _HOST_NAME.fullmatch(host):
            return f"{host!r} is not a host name or address" if host else "no host"
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        return f"{port!r} is not a port (1 to 65535)" if port else "no port"
    return None


def make_executor(
    kind: str = "local", workers: int | None = None, scheduler: str | None = None
) -> Executor:
    """Return the executor called ``kind``; raises ``ValueError`` for a bad combination.

    Local workers beyond the CPUs are cut to the CPUs, with a warning: a simulation keeps a
    core busy, so more only cost memory (150 MB each; ``--workers 200`` asked for 30 GB).
    """
    if scheduler and kind != "dask":
        raise ValueError(f"--scheduler: only with --executor dask (not {kind})")
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        cpus = os.cpu_count() or 1
        if workers is not None and workers > cpus:
            log.warning("--workers %d: this machine has %d CPUs; using %d", workers, cpus, cpus)
            workers = cpus
        return LocalExecutor(workers)
    if kind == "dask":
        if not scheduler:
            raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
        return DaskExecutor(scheduler)
    raise ValueError(f"--executor: {kind!r} is not one of {', '.join(EXECUTORS)}")
