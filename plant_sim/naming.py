"""Names of equipment, topics and OPC UA nodes, derived in one place from scenario ids.

MQTT topics follow the ISA-95 path ``{enterprise}/{site}/{area}/{line}/{station}/{kind}``;
OPC UA string NodeIds are ``{line}.{station}.{signal}`` in the namespace ``NAMESPACE_URI``.
Every adapter builds its names with these functions so that they never drift apart.
"""

from __future__ import annotations

import re

NAMESPACE_URI = "urn:smart-factory-twin:plant"
_SEGMENT = re.compile(r"[^a-z0-9_-]+")


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
