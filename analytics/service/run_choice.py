"""Which runs ``twin analytics`` follows by default: the real run with the newest data, and
the runs it followed before until their windows are final (``FollowedRuns``).

A run counts only when its ``run_start`` is stored (its clock, site and plant are known) and
its start is not far in the future (``MAX_AHEAD_MS`` past the host's clock); when it declares
a horizon, its data must not go beyond it. So a stray record of an unknown run, or of a run
dated 2100, cannot take the service away from the run that is really going on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from plant_sim.durations import seconds_text
from plant_sim.records import RunStart

logger = logging.getLogger(__name__)

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


class FollowedRuns:
    """The runs followed by default: the newest, and beside it each run that was the newest
    before and whose windows are not all final. A new run must not take the service away
    before an ended run's last windows have its last records; a run that stopped without
    ``run_end`` is let go ``settle_ms`` after it was last the newest (else it would be read on
    every cycle for good)."""

    def __init__(self, settle_ms: int) -> None:
        self.settle_ms = settle_ms
        self._newest_at: dict[str, int] = {}  # run -> wall ms it was last the newest

    def runs(
        self,
        newest: str | None,
        latest: Mapping[str, int],
        ended: Callable[[str], bool],
        now_ms: int,
    ) -> list[str]:
        """Return the runs to compute this cycle, the newest first (``ended``: whether a run
        was seen ended with windows not final). Runs let go or gone from ``latest`` are
        forgotten; each run let go is logged."""
        if newest is not None:
            self._newest_at[newest] = now_ms
        out = [] if newest is None else [newest]
        for run_id, newest_at in list(self._newest_at.items()):
            if run_id == newest:
                continue
            if run_id not in latest:  # its data is gone (retention, DROP)
                del self._newest_at[run_id]
            elif not ended(run_id) and now_ms - newest_at > self.settle_ms:
                del self._newest_at[run_id]
                logger.info(
                    "run %s: no longer followed (not the newest run, and no run_end for %s s "
                    "since it was); its open windows keep their last KPIs",
                    run_id,
                    seconds_text(self.settle_ms / 1000),
                )
            else:
                out.append(run_id)
        return out

    def all_final(self, run_id: str, newest: str | None) -> None:
        """Let a run go once every window of it is final (the newest stays)."""
        if run_id != newest:
            self._newest_at.pop(run_id, None)
