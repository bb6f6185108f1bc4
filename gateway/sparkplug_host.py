"""The Sparkplug B host application's view of its edge nodes (pure: no I/O but the births file).

``SparkplugHost.handle(topic, payload)`` reads one ``spBv1.0/{group}/{type}/{node}[/{device}]``
message and returns an ``Outcome``: the twin records it carries (the values of the
``Twin/Record`` metric in NDATA/DDATA: UNS JSON payloads with their record number ``n``), a
dead-letter reason, and whether to ask the edge node for a rebirth.

- NBIRTH/DBIRTH define the alias table (alias -> name, datatype) of the node / the device, and
  mark it online; NDEATH (with the ``bdSeq`` of the NBIRTH it ends) and DDEATH mark it offline.
- Every NDATA/DDATA metric must be known by alias or name from the birth and carry its value in
  the field of the birth's datatype (scalar types; data sets and templates are not read); a
  message breaking this, one that is not a Sparkplug payload, or data of a node/device not born
  (or dead) is a dead letter with the reason.
- ``seq`` runs 0..255 per edge node session (NBIRTH 0, then +1 per message); a gap, an unknown
  alias or data before the birth is answered by a ``Node Control/Rebirth`` request (at most one
  per edge node every ``REBIRTH_RETRY_S`` until its NBIRTH comes).
- For the nodes and devices ``watch`` selects (foreign machines under a mapping,
  ``gateway.sparkplug_map``), ``Outcome.values`` gives every scalar metric value of their
  births and data: (name, value, timestamp: the metric's, else the payload's).
- The alias tables are kept in ``births_path`` (JSON, at most ``MAX_EDGE_NODES`` nodes), so a
  restarted gateway decodes the data queued for it by the broker without a rebirth.
- Memory is bounded: ``MAX_EDGE_NODES`` nodes, ``MAX_DEVICES`` devices each, payloads of at most
  ``MAX_PAYLOAD_BYTES``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError

from twin_io.sparkplug_payload import (
    RECORD_METRIC,
    VALUE_FIELDS,
    MetricTypeError,
    Payload,
    metric_value,
)

logger = logging.getLogger(__name__)

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"
MESSAGE_TYPES = frozenset(
    {"NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD"}
)
STATE_PREFIX = f"{NAMESPACE}/STATE/"
VALUE_KINDS = frozenset({"NBIRTH", "DBIRTH", "NDATA", "DDATA"})
"""Messages whose metric values a watched node or device hands over."""
IGNORED_TYPES = frozenset({"NCMD", "DCMD"})
"""Commands (ours and other hosts'): not data."""
MAX_PAYLOAD_BYTES = 1 << 20
MAX_EDGE_NODES = 1000
"""Edge nodes whose alias tables are kept (least recently born forgotten first)."""
MAX_DEVICES = 10_000
"""Devices per edge node; a DBIRTH beyond them is a dead letter."""
REBIRTH_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """The parts of a Sparkplug topic."""

    group: str
    kind: str
    edge_node: str
    device: str | None

    @property
    def node_key(self) -> str:
        """``group/edge_node``: one edge node session."""
        return f"{self.group}/{self.edge_node}"

    @property
    def where(self) -> str:
        """``group/edge_node[/device]`` for messages."""
        return self.node_key + (f"/{self.device}" if self.device else "")


def parse_topic(topic: str) -> SparkplugTopic:
    """Split a Sparkplug topic; raises ``ValueError`` naming what is wrong."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE or parts[1] == "STATE":
        raise ValueError(
            f"topic: {topic!r} is not spBv1.0/{{group}}/{{type}}/{{node}}[/{{device}}]"
        )
    kind = parts[2]
    if kind not in MESSAGE_TYPES:
        raise ValueError(f"topic: unknown Sparkplug message type {kind!r}")
    device = parts[4] if len(parts) == 5 else None
    if (device is None) != kind.startswith("N") or not all(parts[1:]):
        raise ValueError(f"topic: {kind} with{'out' if device is None else ''} a device id")
    return SparkplugTopic(parts[1], kind, parts[3], device)


@dataclass(slots=True)
class Outcome:
    """What one message gives: records to store, a dead-letter reason, a rebirth request."""

    records: list[bytes] = field(default_factory=list)
    reason: str | None = None
    rebirth: SparkplugTopic | None = None
    """The edge node to ask for a rebirth (NCMD ``Node Control/Rebirth``), if any."""
    values: list[tuple[str, Any, int | None]] = field(default_factory=list)
    """A watched node's or device's birth or data: (metric name, value, timestamp ms)."""


class MetricTable:
    """The metrics of one birth: alias -> (name, datatype), name -> (alias, datatype)."""

    __slots__ = ("by_alias", "by_name", "online")

    def __init__(self, metrics: list[tuple[str, int | None, int]], online: bool = True) -> None:
        self.by_name = {name: (alias, dt) for name, alias, dt in metrics}
        self.by_alias = {alias: (name, dt) for name, alias, dt in metrics if alias is not None}
        self.online = online

    def rows(self) -> list[list[Any]]:
        """JSON form: ``[[name, alias, datatype], ...]``."""
        return [[name, alias, dt] for name, (alias, dt) in self.by_name.items()]


@dataclass(slots=True)
class EdgeNodeSession:
    """What the host knows of one edge node."""

    bd_seq: int | None
    node: MetricTable
    devices: dict[str, MetricTable] = field(default_factory=dict)
    next_seq: int | None = None
    """The ``seq`` the next message must carry (``None``: not known, e.g. after a restart)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "bdSeq": self.bd_seq,
            "online": self.node.online,
            "node": self.node.rows(),
            "devices": {d: [t.online, t.rows()] for d, t in self.devices.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EdgeNodeSession:
        node = MetricTable([tuple(r) for r in data["node"]], bool(data["online"]))  # type: ignore[misc]
        devices = {
            d: MetricTable([tuple(r) for r in rows], bool(online))  # type: ignore[misc]
            for d, (online, rows) in data["devices"].items()
        }
        return cls(data["bdSeq"], node, devices)


class HostError(ValueError):
    """A message the host cannot accept; ``rebirth`` when a rebirth would cure it."""

    def __init__(self, reason: str, rebirth: bool = False) -> None:
        super().__init__(reason)
        self.rebirth = rebirth


class SparkplugHost:
    """See the module docstring. Not thread-safe: one network thread calls ``handle``."""

    def __init__(
        self,
        births_path: Path | None = None,
        max_nodes: int = MAX_EDGE_NODES,
        watch: Callable[[SparkplugTopic], bool] | None = None,
    ) -> None:
        self.births_path = births_path
        self.watch = watch
        """Whose metric values to hand over in ``Outcome.values`` (mapped foreign devices)."""
        self.max_nodes = max_nodes
        self.sessions: OrderedDict[str, EdgeNodeSession] = OrderedDict()
        self._asked: dict[str, float] = {}
        self.seq_gaps = 0
        self.rebirths_requested = 0
        self._load()

    def handle(self, topic: str, payload: bytes) -> Outcome:
        """Read one message (see the module docstring)."""
        out = Outcome()
        if topic.startswith(STATE_PREFIX):
            return out  # host applications' STATE, not data
        try:
            where = parse_topic(topic)
        except ValueError as exc:
            out.reason = f"sparkplug {exc}"
            return out
        if where.kind in IGNORED_TYPES:
            return out
        try:
            message = self._decode(payload)
            self._dispatch(where, message, out)
            if where.kind in VALUE_KINDS and self.watch is not None and self.watch(where):
                out.values = _metric_values(self._table(where), message)
        except HostError as exc:
            out.reason = f"sparkplug {where.kind} of {where.where}: {exc}"
            if exc.rebirth:
                out.rebirth = where
        if out.rebirth is not None and not self._may_ask(out.rebirth.node_key):
            out.rebirth = None
        return out

    # ------------------------------------------------------------------ messages

    def _table(self, where: SparkplugTopic) -> MetricTable:
        """The birth table of a born node or device (after ``_dispatch`` accepted it)."""
        session = self.sessions[where.node_key]
        return session.node if where.device is None else session.devices[where.device]

    @staticmethod
    def _decode(payload: bytes) -> Any:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise HostError(f"payload: {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
        message = Payload()
        try:
            message.ParseFromString(payload)
        except DecodeError as exc:
            raise HostError(f"payload: not a Sparkplug B protobuf ({exc})") from None
        return message

    def _dispatch(self, where: SparkplugTopic, message: Any, out: Outcome) -> None:
        kind = where.kind
        if kind == "NBIRTH":
            self._nbirth(where, message)
        elif kind == "NDEATH":
            self._ndeath(where, message)
        else:
            session = self.sessions.get(where.node_key)
            if session is None or not session.node.online:
                raise HostError("before the NBIRTH of its edge node", rebirth=True)
            self._check_seq(where, session, message, out)
            if kind == "DBIRTH":
                devices = session.devices
                if where.device not in devices and len(devices) >= MAX_DEVICES:
                    raise HostError(f"more than {MAX_DEVICES} devices on one edge node")
                devices[where.device] = _birth_table(message)  # type: ignore[index]
                self._save()
            elif kind == "DDEATH":
                table = session.devices.get(where.device)  # type: ignore[arg-type]
                if table is not None:
                    table.online = False
                    self._save()
                logger.info("Sparkplug device %s: offline (DDEATH)", where.where)
            elif kind == "NDATA":
                out.records = _data_records(session.node, message)
            else:  # DDATA
                table = session.devices.get(where.device)  # type: ignore[arg-type]
                if table is None or not table.online:
                    raise HostError("before the DBIRTH of its device", rebirth=True)
                out.records = _data_records(table, message)

    def _nbirth(self, where: SparkplugTopic, message: Any) -> None:
        table = _birth_table(message)
        bd_seq = _bd_seq(message)
        if message.seq != 0:
            logger.warning("Sparkplug NBIRTH of %s: seq %d, expected 0", where.where, message.seq)
        self.sessions[where.node_key] = EdgeNodeSession(bd_seq, table, {}, (message.seq + 1) % 256)
        self.sessions.move_to_end(where.node_key)
        while len(self.sessions) > self.max_nodes:
            self.sessions.popitem(last=False)
        self._asked.pop(where.node_key, None)
        self._save()
        logger.info("Sparkplug edge node %s: online (NBIRTH, bdSeq %s)", where.where, bd_seq)

    def _ndeath(self, where: SparkplugTopic, message: Any) -> None:
        session = self.sessions.get(where.node_key)
        if session is None:
            return
        bd_seq = _bd_seq(message)
        if session.bd_seq is not None and bd_seq is not None and bd_seq != session.bd_seq:
            logger.info(
                "Sparkplug NDEATH of %s: bdSeq %s ends an earlier session (now %s); ignored",
                where.where,
                bd_seq,
                session.bd_seq,
            )
            return
        session.node.online = False
        for table in session.devices.values():
            table.online = False
        session.next_seq = None
        self._save()
        logger.info("Sparkplug edge node %s: offline (NDEATH, bdSeq %s)", where.where, bd_seq)

    def _check_seq(
        self, where: SparkplugTopic, session: EdgeNodeSession, message: Any, out: Outcome
    ) -> None:
        seq = message.seq
        if not message.HasField("seq") or not 0 <= seq <= 255:
            raise HostError("seq: missing or not 0..255", rebirth=True)
        if session.next_seq is not None and seq != session.next_seq:
            self.seq_gaps += 1
            logger.warning(
                "Sparkplug %s of %s: seq %d, expected %d; asking for a rebirth",
                where.kind,
                where.where,
                seq,
                session.next_seq,
            )
            out.rebirth = where
        session.next_seq = (seq + 1) % 256

    def _may_ask(self, node_key: str) -> bool:
        now = time.monotonic()
        last = self._asked.get(node_key)
        if last is not None and now - last < REBIRTH_RETRY_S:
            return False
        if len(self._asked) >= 4 * self.max_nodes:
            self._asked.clear()
        self._asked[node_key] = now
        self.rebirths_requested += 1
        return True

    # ------------------------------------------------------------------ births file

    def _load(self) -> None:
        if self.births_path is None or not self.births_path.exists():
            return
        try:
            data = json.loads(self.births_path.read_text())
            for key, entry in data.items():
                self.sessions[key] = EdgeNodeSession.from_json(entry)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning(
                "Sparkplug births file %s unreadable (%s); ignored", self.births_path, exc
            )
            self.sessions.clear()

    def _save(self) -> None:
        if self.births_path is None:
            return
        tmp = self.births_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: s.to_json() for k, s in self.sessions.items()}))
        os.replace(tmp, self.births_path)


def _bd_seq(message: Any) -> int | None:
    for m in message.metrics:
        if m.name == "bdSeq":
            try:
                value = metric_value(m, m.datatype or 4)
            except MetricTypeError:
                return None
            return value if isinstance(value, int) else None
    return None


def _birth_table(message: Any) -> MetricTable:
    """The metrics a birth declares; raises ``HostError`` for a metric without name or type,
    of the wrong type, or an alias given twice."""
    rows: list[tuple[str, int | None, int]] = []
    aliases: set[int] = set()
    for i, m in enumerate(message.metrics):
        if not m.name or not m.HasField("datatype"):
            raise HostError(f"metrics[{i}]: a birth metric needs a name and a datatype")
        if m.datatype in VALUE_FIELDS:  # data sets, templates, ...: declared, not read
            try:
                metric_value(m, m.datatype)
            except MetricTypeError as exc:
                raise HostError(f"metric {m.name!r}: wrong type: {exc}") from None
        alias = m.alias if m.HasField("alias") else None
        if alias is not None:
            if alias in aliases:
                raise HostError(f"metric {m.name!r}: alias {alias} given to two metrics")
            aliases.add(alias)
        rows.append((m.name, alias, m.datatype))
    return MetricTable(rows)


def _data_records(table: MetricTable, message: Any) -> list[bytes]:
    """Check every metric of a data message against its birth; return the records it carries."""
    read = _read(table, message)
    return [value.encode() for name, value, _ in read if name == RECORD_METRIC and value]


def _metric_values(table: MetricTable, message: Any) -> list[tuple[str, Any, int | None]]:
    """The scalar metric values of a (checked) birth or data message, with their timestamps
    (the metric's, else the payload's, else None)."""
    default = message.timestamp if message.HasField("timestamp") else None
    return [
        (name, value, m.timestamp if m.HasField("timestamp") else default)
        for name, value, m in _read(table, message)
    ]


def _read(table: MetricTable, message: Any) -> list[tuple[str, Any, Any]]:
    """(name, value, metric) of every scalar metric; raises ``HostError`` for a metric that
    does not fit its birth."""
    out: list[tuple[str, Any, Any]] = []
    for m in message.metrics:
        if m.name:
            known = table.by_name.get(m.name)
            if known is None:
                raise HostError(f"metric {m.name!r} is not in the birth", rebirth=True)
            name, datatype = m.name, known[1]
        else:
            if not m.HasField("alias"):
                raise HostError("a metric with neither name nor alias")
            by_alias = table.by_alias.get(m.alias)
            if by_alias is None:
                raise HostError(f"unknown alias {m.alias}", rebirth=True)
            name, datatype = by_alias
        if m.HasField("datatype") and m.datatype != datatype:
            raise HostError(f"metric {name!r}: wrong type: datatype {m.datatype}, born {datatype}")
        if datatype not in VALUE_FIELDS:
            continue  # a data set, template, ...: not read
        try:
            value = metric_value(m, datatype)
        except MetricTypeError as exc:
            raise HostError(f"metric {name!r}: wrong type: {exc}") from None
        if value is not None:  # a null value tells nothing
            out.append((name, value, m))
    return out
