"""Run a study: one task per (variant, replication), on any executor, then aggregate.

Replication ``r`` of every variant uses seed ``study.seed + r`` (common random numbers), and
tasks are numbered variant-major, so results do not depend on where or in which order the
tasks ran. With ``warmup: mser5`` every replication runs twice: a pilot pass returns the
warm-up series, ``pooled_warmup`` picks one cut for the whole study, and the second pass
computes the KPIs after that cut. ``run_studies`` runs several studies through one executor
(both passes of all of them in one batch each), e.g. the same study on disjoint seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from analytics.whatif.executors import Executor, LocalExecutor
from analytics.whatif.replication import PilotTask, ReplicationTask, run_pilot, run_replication
from analytics.whatif.results import StudyResult, aggregate
from analytics.whatif.spec import MserSpec
from analytics.whatif.study import Study
from analytics.whatif.warmup import WarmupChoice, pooled_warmup, series_edges

Progress = Callable[[int, int], None]


def make_tasks(study: Study, warmup: WarmupChoice | None = None) -> list[ReplicationTask]:
    """Return every replication task of ``study``, variant-major.

    ``warmup`` is the study's chosen warm-up; it may be left out for a fixed warm-up.
    """
    warmup = warmup or fixed_warmup(study)
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
                    warmup_s=warmup.seconds,
                    kpis=study.kpis,
                    timeline_bins=study.spec.timeline_bins,
                    warmup_limited=warmup.limited,
                )
            )
    return tasks


def make_pilot_tasks(study: Study) -> list[PilotTask]:
    """Return the warm-up pilot task of every replication of an ``mser5`` study."""
    assert isinstance(study.warmup, MserSpec)
    return [
        PilotTask(
            t.index, t.variant, t.replication, t.seed, t.scenario, t.run_length_s, study.warmup
        )
        for t in make_tasks(study, WarmupChoice(0.0, "mser5"))
    ]


def fixed_warmup(study: Study) -> WarmupChoice:
    """Return the warm-up of a study with a fixed one."""
    assert not isinstance(study.warmup, MserSpec), "an mser5 warm-up needs its pilot runs"
    return WarmupChoice(float(study.warmup), "fixed")


def choose_warmup(study: Study, series: Sequence[Sequence[float]]) -> WarmupChoice:
    """Return the study's MSER-5 warm-up from the pilot series (in ``make_pilot_tasks`` order)."""
    spec = study.warmup
    assert isinstance(spec, MserSpec)
    reps = study.replications
    by_variant = [series[v * reps : (v + 1) * reps] for v in range(len(study.variants))]
    edges = series_edges(study.run_length_s, spec.interval)
    if len(edges) < 2:
        return WarmupChoice(0.0, "mser5", True, tuple(0.0 for _ in by_variant))
    return pooled_warmup(by_variant, edges, spec.batch, spec.max_fraction)


def run_study(
    study: Study, executor: Executor | None = None, on_progress: Progress | None = None
) -> StudyResult:
    """Run every replication of every variant and return the aggregated result.

    ``executor`` defaults to local processes, one per CPU. ``on_progress(done, total)`` is
    called after each finished run (an ``mser5`` study runs each replication twice).
    """
    return run_studies([study], executor, on_progress)[0]


def run_studies(
    studies: Sequence[Study], executor: Executor | None = None, on_progress: Progress | None = None
) -> list[StudyResult]:
    """Run several studies through one executor; return their results in the same order."""
    executor = executor or LocalExecutor()
    pilots = [make_pilot_tasks(s) if isinstance(s.warmup, MserSpec) else [] for s in studies]
    counts = [len(s.variants) * s.replications for s in studies]
    total = sum(counts) + sum(map(len, pilots))
    done = 0

    def tick(_: int) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    pilot_tasks = [t for p in pilots for t in p]
    series = executor.map(run_pilot, pilot_tasks, tick) if pilot_tasks else []
    choices, at = [], 0
    for study, pilot in zip(studies, pilots, strict=True):
        if pilot:
            choices.append(choose_warmup(study, series[at : at + len(pilot)]))
            at += len(pilot)
        else:
            choices.append(fixed_warmup(study))
    tasks = [make_tasks(s, c) for s, c in zip(studies, choices, strict=True)]
    runs = executor.map(run_replication, [t for ts in tasks for t in ts], tick)
    out, at = [], 0
    for study, choice, n in zip(studies, choices, counts, strict=True):
        out.append(aggregate(study, runs[at : at + n], choice))
        at += n
    return out
