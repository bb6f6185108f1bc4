"""The same results whatever the executor: in-process, 1 or 2 local workers, a Dask cluster."""

from __future__ import annotations

import math

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
from tests.whatif.conftest import tandem_study


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
    assert make_executor("local", workers=3).workers == 3  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="needs --scheduler"):
        make_executor("dask")
    with pytest.raises(ValueError, match="not one of local, serial, dask"):
        make_executor("cloud")


def test_an_error_in_a_worker_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="math domain error"):
        LocalExecutor(2).map(math.sqrt, [1.0, -1.0, 4.0])
