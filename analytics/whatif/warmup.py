"""Warm-up: MSER-5 truncation of an output series, and the output series of a run.

A study with ``warmup: mser5`` cuts every replication at one point (``pooled_warmup``): for
each variant, MSER-5 runs on the output series averaged over its replications (averaging
removes most of the noise that makes MSER on one replication keep the empty start or cut after
a congested stretch), and the study uses the latest of these cuts in every replication of every
variant, so paired comparisons keep their common random numbers.

MSER (White 1997; MSER-5 in White, Cobb & Spratt 2000) picks the truncation point ``d`` that
minimises the squared standard error of the mean of what is left::

    MSER(d) = Σ_{i>d} (Y_i − Ȳ_d)² / (n − d)²

over batch means ``Y`` of ``batch`` (5) consecutive observations. ``d`` is searched in the first
``max_fraction`` (half) of the series; when the statistic falls lower beyond that, the run is
too short to tell, and the result says so (``limited``). The last tenth of the series is left
out of that check: with few batches left the statistic dips by chance (a known artefact of
MSER), which would flag good runs. Pure numpy, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analytics.columns import PlantColumns


@dataclass(frozen=True, slots=True)
class MserResult:
    """Truncation point in observations of the raw series, and whether the search was capped."""

    truncate: int
    limited: bool


def mser(series: np.ndarray, batch: int = 5, max_fraction: float = 0.5) -> MserResult:
    """Return the MSER-``batch`` truncation point of ``series`` (a count of raw observations)."""
    y = np.asarray(series, float)
    k = len(y) // batch
    if k < 4:
        return MserResult(0, True)
    means = y[: k * batch].reshape(k, batch).mean(axis=1)
    # Suffix sums give every MSER(d) at once: n = k - d observations are kept.
    s1 = np.cumsum(means[::-1])[::-1]
    s2 = np.cumsum((means**2)[::-1])[::-1]
    n = np.arange(k, 0, -1, dtype=float)
    stat = (s2 - s1**2 / n) / n**2
    cap = max(1, int(np.floor(max_fraction * k)))
    d = int(np.argmin(stat[:cap]))
    tail = stat[cap : k - max(2, k // 10)]
    limited = len(tail) > 0 and float(tail.min()) < float(stat[d])
    return MserResult(d * batch, limited)


@dataclass(frozen=True, slots=True)
class WarmupChoice:
    """The warm-up of a study: one cut for every replication of every variant."""

    seconds: float
    method: str  # "fixed" | "mser5"
    limited: bool = False  # MSER-5 found a lower statistic past its search range: not settled
    per_variant: tuple[float, ...] = field(default=())  # MSER-5 cut of each variant's mean series


def series_edges(run_length_s: float, interval_s: float | None) -> np.ndarray:
    """Return the bin edges of the warm-up series (default interval: run length / 500)."""
    interval = interval_s or run_length_s / 500.0
    return np.arange(0.0, run_length_s + 1e-9, interval)


def pooled_warmup(
    series: Sequence[Sequence[Sequence[float]]],
    edges: np.ndarray,
    batch: int = 5,
    max_fraction: float = 0.5,
) -> WarmupChoice:
    """Return the MSER cut of the study from ``series[variant][replication]`` (bins of ``edges``).

    Each variant's series is averaged over its replications and cut by MSER; the study's cut
    is the latest of them, so every variant is past its own transient.
    """
    cuts, limited = [], False
    for variant in series:
        mean = np.mean(np.asarray(variant, float), axis=0)
        found = mser(mean, batch, max_fraction)
        cuts.append(float(edges[found.truncate]))
        limited = limited or found.limited
    return WarmupChoice(max(cuts, default=0.0), "mser5", limited, tuple(cuts))


def throughput_series(cols: PlantColumns, edges: np.ndarray) -> np.ndarray:
    """Return finished parts leaving the plant per bin of ``edges`` (seconds)."""
    times = [ln.exit_t[ln.exit_finished] for ln in cols.lines]
    t = np.concatenate(times) if times else np.empty(0)
    counts, _ = np.histogram(t, bins=edges)
    return counts.astype(float)


def wip_series(cols: PlantColumns, edges: np.ndarray) -> np.ndarray:
    """Return the time-weighted plant WIP (released, not yet left) in each bin of ``edges``."""
    rel = [ln.release_t for ln in cols.lines]
    ext = [ln.exit_t for ln in cols.lines]
    times = np.concatenate([*rel, *ext]) if rel else np.empty(0)
    delta = np.concatenate([np.ones(sum(map(len, rel))), -np.ones(sum(map(len, ext)))])
    order = np.lexsort((delta, times))  # exits first at equal times
    times, level = times[order], np.cumsum(delta[order])
    initial = max(0.0, -float(level.min())) if len(level) else 0.0
    level = level + initial
    return np.diff(_area(times, level, initial, edges)) / np.diff(edges)


def _area(times: np.ndarray, level: np.ndarray, initial: float, at: np.ndarray) -> np.ndarray:
    """Return ∫_0^t WIP(s) ds at each ``t`` in ``at`` for a step function starting at 0."""
    if len(times) == 0:
        return initial * at
    widths = np.diff(times)
    first = initial * times[0]
    cum = np.concatenate([[first], first + np.cumsum(level[:-1] * widths)])
    k = np.searchsorted(times, at, side="right") - 1
    inside = k >= 0
    out = initial * at
    kk = k[inside]
    out[inside] = cum[kk] + level[kk] * (at[inside] - times[kk])
    return out
