"""One replication, run where the worker is: simulate, find the warm-up, compute the KPIs.

``run_replication(task)`` is what every executor calls; it takes and returns small, picklable
values, so only the scenario goes out and only a few numbers per KPI and station come back,
never the event log. It is deterministic: the same task gives the same result in any process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from analytics.columns import PlantColumns, to_columns
from analytics.report import KpiReport, compute_report
from analytics.whatif.selectors import KpiSelector, extract
from analytics.whatif.spec import MserSpec
from analytics.whatif.warmup import mser, throughput_series, wip_series
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
    warmup: float | MserSpec
    kpis: tuple[KpiSelector, ...]
    timeline_bins: int = 100


@dataclass(frozen=True, slots=True)
class ReplicationResult:
    """What comes back from one replication (``wall_s`` is not part of equality)."""

    index: int
    variant: int
    replication: int
    seed: int
    warmup_s: float
    warmup_limited: bool  # MSER wanted to cut beyond its search range: the run may be short
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
    warmup_s, limited = detect_warmup(cols, task.warmup, task.run_length_s)
    report = compute_report(cols, (warmup_s, task.run_length_s), shifts=False)
    edges = np.linspace(0.0, task.run_length_s, task.timeline_bins + 1)
    per_hour = throughput_series(cols, edges) * 3600.0 / np.diff(edges)
    return ReplicationResult(
        index=task.index,
        variant=task.variant,
        replication=task.replication,
        seed=task.seed,
        warmup_s=warmup_s,
        warmup_limited=limited,
        kpis={sel.key: extract(report, sel) for sel in task.kpis},
        states=state_shares(report),
        bottleneck=bottleneck_shares(report),
        timeline_uph=tuple(float(x) for x in per_hour),
        wall_s=time.perf_counter() - began,
    )


def detect_warmup(
    cols: PlantColumns, warmup: float | MserSpec, run_length_s: float
) -> tuple[float, bool]:
    """Return the warm-up in seconds (fixed, or by MSER) and whether MSER hit its cap."""
    if not isinstance(warmup, MserSpec):
        return float(warmup), False
    interval = warmup.interval or run_length_s / 500.0
    edges = np.arange(0.0, run_length_s + 1e-9, interval)
    if len(edges) < 2:
        return 0.0, True
    series = wip_series(cols, edges) if warmup.series == "wip" else throughput_series(cols, edges)
    found = mser(series, warmup.batch, warmup.max_fraction)
    return float(edges[found.truncate]), found.limited


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
