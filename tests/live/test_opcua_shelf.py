"""The cached standard address space (``opcua_shelf``): same nodes, NodeIds and values."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from asyncua import Server, ua

from plant_sim.live import opcua_shelf
from plant_sim.live.layout import PlantLayout
from plant_sim.live.opcua_server import OpcUaSettings, TwinOpcUaServer
from plant_sim.scenario import Scenario
from tests.servers.mosquitto import free_port

pytestmark = pytest.mark.integration
#: Values that change by themselves: the server's status and build date (ns 0).
_CLOCK_VALUES = {
    ua.NodeId(i)
    for i in (
        ua.ObjectIds.Server_ServerStatus,
        ua.ObjectIds.Server_ServerStatus_StartTime,
        ua.ObjectIds.Server_ServerStatus_CurrentTime,
        ua.ObjectIds.Server_ServerStatus_BuildInfo,
        ua.ObjectIds.Server_ServerStatus_BuildInfo_BuildDate,
    )
}


async def _address_space(layout: PlantLayout, cache_dir: Path | None) -> dict[str, object]:
    """Every node reachable from Root by forward references: its references and value.

    Read inside the server (its internal session), as a client's browse of 7,000 nodes takes
    far longer; what a client sees is these same nodes.
    """
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/twin/"
    async with TwinOpcUaServer(
        layout, OpcUaSettings(endpoint=endpoint, cache_dir=cache_dir)
    ) as twin:
        server = twin._server
        assert server is not None
        seen: dict[str, object] = {}
        todo = [ua.NodeId(ua.ObjectIds.RootFolder)]
        queued = set(todo)
        while todo:
            node_id = todo.pop()
            refs = await server.get_node(node_id).get_references(
                refs=ua.NodeId(), direction=ua.BrowseDirection.Both, includesubtypes=False
            )
            value = server.read_attribute_value(node_id)
            seen[node_id.to_string()] = (
                sorted(
                    (
                        r.ReferenceTypeId.to_string(),
                        r.IsForward,
                        r.NodeId.to_string(),
                        r.BrowseName.to_string(),
                        str(r.DisplayName.Text),
                        int(r.NodeClass),
                        r.TypeDefinition.to_string(),
                    )
                    for r in refs
                ),
                value.StatusCode.value if value.StatusCode else None,
                None if node_id in _CLOCK_VALUES else value.Value,
            )
            for r in refs:
                if r.IsForward and r.NodeId not in queued:
                    queued.add(r.NodeId)
                    todo.append(r.NodeId)
    return seen


async def test_cached_address_space_is_the_built_one(
    bottling: Scenario, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layout = PlantLayout.from_scenario(bottling)
    caplog.set_level(logging.DEBUG, logger=opcua_shelf.__name__)
    built = await _address_space(layout, None)
    await opcua_shelf.init_server(Server(), tmp_path)  # makes the shelf
    assert "address-space cache written" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # noqa: ASYNC240
        opcua_shelf.shelf_path(tmp_path).parent.name
    ]
    caplog.clear()
    cached = await _address_space(layout, tmp_path)  # loads nodes from it
    assert "from the cache" in caplog.text
    assert len(built) > 6000
    assert cached == built


async def _serves_the_standard_space(server: Server) -> bool:
    """The server's standard nodes are there: the Server object's capabilities, for one."""
    caps = server.get_node(ua.NodeId(ua.ObjectIds.Server_ServerCapabilities))
    return len(await caps.get_children()) > 5


async def test_two_first_starts_at_once_publish_one_whole_cache(tmp_path: Path) -> None:
    servers = [Server(), Server()]
    await asyncio.gather(*(opcua_shelf.init_server(s, tmp_path) for s in servers))
    for server in servers:  # both usable, whichever published
        assert await _serves_the_standard_space(server)
    names = sorted(p.name for p in tmp_path.iterdir())  # noqa: ASYNC240
    assert names == [opcua_shelf.shelf_path(tmp_path).parent.name]  # no half-made leftovers
    again = Server()
    await opcua_shelf.init_server(again, tmp_path)  # the published one loads
    assert await _serves_the_standard_space(again)


async def test_without_a_usable_cache_directory_the_server_starts_uncached(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    caplog.set_level(logging.INFO, logger=opcua_shelf.__name__)
    server = Server()
    await opcua_shelf.init_server(server, blocker / "cache")
    assert "address-space cache off" in caplog.text
    assert await _serves_the_standard_space(server)
