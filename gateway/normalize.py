"""Raw messages -> points of the one schema, or a rejection with its reason (pure, no I/O).

A payload is decoded with ``plant_sim.payloads.decode`` (the wire contract), type-checked while
it is turned into line protocol by ``plant_sim.telemetry_schema``, and checked against the plant
that its run declared in its ``run_start`` record: unknown lines or stations, a
timestamp that disagrees with ``t``, or a topic that is not the record's own are rejected.
Records of a run whose ``run_start`` has not been seen are accepted unchecked.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from plant_sim import naming, payloads
from plant_sim.payload_points import fast_point
from plant_sim.records import Record, RunStart, from_dict
from plant_sim.telemetry_schema import SchemaError, check_ts_ms, point_parts


@dataclass(slots=True)
class RawMessage:
    """One message as a source received it."""

    source: str
    payload: bytes
    topic: str | None = None
    maybe_dup: bool = False
    """True when the transport says it may have delivered this before (MQTT dup or retain)."""
    received_ns: int = 0
    ack: Callable[[], None] | None = None
    """Called once the message is durably buffered or set aside (MQTT manual ack)."""


class Accepted(NamedTuple):
    """A record ready to store: series and fields (no source yet), and its identity."""

    series: str
    fields: str
    ts_ms: int
    digest: int
    run_id: str
    kind: str


class Rejected(NamedTuple):
    """A message set aside; ``reason`` names the field or check that failed."""

    reason: str


@dataclass(slots=True)
class RunInfo:
    """What a run's ``run_start`` declares: identity, clock and equipment."""

    run_id: str
    start_epoch_ms: int
    enterprise: str
    site: str
    area: str
    lines: set[str] = field(default_factory=set)
    stations: set[tuple[str, str]] = field(default_factory=set)
    buffers: set[tuple[str, str]] = field(default_factory=set)
    topics: dict[tuple[str, str | None, str | None], str] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: RunStart, run_id: str) -> RunInfo:
        """Build from a ``run_start``; raises ``ValueError`` naming a malformed ``lines`` entry."""
        for name in ("enterprise", "site", "area"):
            value = getattr(record, name)
            if type(value) is not str:
                raise ValueError(f"{name}: expected a string, got {type(value).__name__}")
            try:
                naming.topic_segment(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if type(record.start_epoch_ms) is not int:
            raise ValueError("start_epoch_ms: expected an integer")
        if type(record.lines) is not list:
            raise ValueError("lines: expected a list")
        info = cls(run_id, record.start_epoch_ms, record.enterprise, record.site, record.area)
        for i, entry in enumerate(record.lines):
            if not isinstance(entry, dict) or not isinstance(entry.get("line"), str):
                raise ValueError(f"lines[{i}]: expected {{'line': id, 'stations': [...]}}")
            line = entry["line"]
            info.lines.add(line)
            for key, target in (("stations", info.stations), ("buffers", info.buffers)):
                names = entry.get(key, [])
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise ValueError(f"lines[{i}].{key}: expected a list of names")
                target.update((line, n) for n in names)
        return info

    def check(self, record: Record, ts_ms: int, topic: str | None) -> str | None:
        """Return why ``record`` does not belong to this run, or ``None`` when it does."""
        line = getattr(record, "line", None)
        station = getattr(record, "station", None)
        reason = self._belongs(line, station, record.t, ts_ms)
        if reason is None and topic is not None:
            try:
                want = self._topic(record, line, station)
            except ValueError as exc:  # a name that gives no topic level
                return f"topic: {exc}"
            reason = _topic_reason(topic, want)
        return reason

    def knows_topic(self, kind: str, line: str | None, station: str | None) -> bool:
        """Return whether ``check_parts`` can check the topic of such a record."""
        return (kind, line, station) in self.topics

    def check_parts(
        self,
        kind: str,
        line: str | None,
        station: str | None,
        t: float,
        ts_ms: int,
        topic: str | None,
    ) -> str | None:
        """``check`` from a record's parts; its topic must be known (``knows_topic``)."""
        reason = self._belongs(line, station, t, ts_ms)
        if reason is None and topic is not None:
            reason = _topic_reason(topic, self.topics[kind, line, station])
        return reason

    def _belongs(self, line: str | None, station: str | None, t: float, ts_ms: int) -> str | None:
        if line is not None and line not in self.lines:
            return f"line: unknown line {line!r} in run {self.run_id!r}"
        if station is not None and (line, station) not in self.stations:
            return f"station: unknown station {station!r} on line {line!r}"
        try:
            expected_ts = payloads.epoch_ms(self.start_epoch_ms, t)
        except payloads.PayloadError as exc:
            return str(exc)
        if ts_ms != expected_ts:
            return f"ts_ms: {ts_ms} disagrees with t={t} (expected {expected_ts})"
        return None

    def _topic(self, record: Record, line: str | None, station: str | None) -> str:
        key = (record.kind, line, station)
        topic = self.topics.get(key)
        if topic is None:
            topic = payloads.route(record, self.enterprise, self.site, self.area)[0]
            self.topics[key] = topic
        return topic


def _topic_reason(topic: str, want: str) -> str | None:
    if topic.endswith(want):
        return None
    return f"topic: {topic!r} is not the record's topic {want!r}"


def decode(payload: bytes) -> tuple[Record, str, int]:
    """``payloads.decode``, plus a work-around for ``run_start`` payloads.

    ``payloads.decode`` takes ``run_id`` out of the payload as envelope, but ``RunStart`` has a
    ``run_id`` field of its own, so it cannot rebuild one; here the id is put back.
    """
    try:
        return payloads.decode(payload)
    except payloads.PayloadError as exc:
        if "'run_id'" not in str(exc):
            raise
        data = orjson.loads(payload)
        if not isinstance(data, dict) or data.get("kind") != "run_start":
            raise
        ts_ms = data.pop("ts_ms", None)
        data.pop("ts", None)
        if not isinstance(data.get("run_id"), str):
            raise payloads.PayloadError("run_id: missing or not a string") from exc
        if type(ts_ms) is not int:
            raise payloads.PayloadError("ts_ms: missing or not an integer") from exc
        try:
            record = from_dict(data)
        except (ValueError, TypeError) as inner:
            raise payloads.PayloadError(str(inner)) from inner
        return record, data["run_id"], ts_ms


def run_info_from_payload(payload: bytes) -> RunInfo:
    """Rebuild a ``RunInfo`` from a stored ``run_start`` payload."""
    record, run_id, _ = decode(payload)
    if not isinstance(record, RunStart):
        raise ValueError("kind: expected a run_start payload")
    return RunInfo.from_record(record, run_id)


class Normalizer:
    """Turns raw messages into ``Accepted`` points or ``Rejected`` reasons; knows the runs."""

    def __init__(self, runs: dict[str, RunInfo] | None = None) -> None:
        self.runs: dict[str, RunInfo] = dict(runs or {})
        self.new_runs: list[tuple[str, bytes]] = []
        """Runs learned since the caller last cleared this list (to persist them)."""

    def normalize(self, raw: RawMessage) -> Accepted | Rejected:
        """Decode, check and convert one message (well-formed ones on the fast path)."""
        point = fast_point(raw.payload)
        if point is not None:
            run = self.runs.get(point.run_id)
            if run is None or (
                (raw.topic is None or run.knows_topic(point.kind, point.line, point.station))
                and run.check_parts(
                    point.kind, point.line, point.station, point.t, point.ts_ms, raw.topic
                )
                is None
            ):
                digest = zlib.crc32(point.fields.encode())
                return Accepted(
                    point.series, point.fields, point.ts_ms, digest, point.run_id, point.kind
                )
        return self.normalize_slowly(raw)

    def normalize_slowly(self, raw: RawMessage) -> Accepted | Rejected:
        """The authoritative path: decode into a record, check and convert it, or say why not."""
        try:
            record, run_id, ts_ms = decode(raw.payload)
            check_ts_ms(ts_ms)
            series, fields = point_parts(record, run_id)
        except (payloads.PayloadError, SchemaError) as exc:
            text = str(exc)
            if "StationState" in text:  # from_dict does not name the field here
                text = f"state: {text}"
            return Rejected(text)
        except (ValueError, TypeError) as exc:  # a record field of a type the contract forbids
            return Rejected(f"payload: {exc}")
        if isinstance(record, RunStart):
            return self._run_start(record, run_id, ts_ms, series, fields, raw.payload)
        run = self.runs.get(run_id)
        if run is not None:
            reason = run.check(record, ts_ms, raw.topic)
            if reason is not None:
                return Rejected(reason)
        return Accepted(series, fields, ts_ms, zlib.crc32(fields.encode()), run_id, record.kind)

    def _run_start(
        self, record: RunStart, run_id: str, ts_ms: int, series: str, fields: str, payload: bytes
    ) -> Accepted | Rejected:
        try:
            info = RunInfo.from_record(record, run_id)
        except ValueError as exc:
            return Rejected(f"run_start.{exc}")
        if run_id not in self.runs:
            self.runs[run_id] = info
            self.new_runs.append((run_id, payload))
        return Accepted(series, fields, ts_ms, zlib.crc32(fields.encode()), run_id, record.kind)
