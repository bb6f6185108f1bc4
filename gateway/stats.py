"""The gateway's own counters and lag, reported to the log and to ``gateway_stats``."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from plant_sim.telemetry_schema import metrics_line

PER_SOURCE = ("records_in", "records_out", "dead_lettered", "duplicates")
GLOBAL = ("batches", "retries", "dropped", "write_errors", "rejected_by_influx")
RECENT_LAGS = 50_000


class LagHistogram:
    """Counts of lags in 1 ms buckets; percentiles without keeping every value."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0

    def add_many(self, lags_ms: Sequence[float] | np.ndarray) -> None:
        """Count lags (milliseconds; negative ones count as 0)."""
        lags = np.asarray(lags_ms, dtype=np.float64)
        if not lags.size:
            return
        buckets, n = np.unique(np.maximum(lags, 0.0).astype(np.int64), return_counts=True)
        counts = self.counts
        for b, k in zip(buckets.tolist(), n.tolist(), strict=True):
            counts[b] = counts.get(b, 0) + k
        self.n += int(lags.size)

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
    broker_dropped: int = 0  # the MQTT broker's own count of dropped messages (a gauge)
    recent_lags: deque[np.ndarray] = field(default_factory=deque)
    """Lags of the latest writes (about the last ``RECENT_LAGS``), for the next report."""
    lag_total: LagHistogram = field(default_factory=lambda: LagHistogram())
    """Every lag since start (1 ms buckets), for whole-run percentiles."""
    _recent_n: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, source: str, name: str, n: int = 1) -> None:
        """Add ``n`` to a per-source counter."""
        with self._lock:
            self.per_source[source][name] += n

    def bump(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a global counter."""
        with self._lock:
            self.counters[name] += n

    def add_lags(self, lags_ms: Sequence[float] | np.ndarray) -> None:
        """Remember lags (received -> stored, ms) of written records."""
        lags = np.asarray(lags_ms, dtype=np.float64)
        with self._lock:
            self.recent_lags.append(lags)
            self._recent_n += lags.size
            while self._recent_n - self.recent_lags[0].size >= RECENT_LAGS:
                self._recent_n -= self.recent_lags.popleft().size
            self.lag_total.add_many(lags)

    def lag_percentiles(self) -> dict[str, float]:
        """Return p50, p99 and max of the lags since the last call (and forget them)."""
        with self._lock:
            parts = list(self.recent_lags)
            self.recent_lags.clear()
            self._recent_n = 0
        lags = np.sort(np.concatenate(parts)) if parts else np.empty(0)
        if not lags.size:
            return {}
        n = lags.size
        return {
            "lag_ms_p50": float(lags[n // 2]),
            "lag_ms_p99": float(lags[min(n - 1, int(n * 0.99))]),
            "lag_ms_max": float(lags[-1]),
        }

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Return a copy of the counters: per source, plus ``gateway`` for the global ones."""
        with self._lock:
            out = {src: dict(c) for src, c in self.per_source.items()}
            out["gateway"] = dict(
                self.counters, buffered=self.buffered, broker_dropped=self.broker_dropped
            )
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
