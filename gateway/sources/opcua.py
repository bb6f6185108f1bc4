"""OPC UA source: subscribes to the plant's record events over the Machines address space.

On connect it browses ``Objects/<Machines>`` for every object that notifies events (the folder,
each machine, their children) plus the Server object, finds the record event type by its browse
name under ``BaseEventType``, and subscribes to those events; each event's ``Payload`` property
holds the record's JSON (the same bytes as MQTT). When the connection is lost (server restart,
network) it disconnects, waits with backoff, connects again, browses again and resubscribes.
Events are deduplicated by ``EventId`` (a server that also forwards them to the Server object
sends each twice). Events the server emits while no subscription exists are not recovered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import queue
import threading
import time
from collections import OrderedDict
from typing import Any

from asyncua import Client, Node, ua

from gateway.errors import SourceError
from gateway.normalize import RawMessage
from gateway.settings import GatewaySettings
from gateway.sources.base import put, wait_or_stop
from twin_io.retry import Backoff
from twin_io.stop_signals import process_stop_requested

logger = logging.getLogger(__name__)
_SEEN_EVENT_IDS = 100_000


def _reason(exc: BaseException) -> str:
    """What went wrong, never an empty text (a timeout's own text is empty)."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no answer (timed out)"
    return str(exc) or type(exc).__name__


class OpcUaSource:
    """Runs an asyncua client in its own thread and event loop."""

    name = "opcua"

    def __init__(self, settings: GatewaySettings, intake: queue.Queue[RawMessage]) -> None:
        self.settings = settings
        self.endpoint = settings.opcua_endpoint or ""
        self.intake = intake
        self._stopping = threading.Event()
        self.subscribed = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self.subscriptions = 0

    def start(self, require: bool) -> None:
        """Start the client thread; with ``require``, fail if the first connect fails."""
        first = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main(first, errors)), name="gateway-opcua", daemon=True
        )
        self._thread.start()
        wait_or_stop(first, 60.0)
        if process_stop_requested() and not self.subscribed.is_set():
            logger.info("stop requested while connecting to OPC UA server %s", self.endpoint)
            return  # the gateway stops next: not a failure to connect
        if require and errors:
            self.stop()
            raise SourceError(
                f"OPC UA server {self.endpoint} (setting opcua_endpoint): {_reason(errors[0])}"
            ) from errors[0]

    def pause(self) -> None:
        """Nothing to do (OPC UA events have no acknowledgement to wait for)."""

    def stop(self) -> None:
        """Disconnect and end the thread."""
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            # a second stop (the gateway stops a source whose start failed and stopped it)
            # finds the thread's loop closed: nothing left to wake
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _main(self, first: threading.Event, errors: list[BaseException]) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        backoff = Backoff()
        while not self._stopping.is_set():
            delay = 0.0
            try:
                await self._session(first)
                backoff.reset()
            except (TimeoutError, OSError, ua.UaError, ConnectionError, SourceError) as exc:
                if not first.is_set():
                    errors.append(exc)
                    first.set()
                delay = backoff.next_delay()
                logger.warning(
                    "OPC UA %s: %s; reconnecting in %.1f s", self.endpoint, _reason(exc), delay
                )
            self.subscribed.clear()
            if self._stopping.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay or backoff.initial_s)

    async def _session(self, first: threading.Event) -> None:
        assert self._wake is not None
        client = Client(
            self.endpoint,
            timeout=self.settings.opcua_timeout_s,
            watchdog_intervall=self.settings.opcua_timeout_s,
        )
        lost = asyncio.Event()

        async def on_lost(exc: Exception) -> None:
            lost.set()
            self._wake.set()  # type: ignore[union-attr]

        client.connection_lost_callback = on_lost
        await client.connect()
        try:
            etype = await find_event_type(client, self.settings.opcua_event_type)
            notifiers = await find_notifiers(
                client, self.settings.opcua_machines_folder, self.settings.opcua_event_scope
            )
            interval_ms = self.settings.opcua_publishing_interval_ms
            # keep-alive long enough that a busy server is not taken for a dead subscription
            keepalive = max(20, math.ceil(self.settings.opcua_timeout_s * 1000 / interval_ms))
            params = ua.CreateSubscriptionParameters(
                RequestedPublishingInterval=interval_ms,
                RequestedLifetimeCount=keepalive * 10,
                RequestedMaxKeepAliveCount=keepalive,
                MaxNotificationsPerPublish=0,
            )
            sub = await client.create_subscription(params, _Handler(self))
            for node in notifiers:
                await sub.subscribe_events(node, etype, queuesize=self.settings.opcua_queue_size)
            await self._read_run_start(client)
            self.subscriptions += 1
            self.subscribed.set()
            first.set()
            logger.info(
                "OPC UA %s: subscribed to events of %d nodes", self.endpoint, len(notifiers)
            )
            await self._serve_until_lost(lost)
        finally:
            await disconnect_client(client)

    async def _serve_until_lost(self, lost: asyncio.Event) -> None:
        """Wait, subscribed, until the gateway stops; a lost connection raises ConnectionError."""
        assert self._wake is not None
        self._wake.clear()
        while not lost.is_set() and not self._stopping.is_set():
            await self._wake.wait()
            self._wake.clear()
        if lost.is_set():
            raise ConnectionError("connection lost")

    async def _read_run_start(self, client: Client) -> None:
        """Hand the running run's run_start to the intake: events before the subscription are
        not delivered, and the gateway holds records of a run whose run_start it has not seen."""
        payload = await read_run_start(client)
        if payload:
            message = RawMessage(self.name, payload, None, True, time.time_ns())
            put(self.intake, message, self._stopping)

    def on_event(self, event: Any) -> None:
        """Hand one record event to the intake (called on the client's loop)."""
        event_id = getattr(event, "EventId", None)
        if isinstance(event_id, bytes):
            if event_id in self._seen:
                return
            self._seen[event_id] = None
            if len(self._seen) > _SEEN_EVENT_IDS:
                self._seen.popitem(last=False)
        payload = getattr(event, "Payload", None)
        if isinstance(payload, str):
            data = payload.encode(
                errors="surrogatepass"
            )  # lone surrogates: not JSON, a dead letter
        elif isinstance(payload, bytes):
            data = payload
        else:
            data = repr(payload).encode()
        put(self.intake, RawMessage(self.name, data, None, False, time.time_ns()), self._stopping)


class _Handler:
    def __init__(self, source: OpcUaSource) -> None:
        self.source = source

    def event_notification(self, event: Any) -> None:
        self.source.on_event(event)

    def status_change_notification(self, status: Any) -> None:
        logger.info("OPC UA subscription status: %s", status)


async def read_run_start(client: Client) -> bytes | None:
    """Return the twin's ``Simulator/RunStart`` value (a run_start payload), if it has one."""
    for node in await client.nodes.objects.get_children():
        name = await node.read_browse_name()
        if name.Name != "Simulator":
            continue
        try:
            var = await node.get_child(ua.QualifiedName("RunStart", name.NamespaceIndex))
            value = await var.read_value()
        except ua.UaError:
            return None  # not the twin, or an older one
        return value.encode() if isinstance(value, str) and value else None
    return None


async def find_event_type(client: Client, name: str) -> Node:
    """Return the event type node whose browse name is ``name`` (below BaseEventType)."""
    pending = [client.get_node(ua.ObjectIds.BaseEventType)]
    while pending:
        node = pending.pop(0)
        for child in await node.get_children(refs=ua.ObjectIds.HasSubtype):
            if (await child.read_browse_name()).Name == name:
                return child
            pending.append(child)
    raise SourceError(f"event type {name!r} not found (setting opcua_event_type)")


async def find_notifiers(client: Client, folder: str, scope: str = "server") -> list[Node]:
    """Return the nodes to subscribe to for record events.

    The machines folder must exist under Objects. ``scope="server"``: the Server object, to
    which the twin (like most servers) reports every event. ``scope="machines"``: every event
    notifier found by browsing the plant's objects below Objects (the machines folder, stations,
    lines, simulator; three levels), without the Server object.
    """
    tops = await client.nodes.objects.get_children(nodeclassmask=ua.NodeClass.Object)
    names = [(await child.read_browse_name()).Name for child in tops]
    if folder not in names:
        raise SourceError(
            f"folder {folder!r} not found under Objects (setting opcua_machines_folder)"
        )
    if scope == "server":
        return [client.nodes.server]
    found: list[Node] = []
    seen: set[ua.NodeId] = set()
    level = [n for n in tops if n.nodeid.NamespaceIndex != 0]
    for _depth in range(3):
        nxt = []
        for node in level:
            if node.nodeid in seen:
                continue
            seen.add(node.nodeid)
            if await _notifies(node):
                found.append(node)
            nxt += await node.get_children(
                refs=ua.ObjectIds.HierarchicalReferences, nodeclassmask=ua.NodeClass.Object
            )
        level = nxt
    return found


async def _notifies(node: Node) -> bool:
    try:
        notifier = await node.read_attribute(ua.AttributeIds.EventNotifier)
    except ua.UaError:
        return False
    value = notifier.Value.Value if notifier.Value is not None else 0
    return bool(int(value or 0) & (1 << ua.EventNotifier.SubscribeToEvents))  # a bit index


async def disconnect_client(client: Client) -> None:
    """Disconnect within 2 s, else drop the socket (the server may be gone)."""
    try:
        await asyncio.wait_for(client.disconnect(), timeout=2.0)
    except Exception:
        client.disconnect_socket()
