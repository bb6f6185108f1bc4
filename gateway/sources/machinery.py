"""OPC UA source for any OPC 40001-1 (Machinery) server: machines the twin did not simulate.

With ``opcua_mapping`` set, the gateway does not look for the twin's record events: it browses
the server's standard ``Machines`` folder (Machinery i=1001), finds the machines the mapping file
names, reads and then subscribes to each one's ``MachineryItemState`` and
``MachineryOperationMode`` (``CurrentState/Id``, whose ``StateNumber`` gives the state) and the
mapped counters, and turns every change into the twin's records (``gateway.machinery_map``):
the same payloads as the twin's own, so storage, KPIs and dashboards work unchanged.

Times are the values' SourceTimestamps (else ServerTimestamps, else the gateway's clock). The
run starts at the latest timestamp of the values read at the first connect, with run id
``<mapping run_id>-<start ms>``; a reconnect continues the run (counters catch up, state
changes while disconnected are lost but the current state is read again).
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncua import Client, Node, ua

from gateway.errors import SourceError
from gateway.machinery_map import MachineMap, MachineryTranslator, Mapping, load_mapping
from gateway.normalize import RawMessage
from gateway.settings import GatewaySettings
from gateway.sources.base import put
from gateway.sources.opcua import OpcUaSource, disconnect_client
from plant_sim import payloads
from plant_sim.records import Record

logger = logging.getLogger(__name__)
MACHINERY_URI = "http://opcfoundation.org/UA/Machinery/"
MACHINES = 1001
STATE_MACHINE_TYPES = (1002, 1008)  # MachineryItemState_, MachineryOperationModeStateMachineType
_STATE_MACHINES = {"item_state": "MachineryItemState", "mode": "MachineryOperationMode"}

FLUSH_DELAY_S = 0.05
"""Queued values are translated in timestamp order this long after the first of a batch
arrives (a publish delivers each monitored item's changes together, not interleaved in time)."""


@dataclass(frozen=True, slots=True)
class Watch:
    """A watched value: a machine's state machine ("item_state" | "mode") or counter."""

    machine: str
    kind: str  # "state" | "counter"
    key: str


class MachinerySource(OpcUaSource):
    """Reads a standard Machinery server under a mapping file (see the module docstring)."""

    def __init__(self, settings: GatewaySettings, intake: queue.Queue[RawMessage]) -> None:
        super().__init__(settings, intake)
        assert settings.opcua_mapping is not None
        self.mapping: Mapping = load_mapping(settings.opcua_mapping)
        self.translator: MachineryTranslator | None = None
        self._state_numbers: dict[ua.NodeId, int] = {}
        self._last: dict[ua.NodeId, tuple[Any, Any]] = {}
        self._pending: list[tuple[int, int, Watch, Any]] = []
        self._arrivals = 0
        self._flush_handle: asyncio.TimerHandle | None = None

    async def _session(self, first: threading.Event) -> None:
        assert self._wake is not None
        client = Client(self.endpoint, timeout=self.settings.opcua_timeout_s)
        lost = asyncio.Event()

        async def on_lost(exc: Exception) -> None:
            lost.set()
            self._wake.set()  # type: ignore[union-attr]

        client.connection_lost_callback = on_lost
        await client.connect()
        try:
            watches = await self._watches(client)
            nodes = [client.get_node(nid) for nid in watches]
            values = await client.read_attributes(nodes)
            if self.translator is None:
                stamps = [ms for ms in map(_ms, values) if ms is not None]
                start = max(stamps) if stamps else round(time.time() * 1000)
                self.translator = MachineryTranslator(self.mapping, start, self.endpoint)
                self._emit([self.translator.run_start()])
                logger.info("Machinery %s: run %s", self.endpoint, self.translator.run_id)
            for node, dv in zip(nodes, values, strict=True):
                self.on_value(watches[node.nodeid], node.nodeid, dv)
            self._flush()
            await self._subscribe(client, watches, nodes)
            first.set()
            await self._serve_until_lost(lost)
        finally:
            await disconnect_client(client)

    async def _subscribe(
        self, client: Client, watches: dict[ua.NodeId, Watch], nodes: list[Node]
    ) -> None:
        interval = self.settings.opcua_publishing_interval_ms
        keepalive = max(20, math.ceil(self.settings.opcua_timeout_s * 1000 / interval))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=interval,
            RequestedLifetimeCount=keepalive * 10,
            RequestedMaxKeepAliveCount=keepalive,
            MaxNotificationsPerPublish=0,
        )
        sub = await client.create_subscription(params, _DataHandler(self, watches))
        await sub.subscribe_data_change(nodes, queuesize=self.settings.opcua_queue_size)
        self.subscriptions += 1
        self.subscribed.set()
        logger.info(
            "Machinery %s: %d machines, %d values subscribed",
            self.endpoint,
            len(self.mapping.machines),
            len(nodes),
        )

    async def _watches(self, client: Client) -> dict[ua.NodeId, Watch]:
        """Browse Machines; return the values to watch."""
        try:
            m = await client.get_namespace_index(MACHINERY_URI)
        except ValueError as exc:
            raise SourceError("not an OPC 40001-1 server: no Machinery namespace") from exc
        await self._cache_state_numbers(client, m)
        machines = client.get_node(ua.NodeId(MACHINES, m))
        found = {
            (await child.read_browse_name()).Name: child
            for child in await machines.get_children(
                refs=ua.ObjectIds.HierarchicalReferences, nodeclassmask=ua.NodeClass.Object
            )
        }
        wanted = self.mapping.by_machine()
        missing = sorted(set(wanted) - set(found))
        if missing:
            raise SourceError(f"machines {missing} of the mapping are not in Machines")
        ignored = sorted(set(found) - set(wanted))
        if ignored:
            logger.warning("Machinery %s: machines not in the mapping: %s", self.endpoint, ignored)
        watches: dict[ua.NodeId, Watch] = {}
        for name, entry in wanted.items():
            await self._machine_watches(client, m, found[name], entry, watches)
        return watches

    async def _machine_watches(
        self,
        client: Client,
        m: int,
        machine: Node,
        entry: MachineMap,
        watches: dict[ua.NodeId, Watch],
    ) -> None:
        name = entry.machine
        for key, addin in _STATE_MACHINES.items():
            node = await _state_id_node(machine, m, addin)
            if node is None:
                if key == "item_state":
                    raise SourceError(f"machine {name!r}: no MachineryItemState/CurrentState/Id")
                continue  # MachineryOperationMode is optional: mode None
            watches[node.nodeid] = Watch(name, "state", key)
        for result, path in entry.counters.items():
            try:
                elements = [f"{await client.get_namespace_index(uri)}:{n}" for uri, n in path]
                node = await machine.get_child(elements)
            except (ValueError, ua.UaError) as exc:
                raise SourceError(
                    f"machine {name!r}: counter {result} not found ({exc}; mapping "
                    f"machines.counters.{result})"
                ) from exc
            watches[node.nodeid] = Watch(name, "counter", result)

    async def _cache_state_numbers(self, client: Client, m: int) -> None:
        """StateNumber of every state of the two standard state-machine types."""
        for type_id in STATE_MACHINE_TYPES:
            fsm_type = client.get_node(ua.NodeId(type_id, m))
            for child in await fsm_type.get_children(
                refs=ua.ObjectIds.HasComponent, nodeclassmask=ua.NodeClass.Object
            ):
                try:
                    number = await (await child.get_child("0:StateNumber")).read_value()
                except ua.UaError:
                    continue  # a transition, not a state
                self._state_numbers[child.nodeid] = int(number)

    def on_value(self, watch: Watch, nodeid: ua.NodeId, dv: Any) -> None:
        """Queue one value (a repeat of the value last seen for the node is dropped)."""
        if not isinstance(dv, ua.DataValue) or (dv.StatusCode and not dv.StatusCode.is_good()):
            return
        key = (dv.Value.Value if dv.Value is not None else None, _ms(dv))
        if self._last.get(nodeid) == key:
            return
        self._last[nodeid] = key
        self._arrivals += 1
        self._pending.append((_ms_or_now(dv), self._arrivals, watch, key[0]))

    def schedule_flush(self) -> None:
        """Translate the queued values a moment after the first of a batch (client loop)."""
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_later(FLUSH_DELAY_S, self._flush)

    def _flush(self) -> None:
        """Translate the queued values in timestamp order; one state update per machine and
        timestamp (MachineryItemState and OperationMode changed together count once)."""
        assert self.translator is not None
        self._flush_handle = None
        pending, self._pending = sorted(self._pending, key=lambda p: p[:2]), []
        states: dict[str, int] = {}
        for i, (ts_ms, _n, watch, value) in enumerate(pending):
            if watch.kind == "counter":
                self._emit(self._count(watch, value, ts_ms))
                continue
            number = self._state_numbers.get(value) if isinstance(value, ua.NodeId) else None
            if number is None:
                logger.warning(
                    "machine %s: %s %r is no known state", watch.machine, watch.key, value
                )
            else:
                states[watch.key] = number
            nxt = pending[i + 1] if i + 1 < len(pending) else None
            same = nxt is not None and (nxt[0], nxt[2].machine, nxt[2].kind) == (
                ts_ms,
                watch.machine,
                "state",
            )
            if not same and states:
                self._emit(self.translator.state(watch.machine, ts_ms, **states))
                states = {}

    def _count(self, watch: Watch, value: Any, ts_ms: int) -> list[Record]:
        assert self.translator is not None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            logger.warning("machine %s: counter %s %r is no count", watch.machine, watch.key, value)
            return []
        return self.translator.counter(watch.machine, watch.key, int(value), ts_ms)

    def _emit(self, records: list[Record]) -> None:
        assert self.translator is not None
        for rec in records:
            data = payloads.encode(rec, self.translator.run_id, self.translator.start_epoch_ms)
            raw = RawMessage(self.name, data, None, False, time.time_ns())
            put(self.intake, raw, self._stopping)


class _DataHandler:
    def __init__(self, source: MachinerySource, watches: dict[ua.NodeId, Watch]) -> None:
        self.source = source
        self.watches = watches

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self.source.on_value(self.watches[node.nodeid], node.nodeid, data.monitored_item.Value)
        self.source.schedule_flush()

    def status_change_notification(self, status: Any) -> None:
        logger.info("OPC UA subscription status: %s", status)


async def _state_id_node(machine: Node, m: int, addin: str) -> Node | None:
    """``<addin>/CurrentState/Id`` of a machine, directly or in MachineryBuildingBlocks."""
    for prefix in ([], [f"{m}:MachineryBuildingBlocks"]):
        try:
            return await machine.get_child([*prefix, f"{m}:{addin}", "0:CurrentState", "0:Id"])
        except ua.UaError:
            continue
    return None


def _stamp(dv: ua.DataValue) -> datetime | None:
    return dv.SourceTimestamp or dv.ServerTimestamp


def _ms(dv: Any) -> int | None:
    stamp = _stamp(dv) if isinstance(dv, ua.DataValue) else None
    return round(stamp.timestamp() * 1000) if stamp is not None else None


def _ms_or_now(dv: ua.DataValue) -> int:
    ms = _ms(dv)
    return ms if ms is not None else round(time.time() * 1000)
