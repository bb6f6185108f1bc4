"""A Sparkplug B 3.0 edge node on a paho client: one line, its stations as devices.

Topic map (ISA-95 -> Sparkplug): group_id = ``{enterprise}_{site}_{area}`` (a group id cannot
hold ``/``), edge_node_id = the line, device_id = the station:
``spBv1.0/acme_plant1_bottling/DDATA/line1/filler``.

Session (Sparkplug 3.0 chapter 5): ``prepare()`` registers the NDEATH as the MQTT will (QoS 1,
not retained) carrying the ``bdSeq`` of the NBIRTH that follows; call it before each connect
(``bdSeq`` counts connects, 0-255). ``birth()`` (after connecting) subscribes to NCMD/DCMD at
QoS 1 and publishes NBIRTH (``seq`` 0, ``bdSeq``, ``Node Control/Rebirth`` false, the line's
metrics) and one DBIRTH per station with every metric, its name, alias and datatype.
``apply(record)`` turns a twin record into DDATA (or NDATA for line metrics) carrying only the
changed metrics, by alias. Every message after NBIRTH increments ``seq`` (wrapping 255 -> 0). An
NCMD writing ``Node Control/Rebirth`` true publishes the births again. Data are QoS 0, not
retained. Payloads: ``twin_io.sparkplug_payload`` (protobuf).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

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
COMMAND_METRICS = ("Command/InjectFailure", "Command/ClearFailure", "Command/SpeedFactor")
LINE_METRICS: dict[str, DataType] = {
    "Flow/Released": DataType.UINT64,
    "Flow/Finished": DataType.UINT64,
    "Flow/Scrapped": DataType.UINT64,
    "Command/SpeedFactor": DataType.DOUBLE,  # NCMD: the twin's speed factor (whole plant)
}


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
    """See the module docstring. ``clock_ms`` gives the timestamps of births and commands."""

    def __init__(
        self,
        client: mqtt.Client,
        group: str,
        line: LineInfo,
        clock_ms: Callable[[], int],
    ) -> None:
        self.client = client
        self.group = group
        self.edge_node = line.id
        self.clock_ms = clock_ms
        self.bd_seq = -1
        self.seq = 0
        self._lock = threading.Lock()
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
        self.out: set[str] = set()
        """Stations taken out (DDEATH sent, data held until their DBIRTH)."""
        self.primary_host: str | None = None
        """With a primary host id: births only once its STATE says online (Sparkplug 3.0)."""
        self.on_command: Callable[[str | None, str, Any], None] | None = None
        """Called with (device or None, metric name, value) for each command metric."""

    def topic(self, kind: str, device: str | None = None) -> str:
        """``spBv1.0/{group}/{kind}/{edge node}[/{device}]``."""
        base = f"{NAMESPACE}/{self.group}/{kind}/{self.edge_node}"
        return f"{base}/{device}" if device else base

    def prepare(self) -> None:
        """Set the NDEATH will with the next ``bdSeq``; call before every connect."""
        self.bd_seq = (self.bd_seq + 1) % 256
        death = Payload(timestamp=self.clock_ms())
        death.metrics.append(
            metric(
                self.node.aliases["bdSeq"], DataType.INT64, self.bd_seq, death.timestamp, "bdSeq"
            )
        )
        self.client.will_set(self.topic("NDEATH"), death.SerializeToString(), qos=1, retain=False)

    def connected(self) -> None:
        """After each connect: births now, or when the primary host says it is online."""
        self.born = False
        if self.primary_host is None:
            self.birth()
            return
        topic = f"{NAMESPACE}/STATE/{self.primary_host}"
        self.client.message_callback_add(topic, self._on_state)
        self.client.subscribe(topic, qos=1)

    def _on_state(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """Sparkplug 3.0 STATE ``{"online": bool, "timestamp": ms}`` of the primary host."""
        try:
            state = json.loads(msg.payload)
            online = state["online"] is True
        except (ValueError, TypeError, KeyError):
            logger.warning("Sparkplug: STATE on %s is not {online, timestamp}", msg.topic)
            return
        if online and not self.born:
            self.birth()
        elif not online:
            self.born = False  # data wait for the host; it gets births when it is back
            logger.info("Sparkplug: primary host %s offline", self.primary_host)

    def birth(self) -> None:
        """Subscribe to commands; publish NBIRTH and every DBIRTH (seq restarts at 0)."""
        self.client.subscribe([(self.topic("NCMD"), 1), (self.topic("DCMD", "+"), 1)])
        self.client.message_callback_add(self.topic("NCMD"), self._on_ncmd)
        self.client.message_callback_add(self.topic("DCMD", "+"), self._on_dcmd)
        with self._lock:
            now = self.clock_ms()
            self.seq = 0
            nbirth = Payload(timestamp=now, seq=0)
            values = {**self.node.values, "bdSeq": self.bd_seq, REBIRTH: False}
            for name, datatype in self.node.types.items():
                nbirth.metrics.append(
                    metric(self.node.aliases[name], datatype, values[name], now, name)
                )
            self._publish(self.topic("NBIRTH"), nbirth)
            for device in self.devices:
                if device not in self.out:
                    self._publish_dbirth(device, now)
            self.births += 1
            self.born = True

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
            with self._lock:
                self._publish_dbirth(device, ts_ms)

    def update(self, device: str | None, values: dict[str, Any], ts_ms: int) -> None:
        """Report by exception: publish the values that differ from the last ones."""
        target = self.node if device is None else self.devices[device]
        with self._lock:
            changed = {
                k: v for k, v in values.items() if k in target.types and target.values.get(k) != v
            }
            if not changed:
                return
            target.values.update(changed)
            if not self.born or device in self.out:
                return  # the next births carry the values
            data = Payload(timestamp=ts_ms, seq=self._next_seq())
            for name, value in changed.items():
                data.metrics.append(metric(target.aliases[name], target.types[name], value, ts_ms))
            kind = "NDATA" if device is None else "DDATA"
            self._publish(self.topic(kind, device), data)

    def device_death(self, device: str, ts_ms: int) -> None:
        """DDEATH: the station was taken out."""
        with self._lock:
            death = Payload(timestamp=ts_ms, seq=self._next_seq())
            self._publish(self.topic("DDEATH", device), death)

    def _publish_dbirth(self, device: str, now: int) -> None:
        dev = self.devices[device]
        dbirth = Payload(timestamp=now, seq=self._next_seq())
        for name, datatype in dev.types.items():
            dbirth.metrics.append(metric(dev.aliases[name], datatype, dev.values[name], now, name))
        self._publish(self.topic("DBIRTH", device), dbirth)

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq

    def _publish(self, topic: str, payload: Any) -> None:
        self.client.publish(topic, payload.SerializeToString(), qos=0, retain=False)

    def _on_ncmd(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        cmd = Payload()
        try:
            cmd.ParseFromString(msg.payload)
        except Exception:  # protobuf's DecodeError; a bad command is ignored, not fatal
            logger.warning("Sparkplug: NCMD on %s is not a Sparkplug B payload", msg.topic)
            return
        for m in cmd.metrics:
            name = _name_of(m, self.node.aliases)
            if name == REBIRTH and m.WhichOneof("value") == "boolean_value" and m.boolean_value:
                logger.info("Sparkplug: rebirth requested on %s", msg.topic)
                self.birth()
                return
            self._command(None, name, m)

    def _on_dcmd(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        device = msg.topic.rsplit("/", 1)[-1]
        cmd = Payload()
        try:
            cmd.ParseFromString(msg.payload)
        except Exception:  # protobuf's DecodeError
            logger.warning("Sparkplug: DCMD on %s is not a Sparkplug B payload", msg.topic)
            return
        if device not in self.devices:
            logger.warning("Sparkplug: DCMD for unknown device %r", device)
            return
        for m in cmd.metrics:
            self._command(device, _name_of(m, self.devices[device].aliases), m)

    def _command(self, device: str | None, name: str | None, m: Any) -> None:
        if name not in COMMAND_METRICS or self.on_command is None:
            logger.warning("Sparkplug: command metric %r of %s ignored", name, device or "node")
            return
        field_name = m.WhichOneof("value")
        self.on_command(device, name, getattr(m, field_name) if field_name else None)


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
