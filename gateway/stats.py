"""The gateway's own counters and lag, reported to the log and to ``gateway_stats``."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field

from plant_sim.telemetry_schema import metrics_line

PER_SOURCE = ("records_in", "records_out", "dead_lettered", "duplicates")
GLOBAL = ("batches", "retries", "dropped", "write_errors", "rejected_by_influx")


class LagHistogram:
    """Counts of lags in 1 ms buckets; percentiles without keeping every value."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0

    def add_many(self, lags_ms: list[float]) -> None:
        """Count lags (milliseconds)."""
        counts = self.counts
        for lag in lags_ms:
            b = int(lag) if lag > 0 else 0
            counts[b] = counts.get(b, 0) + 1
        self.n += len(lags_ms)

    def percentile(self, p: float) -> float | None:
        """Return the ``p``-th percentile (0-100) in ms, or None if empty."""
        if not self.n:
            return None
        rank = max(1, round(self.n * p / 100.0))
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return float(bucket)
        return float(max(self.counts))


@dataclass
class Stats:
    """Counters (monotonic since start), the buffer gauge and recent end-to-end lags."""

    per_source: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(PER_SOURCE, 0))
    )
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GLOBAL, 0))
    buffered: int = 0
    lags_ms: deque[float] = field(default_factory=lambda: deque(maxlen=50_000))
    lag_total: LagHistogram = field(default_factory=lambda: LagHistogram())
    """Every lag since start (1 ms buckets), for whole-run percentiles."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, source: str, name: str, n: int = 1) -> None:
        """Add ``n`` to a per-source counter."""
        with self._lock:
            self.per_source[source][name] += n

    def bump(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a global counter."""
        with self._lock:
            self.counters[name] += n

    def add_lags(self, lags_ms: list[float]) -> None:
        """Remember lags (received -> stored, ms) of written records."""
        with self._lock:
            self.lags_ms.extend(lags_ms)
            self.lag_total.add_many(lags_ms)

    def lag_percentiles(self) -> dict[str, float]:
        """Return p50, p99 and max of the lags since the last call (and forget them)."""
        with self._lock:
            lags = sorted(self.lags_ms)
            self.lags_ms.clear()
        if not lags:
            return {}
        return {
            "lag_ms_p50": lags[len(lags) // 2],
            "lag_ms_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
            "lag_ms_max": lags[-1],
        }

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Return a copy of the counters: per source, plus ``gateway`` for the global ones."""
        with self._lock:
            out = {src: dict(c) for src, c in self.per_source.items()}
            out["gateway"] = dict(self.counters, buffered=self.buffered)
            return out

    def lines(self, gateway: str, ts_ms: int) -> list[str]:
        """Return ``gateway_stats`` lines for the current counters and lags."""
        snap = self.snapshot()
        glob: dict[str, float | int] = dict(snap.pop("gateway"))
        glob.update(self.lag_percentiles())
        out = [metrics_line(gateway, "gateway", glob, ts_ms)]
        out += [metrics_line(gateway, src, dict(c), ts_ms) for src, c in sorted(snap.items())]
        return out

    def summary(self) -> str:
        """Return a one-line summary for the log."""
        snap = self.snapshot()
        glob = snap.pop("gateway")
        parts = [f"{k}={v}" for k, v in glob.items()]
        for src, c in sorted(snap.items()):
            parts.append(
                f"{src}: in={c['records_in']} out={c['records_out']} "
                f"dead={c['dead_lettered']} dup={c['duplicates']}"
            )
        return ", ".join(parts)
