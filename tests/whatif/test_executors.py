"""The same results whatever the executor: in-process, 1 or 2 local workers, a Dask cluster."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.whatif import (
    DaskExecutor,
    LocalExecutor,
    SerialExecutor,
    make_executor,
    run_study,
)
from analytics.whatif.runner import make_pilot_tasks, make_tasks
from analytics.whatif.warmup import WarmupChoice
from tests.procs import alive, children
from tests.whatif.conftest import STUDIES, tandem_study


@pytest.fixture(scope="module")
def study():
    return tandem_study(replications=3, run_length="3h", warmup="mser5")


@pytest.fixture(scope="module")
def reference(study):
    return run_study(study, SerialExecutor())


def test_tasks_are_numbered_variant_major_with_shared_seeds(study) -> None:
    tasks = make_tasks(study, WarmupChoice(600.0, "mser5"))
    assert [t.index for t in tasks] == list(range(9))
    assert {t.warmup_s for t in tasks} == {600.0}  # one warm-up for every replication
    pilots = make_pilot_tasks(study)
    assert [(t.variant, t.seed) for t in pilots] == [(t.variant, t.seed) for t in tasks]
    assert [(t.variant, t.replication, t.seed) for t in tasks[3:6]] == [
        (1, 0, 7),
        (1, 1, 8),
        (1, 2, 9),
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_local_workers_give_the_same_results(study, reference, workers: int) -> None:
    done: list[tuple[int, int]] = []
    result = run_study(study, LocalExecutor(workers), lambda d, t: done.append((d, t)))
    assert result.runs == reference.runs
    assert result.summaries == reference.summaries
    assert result.comparisons == reference.comparisons
    assert result.warmup == reference.warmup and result.warmup.method == "mser5"
    assert {r.warmup_s for r in result.runs} == {result.warmup.seconds}
    assert done[-1] == (18, 18) and len(done) == 18  # mser5: a pilot pass, then the KPIs


def test_a_dask_cluster_gives_the_same_results(study, reference) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = run_study(study, DaskExecutor(cluster.scheduler_address))
    assert result.runs == reference.runs
    assert result.comparisons == reference.comparisons


def test_executor_names_and_their_mistakes() -> None:
    assert isinstance(make_executor("serial"), SerialExecutor)
    cpus = os.cpu_count() or 1
    assert make_executor("local", workers=3).workers == min(3, cpus)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="needs --scheduler"):
        make_executor("dask")
    with pytest.raises(ValueError, match="not one of local, serial, dask"):
        make_executor("cloud")


def test_an_error_in_a_worker_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="math domain error"):
        LocalExecutor(2).map(math.sqrt, [1.0, -1.0, 4.0])


def _two_workers(proc: subprocess.Popen) -> list[int]:
    """Wait until ``proc`` (twin whatif) has two worker processes; return their pids."""
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while len(workers) < 2:  # the resource tracker is a child too
        assert proc.poll() is None and time.monotonic() < deadline, "no workers started"
        time.sleep(0.05)
        workers = children(proc.pid, b"spawn_main")
    return workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_end_when_twin_whatif_is_killed(tmp_path: Path) -> None:
    """SIGKILL of twin whatif (no clean-up at all) mid-study: its worker processes end too,
    instead of running on as orphans (they did: SIGTERM to the command alone left them)."""
    study = str(STUDIES / "buffer_sizing.yaml")
    with (tmp_path / "err.txt").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "twin", "whatif", study, "--workers", "2"],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        workers = _two_workers(proc)
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60
        while any(map(alive, workers)):
            assert time.monotonic() < deadline, f"workers {workers} outlived twin whatif"
            time.sleep(0.1)
    finally:
        proc.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_twin_whatif_cleanly(tmp_path: Path) -> None:
    """SIGTERM (kill, docker stop) mid-study killed the command (exit -15) with a "leaked
    semaphore" warning: now the workers are ended before it exits 130, as twin run does, with
    a message, and an output file of an earlier study is left as it was."""
    csv = tmp_path / "r.csv"
    csv.write_text("earlier study\n")
    study = str(STUDIES / "tandem_capacity.yaml")
    args = ["whatif", study, "--workers", "2", "--run-length", "30d", "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", *args, "--csv", str(csv)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        workers = _two_workers(proc)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        still = [pid for pid in workers if alive(pid)]  # when the command has ended
        _, text = proc.communicate(timeout=60)  # to the end: the resource tracker's warning
    finally:
        proc.kill()
    assert code == 130, text
    assert "tandem_capacity: stopped by SIGTERM" in text and "nothing written" in text, text
    assert "leaked" not in text and "Traceback" not in text, text
    assert not still, f"workers {still} outlived twin whatif"
    assert csv.read_text() == "earlier study\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]
