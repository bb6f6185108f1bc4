"""The official OPC UA Machinery model: load the DI, IA and Machinery NodeSets into a server.

The NodeSet2 files are the OPC Foundation's (MIT licence, see ``nodesets/LICENSE.txt``),
shipped unmodified. Instances that a NodeSet marks ``DesignToolOnly`` are placeholders for
design tools that "do not appear in the AddressSpace" (OPC 10000-6 §F.7); they are dropped on
load (DI 1.05 has nine, and asyncua cannot add them: they have no parent).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from asyncua import Server, ua

NODESET_DIR = Path(__file__).with_name("nodesets")
NODESETS = ("Opc.Ua.Di.NodeSet2.xml", "Opc.Ua.IA.NodeSet2.xml", "Opc.Ua.Machinery.NodeSet2.xml")
DI_URI = "http://opcfoundation.org/UA/DI/"
MACHINERY_URI = "http://opcfoundation.org/UA/Machinery/"

# Numeric NodeIds in the Machinery namespace (Opc.Ua.Machinery.NodeSet2.xml, OPC 40001-1)
MACHINES = 1001
MACHINE_IDENTIFICATION_TYPE = 1012
MACHINERY_ITEM_STATE_TYPE = 1002
MACHINERY_OPERATION_MODE_TYPE = 1008
MACHINERY_OPERATION_COUNTER_TYPE = 1009

_UA_NS = "{http://opcfoundation.org/UA/2011/03/UANodeSet.xsd}"
_STATE_TYPE = ua.NodeId(ua.ObjectIds.StateType)


@dataclass(frozen=True, slots=True)
class MachineryModel:
    """Namespace indices of the loaded model and the standard state NodeIds by state number."""

    machinery: int
    di: int
    item_states: dict[int, ua.NodeId]
    operation_modes: dict[int, ua.NodeId]

    def nid(self, number: int) -> ua.NodeId:
        """A numeric NodeId in the Machinery namespace."""
        return ua.NodeId(number, self.machinery)


@cache
def nodeset_xml(name: str) -> str:
    """The NodeSet ``name`` as XML text without its ``DesignToolOnly`` instances."""
    root = ET.parse(NODESET_DIR / name).getroot()
    for element in list(root):
        if element.get("DesignToolOnly") == "true":
            root.remove(element)
    ET.register_namespace("", _UA_NS[1:-1])
    return ET.tostring(root, encoding="unicode")


async def load_machinery(server: Server) -> MachineryModel:
    """Import DI, IA and Machinery (in dependency order) into ``server`` after ``init()``."""
    importer_log = logging.getLogger("asyncua.common.xmlimporter")
    level = importer_log.level
    importer_log.setLevel(logging.ERROR)  # known, harmless warnings about the DI NodeSet
    try:
        for name in NODESETS:
            await server.import_xml(xmlstring=nodeset_xml(name))
    finally:
        importer_log.setLevel(level)
    machinery = await server.get_namespace_index(MACHINERY_URI)
    return MachineryModel(
        machinery=machinery,
        di=await server.get_namespace_index(DI_URI),
        item_states=await state_ids(server, ua.NodeId(MACHINERY_ITEM_STATE_TYPE, machinery)),
        operation_modes=await state_ids(
            server, ua.NodeId(MACHINERY_OPERATION_MODE_TYPE, machinery)
        ),
    )


async def state_ids(server: Server, fsm_type: ua.NodeId) -> dict[int, ua.NodeId]:
    """The NodeIds of a state-machine type's states, by their StateNumber."""
    found: dict[int, ua.NodeId] = {}
    for child in await server.get_node(fsm_type).get_children(
        refs=ua.ObjectIds.HasComponent, nodeclassmask=ua.NodeClass.Object
    ):
        if await child.read_type_definition() != _STATE_TYPE:
            continue
        number = await (await child.get_child("0:StateNumber")).read_value()
        found[int(number)] = child.nodeid
    return found
