"""The one retry/backoff policy of the project: exponential, capped, with jitter.

Every loop that waits before trying again (InfluxDB writes in the gateway and the analytics
service, MQTT reconnects of the twin and the gateway, OPC UA reconnects) takes its delays from
a ``Backoff``. The n-th delay (n = 0, 1, ...) is ``min(max_s, initial_s * 2**n)`` scaled by a
random factor in ``[1 - jitter, 1]``: never longer than ``max_s`` (the documented cap), and
clients that failed together do not retry in step. ``reset()`` after a success starts again
at ``initial_s``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DEFAULT_INITIAL_S = 1.0
DEFAULT_MAX_S = 30.0
DEFAULT_JITTER = 0.5


@dataclass(slots=True)
class Backoff:
    """Delays of successive retries: ``next_delay()`` after a failure, ``reset()`` after success."""

    initial_s: float = DEFAULT_INITIAL_S
    max_s: float = DEFAULT_MAX_S
    jitter: float = DEFAULT_JITTER
    failures: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(
                f"backoff: need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}"
            )
        if not 0 <= self.jitter < 1:
            raise ValueError(f"backoff: jitter must be in [0, 1), got {self.jitter}")

    def nominal(self) -> float:
        """The delay before jitter for the current number of failures."""
        return min(self.max_s, self.initial_s * 2.0 ** min(self.failures, 60))

    def next_delay(self) -> float:
        """Count one failure and return how long to wait before the next attempt."""
        delay = self.nominal() * (1.0 - self.jitter * self._rng.random())
        self.failures += 1
        return delay

    def reset(self) -> None:
        """A success: the next failure waits ``initial_s`` again."""
        self.failures = 0
