"""The flow and stock folds fed in chunks of any size give what the whole-column functions
give, to the bit, on real model runs: over the whole run and over a window inside it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from analytics.columns import LineColumns, PlantColumns, stock_columns, to_columns
from analytics.flow import (
    FirstPassBins,
    LineFlowFold,
    compute_flows,
    first_pass_counts,
    flows_per_line,
    line_lead_times,
    order_release_times,
)
from analytics.report import shift_bins
from analytics.supply import StockFold, stockouts_by_material
from plant_sim.scenario import load_scenario
from plant_sim.simulation import run_batch

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600.0
RUNS = [("plant_3lines", 30, 1), ("bottling_line", 60, 3)]


@cache
def _columns(name: str, hours: float, seed: int) -> PlantColumns:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    return to_columns(run_batch(scenario, hours * HOUR, seed).records)


def _windows(cols: PlantColumns) -> list[tuple[float, float, bool]]:
    """The whole run (events at its end count) and a window inside it (they do not)."""
    return [
        (cols.start_s, cols.end_s, True),
        (cols.start_s + 5 * HOUR, cols.end_s - 7 * HOUR, False),
    ]


def _cuts(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Cut ``n`` items into chunks of random sizes (1 to a few hundred, some empty)."""
    out, i = [], 0
    while i < n:
        size = int(rng.choice([0, 1, 2, 7, 50, 333]))
        out.append((i, min(i + size, n)))
        i += size
    return out


def _fold_line(
    line: LineColumns, leads: np.ndarray, window: tuple[float, float, bool], seed: int
) -> LineFlowFold:
    """Feed one line's releases and exits in time order, in random chunks that may split
    the events of one time (releases first, the order a stream may bring them in)."""
    t0, t1, inc = window
    fold = LineFlowFold(t0, t1 if not inc else np.inf, inc)
    n_rel = len(line.release_t)
    times = np.concatenate([line.release_t, line.exit_t])
    order = np.argsort(times, kind="stable")
    for a, b in _cuts(len(order), np.random.default_rng(seed)):
        rel = np.sort(order[a:b][order[a:b] < n_rel])
        ex = np.sort(order[a:b][order[a:b] >= n_rel]) - n_rel
        fold.add(
            line.release_t[rel],
            line.exit_t[ex],
            line.exit_finished[ex],
            line.exit_flow_s[ex],
            leads[ex],
        )
    return fold


@pytest.mark.parametrize(("name", "hours", "seed"), RUNS)
def test_line_flow_folded_in_chunks_equals_compute_flows(name, hours, seed):
    cols = _columns(name, hours, seed)
    released = order_release_times(cols.orders)
    assert sum(len(ln.exit_t) for ln in cols.lines) > 100
    for window in _windows(cols):
        t0, t1, inc = window
        want = compute_flows(cols.lines, t0, t1, inc, released)
        for chunk_seed in range(3):
            parts = {}
            for ln in cols.lines:
                leads = line_lead_times(ln, np.ones(len(ln.exit_t), bool), released)
                parts[ln.line] = _fold_line(ln, leads, window, chunk_seed).result(t1)
            assert flows_per_line(parts, t1 - t0) == want


@pytest.mark.parametrize(("name", "hours", "seed"), RUNS)
def test_stock_outs_folded_in_chunks_equal_the_whole_columns_fold(name, hours, seed):
    cols = _columns(name, hours, seed)
    levels = list(cols.stock)  # type: ignore[arg-type] (records, as ``to_columns`` keeps them)
    for t0, t1, inc in _windows(cols):
        want = stockouts_by_material(levels, t0, t1, inc)
        for chunk_seed in range(3):
            fold = StockFold(t0, np.inf if inc else t1, inc)
            materials: dict[str, int] = {}
            causes: dict[str, int] = {}
            for a, b in _cuts(len(levels), np.random.default_rng(chunk_seed)):
                fold.add(stock_columns(levels[a:b], materials, causes))
            assert fold.result(t1) == want
    if name == "bottling_line":  # raw material that runs out: the fold has work to do
        whole = stockouts_by_material(levels, cols.start_s, cols.end_s, True)
        assert whole and all(n > 0 and h > 0 for n, h in whole.values())


@pytest.mark.parametrize(("name", "hours", "seed"), RUNS)
def test_first_pass_counts_folded_per_closed_bin_equal_first_pass_counts(name, hours, seed):
    """Exits come in chunks and bins close now and then (as shift occurrences end)."""
    cols = _columns(name, hours, seed)
    edges, _ = shift_bins(cols, cols.start_s, cols.end_s, True)
    assert len(edges) > 3
    rng = np.random.default_rng(seed)
    for ln in cols.lines:
        bins, closed = FirstPassBins(), 0
        for a, b in _cuts(len(ln.exit_t), rng):
            bins.add(ln.exit_t[a:b], ln.exit_first_pass[a:b])
            latest = ln.exit_t[b - 1] if b > a else -np.inf
            upto = int(np.searchsorted(edges, latest, "left")) - 1  # edges passed by a later exit
            if upto > closed and rng.random() < 0.5:
                bins.close(edges[closed : upto + 1], False)
                closed = upto
        bins.close(edges[closed:], True)
        gp, ip = first_pass_counts(ln, edges, True)
        assert np.array_equal(bins.gp, gp) and np.array_equal(bins.ip, ip)
        assert ip.sum() > 0


def test_initial_wip_is_the_deficit_however_the_changes_are_cut():
    """A log that starts with two parts on the line (exits before any release): the initial
    WIP is the deficit, with exits counted first at equal times even when a batch ends
    between a release and an exit at the same time."""
    release_t = np.array([10.0, 40.0, 40.0, 70.0])
    exit_t = np.array([20.0, 30.0, 40.0, 40.0, 90.0])
    finished = np.ones(5, bool)
    flow_s = np.array([5.0, 6.0, 7.0, 8.0, 9.0])
    line = LineColumns("l", ["s"], release_t, exit_t, finished, flow_s, finished)
    want, _ = compute_flows([line], 0.0, 100.0)
    whole = LineFlowFold(0.0)
    whole.add(release_t, exit_t, finished, flow_s, flow_s)
    split = LineFlowFold(0.0)
    split.add(release_t[:2], exit_t[:2], finished[:2], flow_s[:2], flow_s[:2])  # ends at 40
    split.add(release_t[2:], exit_t[2:], finished[2:], flow_s[2:], flow_s[2:])
    # counted from 0 (exits first at 40): 1, 0, -1, then -2, -3 and back to -1 at 40, 0 at
    # 70, -1 at 90: three parts were on the line at the start
    area = 10 * 3 + 10 * 4 + 10 * 3 + 10 * 2 + 30 * 2 + 20 * 3 + 10 * 2
    assert want["l"].wip_avg == pytest.approx(area / 100.0)
    for fold in (whole, split):
        assert flows_per_line({"l": fold.result(100.0)}, 100.0)[0] == want
