"""Names of equipment, topics and OPC UA nodes, derived in one place from scenario ids.

MQTT topics follow the ISA-95 path ``{enterprise}/{site}/{area}/{line}/{station}/{kind}``;
OPC UA string NodeIds are ``{line}.{station}.{signal}`` in the namespace ``NAMESPACE_URI``.
Every adapter builds its names with these functions so that they never drift apart.
"""

from __future__ import annotations

import re

NAMESPACE_URI = "urn:smart-factory-twin:plant"
_SEGMENT = re.compile(r"[^a-z0-9_-]+")
_NOT_IN_NAME = re.compile(r"[\x00-\x1f\x7f\\]")
"""Characters a name cannot hold: control characters (line breaks, tabs, ...) and backslash."""
MAX_NAME_CHARS = 256
"""Longest name (run id, ...) accepted; names become InfluxDB tags and OPC UA identifiers."""


def name_problem(value: object) -> str | None:
    """Return why ``value`` cannot be a name (run id, line, station, ...), or ``None``.

    A name is a non-empty string of at most ``MAX_NAME_CHARS`` characters without control
    characters (line breaks, tabs, ...) or backslashes: what every stage can store and give
    back unchanged (InfluxDB 1.x keeps a backslash literally, 2.x unescapes it).
    """
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if not value:
        return "empty value"
    if len(value) > MAX_NAME_CHARS:
        return f"longer than {MAX_NAME_CHARS} characters"
    if _NOT_IN_NAME.search(value):
        return f"line break, control character or backslash in {value[:80]!r}"
    return None


def text_problem(value: object, max_chars: int) -> str | None:
    """Return why ``value`` cannot be a free-text value (a reason, ...), or ``None``.

    Free text may hold any character but a line break (a line-protocol record ends there), and
    at most ``max_chars`` of them.
    """
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if len(value) > max_chars:
        return f"longer than {max_chars} characters"
    if "\n" in value or "\r" in value:
        return "line break in the text"
    return None


def as_name(text: str) -> str:
    """Return free ``text`` as a name: what a name cannot hold becomes U+FFFD, the rest is cut
    to ``MAX_NAME_CHARS`` (for labels derived from text, e.g. a stop reason as a tag)."""
    return _NOT_IN_NAME.sub("\ufffd", text)[:MAX_NAME_CHARS]


def check_name(value: object, what: str) -> str:
    """Return ``value`` if it is a valid name; raise ``ValueError`` naming ``what`` if not."""
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(f"{what}: {problem}")
    return value  # type: ignore[return-value]


def topic_segment(name: str) -> str:
    """Return ``name`` as a safe, lowercase MQTT topic level (``[a-z0-9_-]`` only)."""
    seg = _SEGMENT.sub("_", name.strip().lower()).strip("_")
    if not seg:
        raise ValueError(f"name {name!r} gives an empty topic segment")
    return seg


def station_topic(enterprise: str, site: str, area: str, line: str, station: str, kind: str) -> str:
    """Return the UNS topic of one station's ``kind`` (state, part, sample, counters, ...)."""
    parts = (enterprise, site, area, line, station, kind)
    return "/".join(topic_segment(p) for p in parts)


def line_topic(enterprise: str, site: str, area: str, line: str, kind: str) -> str:
    """Return the UNS topic of a line-level ``kind`` (buffer, order, kpi, ...)."""
    return "/".join(topic_segment(p) for p in (enterprise, site, area, line, kind))


def node_id_string(line: str, station: str, signal: str) -> str:
    """Return the stable string NodeId identifier of a station signal."""
    return f"{line}.{station}.{signal}"
