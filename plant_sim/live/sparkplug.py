"""A Sparkplug B 3.0 edge node: one line, its stations as devices (the session, no I/O).

Topic map (ISA-95 -> Sparkplug): group_id = ``{enterprise}_{site}_{area}`` (a group id cannot
hold ``/``), edge_node_id = the line, device_id = the station:
``spBv1.0/acme_plant1_bottling/DDATA/line1/filler``.

The node encodes; ``send(topic, payload, qos)`` (given by its owner, ``sparkplug_sink``) carries
the bytes. Every method runs on one thread (the live twin's event loop), so ``seq`` numbers the
messages in the order they are sent. Session (Sparkplug 3.0 chapter 5):

- ``will()`` returns the NDEATH for the MQTT will (QoS 1, not retained) with the ``bdSeq`` of the
  NBIRTH that follows; call it before every connect (``bdSeq`` counts connects, 0-255).
- ``connected()`` after each connect (the owner subscribed to ``subscriptions()``: NCMD, DCMD and,
  with a primary host, its STATE, at QoS 1): births now, or once the primary host's STATE says
  online. ``birth()`` publishes NBIRTH (``seq`` 0, ``bdSeq``, ``Node Control/Rebirth`` false,
  the line's metrics) and one DBIRTH per station with every metric, its name, alias and datatype.
- ``apply(record)`` publishes DDATA (or NDATA for line metrics) with only the changed metrics, by
  alias. Every message after NBIRTH increments ``seq`` (wrapping 255 -> 0).
- ``on_ncmd``/``on_dcmd``: ``Node Control/Rebirth`` true publishes the births again; command
  metrics go to ``on_command``. ``on_state``: a STATE older than the last one is ignored; offline
  after online returns True: the owner ends the session (``death()``: the NDEATH before the MQTT
  DISCONNECT) and connects again, then waits for online (Sparkplug 3.0
  ``operational-behavior-edge-node-termination-host-offline``).

Data are QoS 0, not retained. Payloads: ``twin_io.sparkplug_payload`` (protobuf).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plant_sim.live.layout import LineInfo
from plant_sim.records import (
    BufferLevel,
    PartDone,
    PartLeft,
    PartReleased,
    ProcessSample,
    Record,
    ScenarioEvent,
    StateChange,
)
from plant_sim.states import STATE_INFO
from twin_io.sparkplug_payload import DataType, Payload, metric

logger = logging.getLogger(__name__)
NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"

# station metrics: name -> datatype (births carry all, data only the changed ones)
STATION_METRICS: dict[str, DataType] = {
    "State": DataType.STRING,
    "State/Number": DataType.INT32,
    "State/Reason": DataType.STRING,
    "Machinery/ItemState": DataType.INT32,
    "Machinery/OperationMode": DataType.INT32,
    "Production/Product": DataType.STRING,
    "Production/Order": DataType.STRING,
    "Production/Good": DataType.UINT64,
    "Production/Scrap": DataType.UINT64,
    "Production/Rework": DataType.UINT64,
    "Production/LastCycleTime": DataType.DOUBLE,
    "Process/Temperature": DataType.DOUBLE,
    "Process/Power": DataType.DOUBLE,
    "Process/EnergyTotal": DataType.DOUBLE,
    "Process/SpeedFactor": DataType.DOUBLE,
    "Command/InjectFailure": DataType.DOUBLE,  # DCMD: failure duration in simulated seconds
    "Command/ClearFailure": DataType.BOOLEAN,  # DCMD: true clears the failure
}
UNITS: dict[str, str] = {  # engUnit of the births: the UN/CEFACT codes of the UNS payloads
    "Production/LastCycleTime": "SEC",
    "Process/Temperature": "CEL",
    "Process/Power": "KWT",
    "Process/EnergyTotal": "KWH",
    "Process/SpeedFactor": "C62",
    "Command/InjectFailure": "SEC",
    "Command/SpeedFactor": "C62",
}


def unit_of(name: str) -> str | None:
    """The engUnit a birth gives metric ``name`` (buffer levels in pieces, H87)."""
    return "H87" if name.startswith("Buffers/") else UNITS.get(name)


DEVICE_COMMANDS = ("Command/InjectFailure", "Command/ClearFailure")
NODE_COMMANDS = ("Command/SpeedFactor",)
LINE_METRICS: dict[str, DataType] = {
    "Flow/Released": DataType.UINT64,
    "Flow/Finished": DataType.UINT64,
    "Flow/Scrapped": DataType.UINT64,
    "Command/SpeedFactor": DataType.DOUBLE,  # NCMD: the twin's speed factor (whole plant)
}
Send = Callable[[str, bytes, int], None]
"""``send(topic, payload, qos)``: hand one message to the MQTT client, in order."""


def group_id(enterprise: str, site: str, area: str) -> str:
    """The Sparkplug group id of an ISA-95 area."""
    return "_".join((enterprise, site, area))


@dataclass(slots=True)
class _Values:
    """Current values and aliases of one device (or of the node)."""

    types: dict[str, DataType]
    aliases: dict[str, int]
    values: dict[str, Any] = field(default_factory=dict)


class SparkplugEdgeNode:
    """See the module docstring. ``clock_ms`` gives the timestamps of births and deaths."""

    def __init__(
        self,
        group: str,
        line: LineInfo,
        clock_ms: Callable[[], int],
        send: Send,
        primary_host: str | None = None,
    ) -> None:
        self.group = group
        self.edge_node = line.id
        self.clock_ms = clock_ms
        self.send = send
        self.primary_host = primary_host
        """With a primary host id: births only once its STATE says online (Sparkplug 3.0)."""
        self.bd_seq = -1
        self.seq = 0
        alias = iter(range(1, 1 << 31))
        self.node = _Values(
            {"bdSeq": DataType.INT64, REBIRTH: DataType.BOOLEAN, **LINE_METRICS},
            {},
        )
        self.node.aliases = {name: next(alias) for name in self.node.types}
        for name in LINE_METRICS:
            self.node.values[name] = 0
        for buf in line.buffers:
            self.node.types[f"Buffers/{buf.id}/Level"] = DataType.INT32
            self.node.aliases[f"Buffers/{buf.id}/Level"] = next(alias)
            self.node.values[f"Buffers/{buf.id}/Level"] = 0
        self.devices: dict[str, _Values] = {}
        for st in line.stations:
            dev = _Values(dict(STATION_METRICS), {n: next(alias) for n in STATION_METRICS})
            dev.values = {n: _initial(t) for n, t in STATION_METRICS.items()}
            self.devices[st.id] = dev
        self.births = 0
        self.born = False
        self.host_online = False
        self._host_ts = -1  # timestamp of the last STATE applied
        self.out: set[str] = set()
        """Stations taken out (DDEATH sent, data held until their DBIRTH)."""
        self.on_command: Callable[[str | None, str, Any], None] | None = None
        """Called with (device or None, metric name, value) for each command metric."""
        self.after_birth: Callable[[], None] | None = None
        """Called right after each set of births (NBIRTH and the DBIRTHs)."""

    def add_node_metric(self, name: str, datatype: DataType, birth_value: Any) -> int:
        """Register one more node metric (before the first birth): births carry it with
        ``birth_value``; returns its alias (the next free one)."""
        used = [*self.node.aliases.values()]
        used += [a for dev in self.devices.values() for a in dev.aliases.values()]
        alias = max(used) + 1
        self.node.types[name] = datatype
        self.node.aliases[name] = alias
        self.node.values[name] = birth_value
        return alias

    def topic(self, kind: str, device: str | None = None) -> str:
        """``spBv1.0/{group}/{kind}/{edge node}[/{device}]``."""
        base = f"{NAMESPACE}/{self.group}/{kind}/{self.edge_node}"
        return f"{base}/{device}" if device else base

    @property
    def state_topic(self) -> str | None:
        """The primary host's STATE topic (None without a primary host)."""
        return None if self.primary_host is None else f"{NAMESPACE}/STATE/{self.primary_host}"

    def subscriptions(self) -> list[tuple[str, int]]:
        """What to subscribe to (QoS 1) on each connect, before ``connected()``."""
        subs = [(self.topic("NCMD"), 1), (self.topic("DCMD", "+"), 1)]
        if self.state_topic is not None:
            subs.append((self.state_topic, 1))
        return subs

    def will(self) -> tuple[str, bytes]:
        """The NDEATH for the next connect's will: topic and payload with the next ``bdSeq``."""
        self.bd_seq = (self.bd_seq + 1) % 256
        return self.topic("NDEATH"), self._death_payload()

    def _death_payload(self) -> bytes:
        death = Payload(timestamp=self.clock_ms())
        alias = self.node.aliases["bdSeq"]
        death.metrics.append(metric(alias, DataType.INT64, self.bd_seq, death.timestamp, "bdSeq"))
        return death.SerializeToString()

    def death(self) -> None:
        """An intentional end of the session: publish the NDEATH of this ``bdSeq``; the owner
        sends the MQTT DISCONNECT right after it. QoS 0: paho would send a QoS 1 message again
        after the next connect, where its old ``bdSeq`` means nothing."""
        self.born = False
        self.send(self.topic("NDEATH"), self._death_payload(), 0)

    def connected(self) -> None:
        """After each connect: births now, or when the primary host says it is online."""
        self.born = False
        self.host_online = False
        self._host_ts = -1  # the retained STATE comes again with the subscription
        if self.primary_host is None:
            self.birth()

    def lost(self) -> None:
        """The connection is gone: nothing is sent until ``connected()``."""
        self.born = False

    def on_state(self, payload: bytes) -> bool:
        """Sparkplug 3.0 STATE ``{"online": bool, "timestamp": ms}`` of the primary host.
        Online: births (if not born). Returns True when the host went offline after being
        online: the owner must end this session (``death()``, DISCONNECT) and connect again."""
        try:
            state = json.loads(payload)
            online, ts = state["online"], state["timestamp"]
            if not isinstance(online, bool) or isinstance(ts, bool) or not isinstance(ts, int):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            logger.warning("Sparkplug: STATE of %s is not {online, timestamp}", self.primary_host)
            return False
        if ts < self._host_ts:
            logger.info(
                "Sparkplug: STATE of %s older than the last one, ignored", self.primary_host
            )
            return False
        self._host_ts = ts
        was_online, self.host_online = self.host_online, online
        if online:
            if not self.born:
                self.birth()
            return False
        logger.info("Sparkplug: primary host %s offline", self.primary_host)
        return was_online

    def birth(self) -> None:
        """Publish NBIRTH and every DBIRTH (seq restarts at 0)."""
        now = self.clock_ms()
        self.seq = 0
        nbirth = Payload(timestamp=now, seq=0)
        values = {**self.node.values, "bdSeq": self.bd_seq, REBIRTH: False}
        for name, datatype in self.node.types.items():
            nbirth.metrics.append(
                metric(self.node.aliases[name], datatype, values[name], now, name, unit_of(name))
            )
        self._publish(self.topic("NBIRTH"), nbirth)
        for device in self.devices:
            if device not in self.out:
                self._publish_dbirth(device, now)
        self.births += 1
        self.born = True
        if self.after_birth is not None:
            self.after_birth()

    def apply(self, record: Record, ts_ms: int) -> None:
        """Publish the metrics ``record`` changes (DDATA of its station, NDATA of the line); a
        station taken out for maintenance gets a DDEATH, and a DBIRTH when it is back."""
        if isinstance(record, ScenarioEvent) and record.event == "station_maintenance":
            if record.target in self.devices:
                self.device_out(record.target, record.phase == "start", ts_ms)
            return
        station = getattr(record, "station", None)
        if station is not None and station in self.devices:
            self.update(station, _station_values(record, self.devices[station]), ts_ms)
        elif getattr(record, "line", None) == self.edge_node:
            self.update(None, _line_values(record, self.node), ts_ms)

    def device_out(self, device: str, out: bool, ts_ms: int) -> None:
        """DDEATH when ``device`` is taken out; DBIRTH with its current values when it is back.
        Its data are held while it is out (the DBIRTH carries them)."""
        if out == (device in self.out):
            return
        if out:
            self.out.add(device)
            if self.born:
                self.device_death(device, ts_ms)
            return
        self.out.discard(device)
        if self.born:
            self._publish_dbirth(device, ts_ms)

    def update(self, device: str | None, values: dict[str, Any], ts_ms: int) -> None:
        """Report by exception: publish the values that differ from the last ones."""
        target = self.node if device is None else self.devices[device]
        changed = {
            k: v for k, v in values.items() if k in target.types and target.values.get(k) != v
        }
        if not changed:
            return
        target.values.update(changed)
        if not self.born or device in self.out:
            return  # the next births carry the values
        self.publish_data(
            [metric(target.aliases[n], target.types[n], v, ts_ms) for n, v in changed.items()],
            ts_ms,
            device,
        )

    def publish_data(self, metrics: list[Any], ts_ms: int, device: str | None = None) -> None:
        """Publish ``metrics`` (built with ``metric``) as NDATA, or DDATA of ``device``, with
        the next ``seq``. Only while born: the caller checks ``born``."""
        data = Payload(timestamp=ts_ms, seq=self._next_seq())
        data.metrics.extend(metrics)
        self._publish(self.topic("NDATA" if device is None else "DDATA", device), data)

    def device_death(self, device: str, ts_ms: int) -> None:
        """DDEATH: the station was taken out."""
        self._publish(self.topic("DDEATH", device), Payload(timestamp=ts_ms, seq=self._next_seq()))

    def _publish_dbirth(self, device: str, now: int) -> None:
        dev = self.devices[device]
        dbirth = Payload(timestamp=now, seq=self._next_seq())
        for name, datatype in dev.types.items():
            alias, value = dev.aliases[name], dev.values[name]
            dbirth.metrics.append(metric(alias, datatype, value, now, name, unit_of(name)))
        self._publish(self.topic("DBIRTH", device), dbirth)

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq

    def _publish(self, topic: str, payload: Any) -> None:
        self.send(topic, payload.SerializeToString(), 0)

    def on_ncmd(self, payload: bytes) -> None:
        """An NCMD: ``Node Control/Rebirth`` true publishes the births again; command metrics
        (``Command/SpeedFactor``) go to ``on_command``; anything else is logged and ignored."""
        cmd = _parse(payload, "NCMD")
        for m in cmd.metrics if cmd is not None else ():
            name = _name_of(m, self.node.aliases)
            if name == REBIRTH:
                if m.WhichOneof("value") == "boolean_value" and m.boolean_value:
                    logger.info("Sparkplug: rebirth of %s requested", self.edge_node)
                    if self.born or self.primary_host is None or self.host_online:
                        self.birth()
                else:
                    logger.warning(
                        "Sparkplug: %s of %s must be Boolean true", REBIRTH, self.edge_node
                    )
                continue
            self._command(None, name, m, NODE_COMMANDS)

    def on_dcmd(self, device: str, payload: bytes) -> None:
        """A DCMD of ``device``: its command metrics go to ``on_command``."""
        if device not in self.devices:
            logger.warning("Sparkplug: DCMD for unknown device %r of %s", device, self.edge_node)
            return
        cmd = _parse(payload, "DCMD")
        for m in cmd.metrics if cmd is not None else ():
            self._command(device, _name_of(m, self.devices[device].aliases), m, DEVICE_COMMANDS)

    def _command(
        self, device: str | None, name: str | None, m: Any, known: tuple[str, ...]
    ) -> None:
        if name not in known or self.on_command is None:
            logger.warning("Sparkplug: command metric %r of %s ignored", name, device or "node")
            return
        field_name = m.WhichOneof("value")
        self.on_command(device, name, getattr(m, field_name) if field_name else None)


def _parse(payload: bytes, kind: str) -> Any:
    """A Sparkplug payload, or None (logged) if the bytes are not one."""
    cmd = Payload()
    try:
        cmd.ParseFromString(payload)
    except Exception:  # protobuf's DecodeError; a bad command is ignored, not fatal
        logger.warning("Sparkplug: %s is not a Sparkplug B payload", kind)
        return None
    return cmd


def _name_of(m: Any, aliases: dict[str, int]) -> str | None:
    """A command metric's name: its own, or the one its alias was born with."""
    if m.name:
        return m.name
    return next((n for n, a in aliases.items() if a == m.alias), None)


def _initial(datatype: DataType) -> Any:
    if datatype == DataType.STRING:
        return ""
    if datatype == DataType.DOUBLE:
        return 0.0
    if datatype == DataType.BOOLEAN:
        return False
    return 0


def _station_values(record: Record, dev: _Values) -> dict[str, Any]:
    if isinstance(record, StateChange):
        info = STATE_INFO[record.state]
        out: dict[str, Any] = {
            "State": record.state.value,
            "State/Number": info.number,
            "State/Reason": record.reason or "",
            "Machinery/ItemState": info.machinery_item_state,
            "Machinery/OperationMode": info.operation_mode,
            "Process/Power": record.power_kw,
        }
        if record.product is not None:
            out["Production/Product"] = record.product
        return out
    if isinstance(record, PartDone):
        key = {"good": "Production/Good", "scrap": "Production/Scrap"}.get(
            record.result, "Production/Rework"
        )
        return {
            key: dev.values[key] + 1,
            "Production/Product": record.product,
            "Production/Order": record.order_id or "",
            "Production/LastCycleTime": record.cycle_time_s,
        }
    if isinstance(record, ProcessSample):
        return {
            "Process/Temperature": record.temperature_c,
            "Process/Power": record.power_kw,
            "Process/EnergyTotal": record.energy_kwh,
            "Process/SpeedFactor": record.speed_factor,
        }
    return {}


def _line_values(record: Record, node: _Values) -> dict[str, Any]:
    if isinstance(record, BufferLevel):
        return {f"Buffers/{record.buffer}/Level": record.level}
    if isinstance(record, PartReleased):
        return {"Flow/Released": node.values["Flow/Released"] + 1}
    if isinstance(record, PartLeft):
        key = "Flow/Finished" if record.outcome == "finished" else "Flow/Scrapped"
        return {key: node.values[key] + 1}
    return {}
