"""The twin's OPC UA server browsed by node-opcua, a stack the twin does not use.

The node client knows only OPC 40001-1: it browses the standard ``Machines`` folder, reads the
HasTypeDefinition of each machine's AddIns and the state machines' ``CurrentState/Id``. Every
NodeId is compared by namespace URI, never by index.
"""

from __future__ import annotations

import asyncio

import pytest

from plant_sim.live.opcua_server import OpcUaSettings
from plant_sim.live.service import LiveConfig
from plant_sim.records import StateChange
from plant_sim.scenario import Scenario
from plant_sim.simulation import run_batch
from plant_sim.states import STATE_INFO
from tests.interop.conftest import run_node
from tests.live.helpers import launch
from tests.servers.mosquitto import free_port

pytestmark = pytest.mark.integration
M = "http://opcfoundation.org/UA/Machinery/"
DI = "http://opcfoundation.org/UA/DI/"
UNTIL = 6.5 * 3600
# Standard NodeIds (Opc.Ua.Machinery.NodeSet2.xml)
ITEM_STATES = {0: 5005, 1: 5004, 2: 5007, 3: 5006}  # NotAvailable, OutOfService, ...
MODES = {0: 5024, 1: 5025, 2: 5027, 3: 5026}  # None, Maintenance, Setup, Processing


async def test_node_opcua_finds_machines_by_standard_types(
    bottling: Scenario, node_stack: object
) -> None:
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/twin/"
    config = LiveConfig(
        speed=1e5, seed=5, until_s=UNTIL, opcua=OpcUaSettings(endpoint=endpoint), mqtt=None
    )
    gate, linger = asyncio.Event(), asyncio.Event()
    task, runner = await launch(bottling, config, gate, linger)
    try:
        gate.set()
        await asyncio.wait_for(runner.done.wait(), 60)
        seen = await asyncio.to_thread(run_node, node_stack / "browse_machines.js", endpoint)
    finally:
        linger.set()
        await task
    last = {}
    for rec in run_batch(bottling, UNTIL, seed=5).records:
        if isinstance(rec, StateChange):
            last[rec.station] = STATE_INFO[rec.state]
    assert seen["machines_type"] == "nsu=http://opcfoundation.org/UA/;i=61"  # FolderType
    machines = {m["browse_name"]: m for m in seen["machines"]}
    assert sorted(machines) == sorted(s.id for s in bottling.lines[0].stations)
    for name, machine in machines.items():
        children = machine["children"]
        assert children[f"{DI}:Identification"] == f"nsu={M};i=1012", name
        assert children[f"{M}:MachineryItemState"] == f"nsu={M};i=1002", name
        assert children[f"{M}:MachineryOperationMode"] == f"nsu={M};i=1008", name
        assert children[f"{DI}:OperationCounters"] == f"nsu={M};i=1009", name
        assert machine["manufacturer"]
        info = last[name]
        item, mode = machine["item_state"], machine["operation_mode"]
        assert item["number"] == info.machinery_item_state, name
        assert item["id"] == f"nsu={M};i={ITEM_STATES[info.machinery_item_state]}", name
        assert item["id_browse_name"] == item["current"] == info.machinery_item_state_name
        assert item["id_state_number"] == item["number"]
        assert mode["id"] == f"nsu={M};i={MODES[info.operation_mode]}", name
        assert mode["id_browse_name"] == mode["current"] == info.operation_mode_name
        assert mode["id_state_number"] == mode["number"] == info.operation_mode
