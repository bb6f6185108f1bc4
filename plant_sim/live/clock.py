"""A paced clock: maps simulation seconds to wall-clock instants at a changeable speed factor.

The clock never sleeps by itself; the runner asks it how long to wait until a simulation time is
due (``wait_s``) and which simulation time is due now (``target``). Changing the speed re-anchors
the mapping at the current instant, so simulation time never jumps. ``time_fn`` is injectable for
tests (default ``time.monotonic``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_SPEED = 1e9
MIN_SPEED = 0.01
"""Slowest speed factor: a simulated second takes 100 wall seconds. Slower would freeze the
plant in practice (at 1e-300 nothing would ever happen again)."""


def check_speed(speed: object) -> float:
    """Return ``speed`` as a float if it is a usable speed factor; raise ``ValueError`` if not.

    A speed is a number (not a string such as ``"120"``, not a boolean) from ``MIN_SPEED`` to
    ``MAX_SPEED``.
    """
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise ValueError(f"speed: expected a number, got {type(speed).__name__} {speed!r:.80}")
    if not MIN_SPEED <= speed <= MAX_SPEED:  # also false for NaN
        raise ValueError(f"speed: must be from {MIN_SPEED:g} to {MAX_SPEED:g}, got {speed!r}")
    return float(speed)


class PacedClock:
    """Simulation time ``t`` is due at wall time ``anchor_wall + (t - anchor_sim) / speed``."""

    def __init__(
        self,
        speed: float = 1.0,
        *,
        sim_start: float = 0.0,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self._time = time_fn
        self._speed = check_speed(speed)
        self._anchor_sim = sim_start
        self._anchor_wall = time_fn()

    @property
    def speed(self) -> float:
        """The current speed factor (1 = real time, 60 = a simulated minute per second)."""
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Change the speed factor from now on; the simulation time due now stays the same."""
        value = check_speed(speed)
        now = self._time()
        self._anchor_sim = self._sim_at(now)
        self._anchor_wall = now
        self._speed = value

    def restart(self, sim_time: float) -> None:
        """Make ``sim_time`` due now (call when the paced run actually starts)."""
        self._anchor_sim = sim_time
        self._anchor_wall = self._time()

    def target(self) -> float:
        """Return the simulation time that is due now."""
        return self._sim_at(self._time())

    def wall_at(self, t: float) -> float:
        """Return the wall instant (``time_fn`` units) at which simulation time ``t`` is due."""
        return self._anchor_wall + (t - self._anchor_sim) / self._speed

    def wait_s(self, t: float) -> float:
        """Return the wall seconds until simulation time ``t`` is due (0 if already due)."""
        return max(0.0, self.wall_at(t) - self._time())

    def lag_s(self, t: float) -> float:
        """Return how many wall seconds simulation time ``t`` is behind the clock (>= 0)."""
        return max(0.0, self._time() - self.wall_at(t))

    def _sim_at(self, wall: float) -> float:
        return self._anchor_sim + (wall - self._anchor_wall) * self._speed
