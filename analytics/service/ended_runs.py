"""When the last windows of an ended run are final (the rule is in ``service``'s docstring).

``run_end`` can be stored before the run's last records, so a window of an ended run that the
data's clock cannot settle is final only when the cycle read as many records for it as the
cycle before (``settled``) and no gateway may still hold records of the run
(``gateways_behind``, from the gateways' own ``gateway_stats`` points).
"""

from __future__ import annotations

import logging
import time

from analytics.service.backfill import SOURCE as BACKFILL_SOURCE
from analytics.service.reader import GatewayPoint, RunClock, RunReader
from plant_sim.durations import seconds_text

logger = logging.getLogger(__name__)

WindowKey = tuple[str, str, int]
"""(run id, window kind, window start ms)."""


class EndedRuns:
    """What the service keeps about ended runs whose last windows are not final yet."""

    def __init__(self, reader: RunReader, settle_ms: int) -> None:
        self.reader = reader
        self.settle_ms = settle_ms
        self._read: dict[WindowKey, int] = {}  # records read for a window on the last cycle
        self._seen_at: dict[str, int] = {}  # run -> wall ms the service first saw it ended
        self._waits_for: dict[str, set[str]] = {}  # run -> gateways it was logged waiting for

    def seen(self, run_id: str) -> bool:
        """Whether the run was seen ended and some of its windows are not final yet."""
        return run_id in self._seen_at

    def gateways_behind(self, clock: RunClock) -> dict[str, GatewayPoint]:
        """Return the gateways that may still hold records of this ended run, by name: those
        with a ``gateway_stats`` point in the last ``settle_ms`` whose newest stored point was
        made before the service first saw the run ended (none for a backfilled run). Log those
        no longer waited for because they went silent. Call it before reading the records."""
        run_id = clock.meta.run_id
        seen_at = self._seen_at.setdefault(run_id, int(time.time() * 1000))
        if clock.end_source == BACKFILL_SOURCE:
            return {}
        points = self.reader.gateway_points(self.settle_ms)
        behind = {g: p for g, p in points.items() if p.time_ms <= seen_at}
        waited = self._waits_for.setdefault(run_id, set())
        for gateway in sorted(waited - points.keys()):
            logger.info(
                "run %s: last windows no longer wait for gateway %s: no gateway_stats point "
                "for %s s, taken as gone",
                run_id,
                gateway,
                seconds_text(self.settle_ms / 1000),
            )
        waited.intersection_update(behind)
        return behind

    def settled(self, key: WindowKey, records: int) -> bool:
        """Tell whether a window of an ended run read the same number of records as on the
        cycle before, which saw the run ended too (the count is kept until then)."""
        if self._read.get(key) == records:
            return True
        self._read[key] = records
        return False

    def final(self, key: WindowKey) -> None:
        """Forget a window made final."""
        self._read.pop(key, None)

    def log_waits(self, run_id: str, behind: dict[str, GatewayPoint]) -> None:
        """Log, once per gateway, that the run's last windows wait for it."""
        waited = self._waits_for.setdefault(run_id, set())
        now_ms = int(time.time() * 1000)
        for gateway, p in sorted(behind.items()):
            if gateway not in waited:
                waited.add(gateway)
                logger.info(
                    "run %s: last windows wait for gateway %s (%d records buffered %s s ago)",
                    run_id,
                    gateway,
                    p.buffered,
                    seconds_text(max(0, now_ms - p.time_ms) / 1000),
                )

    def forget(self, run_id: str) -> None:
        """Forget a run whose windows are all final."""
        self._seen_at.pop(run_id, None)
        self._waits_for.pop(run_id, None)
        for key in [k for k in self._read if k[0] == run_id]:
            del self._read[key]

    def keep_only(self, runs: list[str]) -> None:
        """Forget the runs not followed any more (let go, or their data gone)."""
        for run_id in [r for r in self._seen_at if r not in runs]:
            self.forget(run_id)
