"""Durations as people write them: ``90``, ``"30s"``, ``"15m"``, ``"8h"``, ``"2d6h"``."""

from __future__ import annotations

import re

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhdw])")


def parse_duration(value: float | int | str) -> float:
    """Return ``value`` in seconds; numbers are seconds already. Raises ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a boolean")
    if isinstance(value, int | float):
        return float(value)
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
        raise ValueError(f"{value!r} is not a duration (use e.g. 90, '30s', '15m', '8h', '2d6h')")
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
