"""A small asyncua server that emits record events like the live twin, and can be restarted.

Objects/Machines/<station> objects and a ``TwinRecordEventType`` (``Payload``: the record JSON)
emitted from the Server object, in its own thread and event loop. ``emit(payloads)`` triggers one
event per payload; ``stop()`` and ``start()`` restart it on the same port (a new address space,
as after a server process restart).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from asyncua import Server, ua

from plant_sim.naming import NAMESPACE_URI


class RecordEventServer:
    """OPC UA server on ``opc.tcp://127.0.0.1:<port>/twin/`` emitting record events."""

    def __init__(self, port: int, stations: Sequence[str] = ("s1",)) -> None:
        self.port = port
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/twin/"
        self.stations = list(stations)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._gen = None
        self._stopped: asyncio.Event | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server thread; return when it serves."""
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main(ready)), daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise RuntimeError("OPC UA test server did not start")

    def stop(self) -> None:
        """Stop the server (clients see the connection drop)."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._thread = None

    def emit(self, bodies: Sequence[bytes]) -> None:
        """Emit one record event per payload, in order; return when all were triggered."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._emit(bodies), self._loop).result(timeout=120)

    async def _emit(self, bodies: Sequence[bytes]) -> None:
        assert self._gen is not None
        for i, body in enumerate(bodies):
            self._gen.event.Payload = body.decode()
            await self._gen.trigger()
            if i % 50 == 49:
                await asyncio.sleep(0)  # let the publish loop run

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        idx = await server.register_namespace(NAMESPACE_URI)
        machines = await server.nodes.objects.add_folder(idx, "Machines")
        for station in self.stations:
            await machines.add_object(idx, station)
        etype = await server.create_custom_event_type(
            idx,
            "TwinRecordEventType",
            ua.ObjectIds.BaseEventType,
            [("Payload", ua.VariantType.String)],
        )
        self._gen = await server.get_event_generator(etype, server.nodes.server)
        async with server:
            self._server = server
            ready.set()
            await self._stopped.wait()
        self._server = None
