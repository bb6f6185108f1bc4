"""The JSON payload and topic of every record on the wire (MQTT, OPC UA events).

A payload is the record's dict form (``records.to_dict``) plus ``run_id``, ``ts`` (UTC ISO-8601
with milliseconds) and ``ts_ms`` (epoch milliseconds from simulation time). The same bytes travel
over MQTT and inside OPC UA record events, so the gateway decodes both with ``decode``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from plant_sim import naming
from plant_sim.records import Record, from_dict, to_dict

MAX_PAYLOAD_BYTES = 64 * 1024

# kind -> (topic level, retained, qos)
_ROUTES: dict[str, tuple[str, bool, int]] = {
    "state": ("state", True, 1),
    "part": ("part", False, 1),
    "sample": ("sample", False, 0),
    "release": ("flow", False, 1),
    "exit": ("flow", False, 1),
    "buffer": ("buffer", False, 0),
    "order": ("order", False, 1),
    "stock": ("stock", False, 1),
    "shift": ("shift", True, 1),
    "scenario_event": ("event", False, 1),
    "run_start": ("run", True, 1),
    "run_end": ("run_end", False, 1),
}


class PayloadError(ValueError):
    """A payload that cannot be decoded; the message names the field."""


MAX_SIM_S = float((2**63 - 1) // 1_000_000_000)
"""Largest simulation time (seconds, either sign) that can give a storable timestamp."""


def epoch_ms(start_epoch_ms: int, t: float) -> int:
    """Return the epoch milliseconds of simulation time ``t`` (seconds since start).

    Raises ``PayloadError`` naming ``t`` when it is not a number within ``±MAX_SIM_S``
    (infinite, NaN or so large that no InfluxDB timestamp could carry it).
    """
    if not -MAX_SIM_S <= t <= MAX_SIM_S:  # also false for NaN
        raise PayloadError(f"t: {t!r} is not a simulation time a timestamp can carry")
    return start_epoch_ms + round(t * 1000.0)


def iso_ms(ts_ms: int) -> str:
    """Return ``ts_ms`` as UTC ISO-8601 with milliseconds and a ``Z`` suffix."""
    return (
        datetime.fromtimestamp(ts_ms / 1000.0, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    )


def encode(record: Record, run_id: str, start_epoch_ms: int) -> bytes:
    """Return the JSON payload of ``record``."""
    data = to_dict(record)
    ts_ms = epoch_ms(start_epoch_ms, record.t)
    data.setdefault("run_id", run_id)  # run_start carries its own
    data["ts_ms"] = ts_ms
    data["ts"] = iso_ms(ts_ms)
    return orjson.dumps(data)


def decode(payload: bytes | str) -> tuple[Record, str, int]:
    """Return ``(record, run_id, ts_ms)`` from a payload; raises ``PayloadError``."""
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload: {len(raw)} bytes is over the {MAX_PAYLOAD_BYTES} limit")
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"payload: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PayloadError("payload: expected a JSON object")
    data.pop("uns", None)  # readable extras (units, state numbers) for UNS browsers
    meta = {k: data.pop(k, None) for k in ("ts_ms", "ts")}
    # run_start carries run_id as a field of its own; every other kind only as metadata
    meta["run_id"] = (
        data.get("run_id") if data.get("kind") == "run_start" else data.pop("run_id", None)
    )
    if not isinstance(meta["run_id"], str):
        raise PayloadError("run_id: missing or not a string")
    if not isinstance(meta["ts_ms"], int):
        raise PayloadError("ts_ms: missing or not an integer")
    try:
        record = from_dict(data)
    except (ValueError, TypeError) as exc:
        raise PayloadError(str(exc)) from exc
    return record, meta["run_id"], meta["ts_ms"]


def route(record: Record, enterprise: str, site: str, area: str) -> tuple[str, bool, int]:
    """Return ``(topic, retained, qos)`` for ``record`` in the UNS tree."""
    level, retained, qos = _ROUTES[record.kind]
    station = getattr(record, "station", None)
    line = getattr(record, "line", None)
    if station is not None and line is not None:
        return naming.station_topic(enterprise, site, area, line, station, level), retained, qos
    if line is not None:
        return naming.line_topic(enterprise, site, area, line, level), retained, qos
    prefix = "/".join(naming.topic_segment(p) for p in (enterprise, site, area))
    return f"{prefix}/_plant/{level}", retained, qos
