"""Which run ``twin analytics`` follows by default: the real run with the newest data.

A run counts only when its ``run_start`` is stored (its clock, site and plant are known) and
its start is not far in the future (``MAX_AHEAD_MS`` past the host's clock); when it declares
a horizon, its data must not go beyond it. So a stray record of an unknown run, or of a run
dated 2100, cannot take the service away from the run that is really going on.
"""

from __future__ import annotations

from collections.abc import Mapping

from plant_sim.records import RunStart

MAX_AHEAD_MS = 86_400_000
"""A run starting more than a day after the host's clock is not followed by default."""

HORIZON_SLACK_MS = 60_000
"""Data this far past a run's declared horizon still counts (run_end, rounding)."""


def why_not(run_start: RunStart | None, latest_ms: int, now_ms: int) -> str | None:
    """Return why a run is not a default choice, or None when it is one."""
    if run_start is None:
        return "no run_start stored"
    start = run_start.start_epoch_ms
    if start > now_ms + MAX_AHEAD_MS:
        return f"it starts in the future (start_epoch_ms {start})"
    horizon = run_start.horizon_s
    if horizon is not None and latest_ms > start + round(horizon * 1000) + HORIZON_SLACK_MS:
        return f"its data ({latest_ms}) goes past its horizon ({horizon:g} s)"
    return None


def default_run(
    latest: Mapping[str, int], starts: Mapping[str, RunStart], now_ms: int
) -> tuple[str | None, dict[str, str]]:
    """Return the run with the newest data among the real ones, and why the others are not."""
    ignored = {}
    best: str | None = None
    for run_id, latest_ms in latest.items():
        reason = why_not(starts.get(run_id), latest_ms, now_ms)
        if reason is not None:
            ignored[run_id] = reason
        elif best is None or latest_ms > latest[best]:
            best = run_id
    return best, ignored
