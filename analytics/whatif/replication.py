"""One replication, run where the worker is: simulate, then compute the KPIs after the warm-up.

``run_replication(task)`` is what every executor calls; it takes and returns small, picklable
values, so only the scenario goes out and only a few numbers per KPI and station come back,
never the event log. It is deterministic: the same task gives the same result in any process.
With ``warmup: mser5`` a study first runs ``run_pilot`` on every replication, which returns
only the warm-up series (a few hundred numbers); the warm-up chosen from all of them then goes
into the replication tasks, which run the same (deterministic) simulation again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from analytics.columns import PlantColumns, to_columns
from analytics.report import KpiReport, compute_report
from analytics.whatif.selectors import KpiSelector, extract
from analytics.whatif.spec import MserSpec
from analytics.whatif.warmup import series_edges, throughput_series, wip_series
from plant_sim.records import Record
from plant_sim.scenario import Scenario
from plant_sim.simulation import Simulation

#: State groups of the state breakdown, and the ``Elements`` field (seconds) of each.
STATE_GROUPS: tuple[tuple[str, str], ...] = (
    ("processing", "apt_s"),
    ("setup", "aust_s"),
    ("minor stop", "minor_stop_s"),
    ("down", "down_s"),
    ("starved", "starved_s"),
    ("blocked", "blocked_s"),
    ("idle", "idle_s"),
    ("planned downtime", "pdot_s"),
    ("off shift", "outside_s"),
)


@dataclass(frozen=True, slots=True)
class ReplicationTask:
    """Everything one replication needs; ``index`` orders results whatever the executor."""

    index: int
    variant: int
    replication: int
    seed: int
    scenario: Scenario
    run_length_s: float
    warmup_s: float
    kpis: tuple[KpiSelector, ...]
    timeline_bins: int = 100
    warmup_limited: bool = False  # the study's warm-up is not settled (MSER-5 hit its cap)


@dataclass(frozen=True, slots=True)
class PilotTask:
    """A replication run only for its warm-up series (``warmup: mser5``)."""

    index: int
    variant: int
    replication: int
    seed: int
    scenario: Scenario
    run_length_s: float
    mser: MserSpec


@dataclass(frozen=True, slots=True)
class ReplicationResult:
    """What comes back from one replication (``wall_s`` is not part of equality)."""

    index: int
    variant: int
    replication: int
    seed: int
    warmup_s: float
    warmup_limited: bool  # the study's MSER-5 wanted to cut beyond its search range
    kpis: dict[str, float | None]
    states: dict[str, tuple[float, ...]]  # station -> share of time per STATE_GROUPS entry
    bottleneck: dict[str, float | None]  # station -> sole + shifting bottleneck share
    timeline_uph: tuple[float, ...]  # finished parts per hour in each bin of the whole run
    wall_s: float = field(default=0.0, compare=False)


def simulate(scenario: Scenario, seed: int, until_s: float) -> list[Record]:
    """Run the model headless; keep every record the KPIs need (process samples are dropped)."""
    records: list[Record] = []
    keep = records.append

    def emit(record: Record) -> None:
        if record.kind != "sample":
            keep(record)

    sim = Simulation(scenario, emit, seed=seed)
    sim.run(until_s)
    sim.finish()
    return records


def run_replication(task: ReplicationTask) -> ReplicationResult:
    """Run one replication and return its KPIs over ``[warm-up, run length]``."""
    began = time.perf_counter()
    cols = to_columns(simulate(task.scenario, task.seed, task.run_length_s))
    warmup_s = task.warmup_s
    report = compute_report(cols, (warmup_s, task.run_length_s), shifts=False)
    edges = np.linspace(0.0, task.run_length_s, task.timeline_bins + 1)
    per_hour = throughput_series(cols, edges) * 3600.0 / np.diff(edges)
    return ReplicationResult(
        index=task.index,
        variant=task.variant,
        replication=task.replication,
        seed=task.seed,
        warmup_s=warmup_s,
        warmup_limited=task.warmup_limited,
        kpis={sel.key: extract(report, sel) for sel in task.kpis},
        states=state_shares(report),
        bottleneck=bottleneck_shares(report),
        timeline_uph=tuple(float(x) for x in per_hour),
        wall_s=time.perf_counter() - began,
    )


def run_pilot(task: PilotTask) -> tuple[float, ...]:
    """Run one replication and return its warm-up series (WIP or throughput per interval)."""
    cols = to_columns(simulate(task.scenario, task.seed, task.run_length_s))
    return tuple(float(x) for x in warmup_series(cols, task.mser, task.run_length_s))


def warmup_series(cols: PlantColumns, spec: MserSpec, run_length_s: float) -> np.ndarray:
    """Return the series MSER-5 reads: plant WIP or throughput in each interval of the run."""
    edges = series_edges(run_length_s, spec.interval)
    if len(edges) < 2:
        return np.empty(0)
    return wip_series(cols, edges) if spec.series == "wip" else throughput_series(cols, edges)


def state_shares(report: KpiReport) -> dict[str, tuple[float, ...]]:
    """Return each station's share of observed time in each state group (sums to 1)."""
    out = {}
    for st in report.stations:
        d = st.elements.as_dict()
        secs = [float(d[name]) for _, name in STATE_GROUPS]
        total = sum(secs)
        out[st.scope] = tuple(s / total if total else 0.0 for s in secs)
    return out


def bottleneck_shares(report: KpiReport) -> dict[str, float | None]:
    """Return each station's momentary-bottleneck share (sole + shifting) of working time."""
    return {s.station: s.bottleneck_ratio for line in report.bottlenecks for s in line.stations}
