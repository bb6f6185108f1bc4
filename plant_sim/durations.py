"""Durations as people write them: ``90``, ``"30s"``, ``"15m"``, ``"8h"``, ``"2d6h"``."""

from __future__ import annotations

import math
import re
from typing import Any

MAX_SECONDS = 100 * 365 * 86400.0
"""Longest duration accepted anywhere (100 years): far beyond any run, and a timestamp fits."""
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhdw])")


def parse_duration(value: Any) -> float:
    """Return ``value`` in seconds; numbers are seconds already. Raises ``ValueError``.

    Refuses what is not a number or a duration string (lists, dates, booleans, empty text),
    non-finite values (``inf``, ``nan``, ``1e400``) and anything beyond ``MAX_SECONDS``.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a boolean")
    shown = repr(value)[:80]
    if isinstance(value, int | float):
        seconds = float(value) if abs(value) <= MAX_SECONDS else math.inf
    elif isinstance(value, str):
        seconds = _parse_text(value)
    else:
        kind = type(value).__name__
        raise ValueError(f"expected a duration (seconds, or e.g. '8h'), got {kind} {shown}")
    if not abs(seconds) <= MAX_SECONDS:  # also true for NaN
        raise ValueError(f"{shown} is not a finite duration of at most 100 years")
    return seconds


def _parse_text(value: str) -> float:
    text = value.strip().lower().replace(" ", "")
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(
            f"{value[:80]!r} is not a duration (use e.g. 90, '30s', '15m', '8h', '2d6h')"
        )
    return total


def parse_time_of_day(value: str) -> float:
    """Return seconds after midnight of ``"HH:MM"`` (``"24:00"`` allowed). Raises ``ValueError``."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day (use 'HH:MM')")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ValueError(f"{value!r} is not a time of day (use 'HH:MM')")
    return hours * 3600.0 + minutes * 60.0


def seconds_text(seconds: float) -> str:
    """A duration for a log line: 0.25, 2.5, 30, 1200 (three significant digits, never 0 for
    a positive duration under 0.5 s, no exponent)."""
    return f"{seconds:.3g}" if seconds < 1000 else f"{seconds:.0f}"
