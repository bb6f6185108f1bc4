"""A small OPC 40001-1 server built only from the NodeSets: no twin code.

It loads the OPC Foundation's DI, IA and Machinery NodeSet2 files (the XML the repository
ships, read as plain files) into a bare asyncua server, adds machines to the standard
``Machines`` folder with asyncua's own ``instantiate`` of the standard types, plus two vendor
counters (Good, Scrap) per machine, and plays a script of state changes and counts with chosen
SourceTimestamps, as a real machine's server would report them.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asyncua import Node, Server, ua
from asyncua.common.instantiate_util import instantiate

NODESETS = Path(__file__).resolve().parents[2] / "plant_sim" / "live" / "nodesets"
FILES = ("Opc.Ua.Di.NodeSet2.xml", "Opc.Ua.IA.NodeSet2.xml", "Opc.Ua.Machinery.NodeSet2.xml")
MACHINERY = "http://opcfoundation.org/UA/Machinery/"
DI = "http://opcfoundation.org/UA/DI/"
VENDOR = "urn:acme:press"
ITEM_STATES = {"NotAvailable": 0, "OutOfService": 1, "NotExecuting": 2, "Executing": 3}
MODES = {"None": 0, "Maintenance": 1, "Setup": 2, "Processing": 3}


def _xml(name: str) -> str:
    """The NodeSet without DesignToolOnly placeholders (not part of an address space)."""
    root = ET.parse(NODESETS / name).getroot()
    for element in list(root):
        if element.get("DesignToolOnly") == "true":
            root.remove(element)
    ET.register_namespace("", "http://opcfoundation.org/UA/2011/03/UANodeSet.xsd")
    return ET.tostring(root, encoding="unicode")


class ScriptedMachine:
    """One machine's nodes and the writes of the script."""

    def __init__(self, server: Server, t0: datetime) -> None:
        self.server = server
        self.t0 = t0
        self.state_ids: dict[str, dict[str, ua.NodeId]] = {}
        self.fsm: dict[str, tuple[Node, Node]] = {}
        self.counters: dict[str, Node] = {}

    async def write(self, node: Node, value: ua.Variant, at_s: float) -> None:
        ts = self.t0 + timedelta(seconds=at_s)
        dv = ua.DataValue(value, SourceTimestamp=ts, ServerTimestamp=ts)
        await self.server.write_attribute_value(node.nodeid, dv)

    async def state(self, at_s: float, item: str | None = None, mode: str | None = None) -> None:
        for addin, name in (("MachineryItemState", item), ("MachineryOperationMode", mode)):
            if name is None:
                continue
            current, current_id = self.fsm[addin]
            await self.write(current, ua.Variant(ua.LocalizedText(name, "en")), at_s)
            await self.write(current_id, ua.Variant(self.state_ids[addin][name]), at_s)

    async def count(self, at_s: float, counter: str, value: int) -> None:
        await self.write(self.counters[counter], ua.Variant(value, ua.VariantType.UInt32), at_s)


class MachineryServer:
    """The server: ``await start()``, ``add_machine(name)``, then the script, ``await stop()``."""

    def __init__(self, endpoint: str, t0: datetime | None = None) -> None:
        self.endpoint = endpoint
        self.t0 = t0 or datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
        self.server = Server()
        self.m = self.di = self.vendor = 0

    async def start(self) -> None:
        await self.server.init()
        self.server.set_endpoint(self.endpoint)
        self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        logging.getLogger("asyncua.common.xmlimporter").setLevel(logging.ERROR)
        for name in FILES:
            await self.server.import_xml(xmlstring=_xml(name))
        self.m = await self.server.get_namespace_index(MACHINERY)
        self.di = await self.server.get_namespace_index(DI)
        self.vendor = await self.server.register_namespace(VENDOR)
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def node(self, number: int) -> Node:
        return self.server.get_node(ua.NodeId(number, self.m))

    async def add_machine(self, name: str) -> ScriptedMachine:
        """A machine in Machines with Identification, both state machines and two counters."""
        machines = self.node(1001)
        machine = await machines.add_object(self.vendor, name)  # Organizes: Machines is a folder
        scripted = ScriptedMachine(self.server, self.t0)
        await instantiate(  # mandatory properties: Manufacturer, SerialNumber, ...
            machine,
            self.node(1012),  # MachineIdentificationType
            bname=ua.QualifiedName("Identification", self.di),
            idx=self.vendor,
            instantiate_optional=False,
        )
        for addin, type_id in (("MachineryItemState", 1002), ("MachineryOperationMode", 1008)):
            created = await instantiate(
                machine,
                self.node(type_id),
                bname=ua.QualifiedName(addin, self.m),
                idx=self.vendor,
                instantiate_optional=False,
            )
            fsm = created[0]
            current = await fsm.get_child("0:CurrentState")
            scripted.fsm[addin] = (current, await current.get_child("0:Id"))
            scripted.state_ids[addin] = {}
            for state in await self.node(type_id).get_children(
                refs=ua.ObjectIds.HasComponent, nodeclassmask=ua.NodeClass.Object
            ):
                if await state.read_type_definition() == ua.NodeId(ua.ObjectIds.StateType):
                    scripted.state_ids[addin][(await state.read_browse_name()).Name] = state.nodeid
        folder = await machine.add_folder(self.vendor, "Counters")
        for counter in ("Good", "Scrap"):
            scripted.counters[counter] = await folder.add_variable(
                self.vendor, counter, 0, ua.VariantType.UInt32
            )
            await scripted.count(0, counter, 0)  # stamped on the script's clock, not now
        return scripted
