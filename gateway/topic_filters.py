"""MQTT topic filters: validity and overlap (MQTT 3.1.1 §4.7)."""

from __future__ import annotations


def filter_problem(topic_filter: str) -> str | None:
    """Return what is wrong with an MQTT topic filter, or ``None`` if it is valid."""
    if not topic_filter:
        return "empty topic filter"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return f"{topic_filter!r}: '#' must be a whole last level"
        if "+" in level and level != "+":
            return f"{topic_filter!r}: '+' must be a whole level"
    return None


def overlaps(a: str, b: str) -> bool:
    """Return whether some topic matches both filters ``a`` and ``b``."""
    la, lb = a.split("/"), b.split("/")
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else None
        y = lb[i] if i < len(lb) else None
        if x == "#" or y == "#":
            return True
        if x is None or y is None:
            return False
        if x != y and x != "+" and y != "+":
            return False
    return True
