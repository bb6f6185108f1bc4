"""Run a study: one task per (variant, replication), on any executor, then aggregate.

Replication ``r`` of every variant uses seed ``study.seed + r`` (common random numbers), and
tasks are numbered variant-major, so results do not depend on where or in which order the
tasks ran.
"""

from __future__ import annotations

from collections.abc import Callable

from analytics.whatif.executors import Executor, LocalExecutor
from analytics.whatif.replication import ReplicationTask, run_replication
from analytics.whatif.results import StudyResult, aggregate
from analytics.whatif.study import Study

Progress = Callable[[int, int], None]


def make_tasks(study: Study) -> list[ReplicationTask]:
    """Return every replication task of ``study``, variant-major."""
    tasks = []
    for v, variant in enumerate(study.variants):
        for r, seed in enumerate(study.seeds()):
            tasks.append(
                ReplicationTask(
                    index=len(tasks),
                    variant=v,
                    replication=r,
                    seed=seed,
                    scenario=variant.scenario,
                    run_length_s=study.run_length_s,
                    warmup=study.warmup,
                    kpis=study.kpis,
                    timeline_bins=study.spec.timeline_bins,
                )
            )
    return tasks


def run_study(
    study: Study, executor: Executor | None = None, on_progress: Progress | None = None
) -> StudyResult:
    """Run every replication of every variant and return the aggregated result.

    ``executor`` defaults to local processes, one per CPU. ``on_progress(done, total)`` is
    called after each finished replication.
    """
    tasks = make_tasks(study)
    done = 0

    def tick(_: int) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, len(tasks))

    runs = (executor or LocalExecutor()).map(run_replication, tasks, tick)
    return aggregate(study, runs)
