"""Figures of a study as PNG bytes (matplotlib, no pyplot state, no display needed).

One figure per KPI (each variant's mean with its interval bar, and its paired difference with
the base), a state breakdown per station for a variant, a heat map of bottleneck shares
(variants x stations) and throughput over time. Every variant keeps one colour of its own in
every plot (``variant_colours``; the base is blue). Colours of verdicts: green better, red worse,
teal higher/lower for KPIs with no direction (neutral), grey no significant difference.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from analytics.whatif.replication import STATE_GROUPS
from analytics.whatif.results import StudyResult
from analytics.whatif.selectors import KpiSelector

STATE_COLOURS = (
    "#2ca02c",
    "#1f77b4",
    "#ffbf00",
    "#d62728",
    "#9edae5",
    "#ff7f0e",
    "#c7c7c7",
    "#9467bd",
    "#7f7f7f",
)
VERDICT_COLOURS = {"better": "#2ca02c", "worse": "#d62728", "higher": "#17becf", "lower": "#17becf"}
NEUTRAL = "#7f7f7f"
BASE_COLOUR = "#1f77b4"
#: Variant colours after the base's blue: tab10 without blue, then darker and lighter tab20.
_VARIANT_PALETTE = (
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
)


def variant_colours(n: int) -> list[str]:
    """Return ``n`` colours, the base's blue first; distinct for up to 19 variants."""
    return [BASE_COLOUR] + [_VARIANT_PALETTE[i % len(_VARIANT_PALETTE)] for i in range(n - 1)]


def to_png(fig: Figure) -> bytes:
    """Return the figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def _scale(sel: KpiSelector) -> tuple[float, str]:
    return (100.0, "%") if sel.spec.is_ratio else (1.0, sel.spec.unit)


def _err(
    mean: float | None, low: float | None, high: float | None, k: float
) -> tuple[float, float, float]:
    if mean is None:
        return np.nan, 0.0, 0.0
    if low is None or high is None:
        return mean * k, 0.0, 0.0
    return mean * k, (mean - low) * k, (high - mean) * k


def kpi_figure(result: StudyResult, sel: KpiSelector) -> bytes:
    """Return the KPI figure: means with interval bars, and paired differences with the base."""
    names = result.variant_names
    k, unit = _scale(sel)
    height = 1.2 + 0.32 * len(names)
    fig = Figure(figsize=(10, height))
    left, right = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))[::-1]
    for yi, name, colour in zip(y, names, variant_colours(len(names)), strict=True):
        i = result.summary(name, sel.key).interval
        m, lo, hi = _err(i.mean, i.low, i.high, k)
        left.errorbar(m, yi, xerr=[[lo], [hi]], fmt="o", color=colour, capsize=4)
        if name == names[0]:
            continue
        c = result.comparison(name, sel.key)
        m, lo, hi = _err(c.difference.mean, c.difference.low, c.difference.high, k)
        right.errorbar(
            m,
            yi,
            xerr=[[lo], [hi]],
            fmt="s",
            capsize=4,
            color=VERDICT_COLOURS.get(c.verdict, NEUTRAL),
        )
    left.set_yticks(y, names)
    left.set_xlabel(f"{sel.label} [{unit}]")
    left.set_title("mean and confidence interval", fontsize=10)
    right.axvline(0.0, color="black", linewidth=0.8)
    right.set_xlabel(f"difference with base [{'pp' if unit == '%' else unit}]")
    legend = (
        "green better, red worse, grey not significant"
        if sel.spec.compare_better != "none"
        else "no better direction: teal significant, grey not"
    )
    right.set_title(f"paired difference ({legend})", fontsize=10)
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
    return to_png(fig)


def states_figure(result: StudyResult, variant: str) -> bytes:
    """Return stacked bars of each station's share of time per state, for one variant."""
    profile = next(p for p in result.profiles if p.variant == variant)
    stations = list(profile.states)
    shares = np.array([profile.states[s] for s in stations]) * 100.0
    fig = Figure(figsize=(10, 1.6 + 0.28 * len(stations)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(stations))[::-1]
    left = np.zeros(len(stations))
    for g, (label, _) in enumerate(STATE_GROUPS):
        ax.barh(y, shares[:, g], left=left, color=STATE_COLOURS[g], label=label)
        left += shares[:, g]
    ax.set_yticks(y, stations)
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of time after warm-up [%]")
    ax.set_title(f"State breakdown per station: {variant}", fontsize=10)
    fig.legend(ncols=9, fontsize=8, loc="outside lower center")
    return to_png(fig)


def bottleneck_figure(result: StudyResult) -> bytes:
    """Return a heat map of each station's bottleneck share (sole + shifting) per variant."""
    names = result.variant_names
    stations = list(result.profiles[0].bottleneck)
    grid = np.array(
        [
            [np.nan if (v := p.bottleneck.get(s)) is None else 100.0 * v for s in stations]
            for p in result.profiles
        ]
    )
    fig = Figure(figsize=(max(6.0, 1.5 + 0.35 * len(stations)), 1.5 + 0.3 * len(names)))
    ax = fig.subplots()
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0.0)
    ax.set_xticks(np.arange(len(stations)), stations, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(names)), names, fontsize=8)
    ax.set_title(
        "Bottleneck share per station [% of working time] (active period method)", fontsize=10
    )
    fig.colorbar(image, ax=ax, fraction=0.03)
    return to_png(fig)


def timeline_figure(result: StudyResult) -> bytes:
    """Return the mean throughput over time of every variant, with the warm-up shaded."""
    run_h = result.study.run_length_s / 3600.0
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    colours = variant_colours(len(result.profiles))
    for i, p in enumerate(result.profiles):
        n = len(p.timeline_uph)
        t = (np.arange(n) + 0.5) * run_h / n
        ax.plot(
            t, p.timeline_uph, linewidth=1.6 if i == 0 else 0.9, label=p.variant, color=colours[i]
        )
    warm = result.warmup.seconds / 3600.0
    if warm > 0:
        ax.axvspan(0.0, warm, color="#dddddd", alpha=0.6, label="warm-up")
    ax.set_xlabel("simulated time [h]")
    ax.set_ylabel("finished parts per hour")
    ax.set_title("Throughput over time (mean of replications)", fontsize=10)
    ax.grid(alpha=0.3)
    if len(result.profiles) <= 12:
        ax.legend(fontsize=8, ncols=2)
    return to_png(fig)
