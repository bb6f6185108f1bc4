"""Building blocks of the OPC UA address space: typed variables, analog items, state machines.

Browse names follow OPC 40001-1 (Machinery) and OPC 10000-100 (DI): ``Machines``,
``MachineryItemState``, ``MachineryOperationMode`` and ``MachineryBuildingBlocks`` carry the
Machinery namespace, ``Identification`` and its properties the DI namespace. The types are
the standard ones of the loaded NodeSets (``machinery_model``); see docs/live.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asyncua import Node, ua

from plant_sim.live.machinery_model import DI_URI, MACHINERY_URI

__all__ = ["DI_URI", "MACHINERY_URI"]
UNITS_URI = "http://www.opcfoundation.org/UA/units/un/cefact"
PROPERTY = ua.ObjectIds.PropertyType

# UNECE Rec 20 code -> (symbol, description)
UNITS: dict[str, tuple[str, str]] = {
    "CEL": ("°C", "degree Celsius"),
    "KWT": ("kW", "kilowatt"),
    "KWH": ("kW·h", "kilowatt hour"),
    "SEC": ("s", "second"),
    "C62": ("1", "one"),
    "H87": ("pc", "piece"),
}


def unit_id(code: str) -> int:
    """Return the OPC UA UnitId of a UNECE common code (one byte per ASCII character)."""
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value


def eu_information(code: str) -> ua.EUInformation:
    """Return the EngineeringUnits structure of a UNECE code from ``UNITS``."""
    symbol, description = UNITS[code]
    return ua.EUInformation(
        NamespaceUri=UNITS_URI,
        UnitId=unit_id(code),
        DisplayName=ua.LocalizedText(symbol),
        Description=ua.LocalizedText(description),
    )


@dataclass(frozen=True, slots=True)
class Var:
    """A variable the server writes: its NodeId and fixed VariantType."""

    node_id: ua.NodeId
    vtype: ua.VariantType


async def add_var(
    parent: Node,
    node_id: ua.NodeId,
    qname: ua.QualifiedName,
    value: Any,
    vtype: ua.VariantType,
    *,
    typedef: int = ua.ObjectIds.BaseDataVariableType,
    description: str | None = None,
    datatype: int | None = None,
) -> Var:
    """Add a read-only variable with a fixed data type; ``typedef=PROPERTY`` adds a property."""
    prop = typedef == PROPERTY
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = node_id
    item.BrowseName = qname
    item.NodeClass = ua.NodeClass.Variable
    item.ParentNodeId = parent.nodeid
    item.ReferenceTypeId = ua.NodeId(
        ua.ObjectIds.HasProperty if prop else ua.ObjectIds.HasComponent
    )
    item.TypeDefinition = ua.NodeId(typedef)
    attrs = ua.VariableAttributes()
    attrs.DisplayName = ua.LocalizedText(qname.Name)
    attrs.Description = ua.LocalizedText(description or qname.Name)
    attrs.DataType = ua.NodeId(datatype or _DATA_TYPES[vtype])
    attrs.Value = ua.Variant(value, vtype)
    array = isinstance(value, list)
    attrs.ValueRank = ua.ValueRank.OneDimension if array else ua.ValueRank.Scalar
    attrs.AccessLevel = ua.AccessLevel.CurrentRead.mask
    attrs.UserAccessLevel = ua.AccessLevel.CurrentRead.mask
    item.NodeAttributes = attrs
    results = await parent.session.add_nodes([item])
    results[0].StatusCode.check()
    return Var(node_id, vtype)


async def add_analog(
    parent: Node,
    node_id: ua.NodeId,
    qname: ua.QualifiedName,
    unit: str,
    low: float,
    high: float,
    description: str,
) -> Var:
    """Add an AnalogItemType Double with EURange and EngineeringUnits (OPC 10000-8 §5.3.2)."""
    var = await add_var(
        parent,
        node_id,
        qname,
        0.0,
        ua.VariantType.Double,
        typedef=ua.ObjectIds.AnalogItemType,
        description=description,
    )
    node = Node(parent.session, node_id)
    sid = node_id.Identifier
    ns = node_id.NamespaceIndex
    await add_var(
        node,
        ua.NodeId(f"{sid}.EURange", ns),
        ua.QualifiedName("EURange", 0),
        ua.Range(Low=low, High=high),
        ua.VariantType.ExtensionObject,
        typedef=PROPERTY,
        datatype=ua.ObjectIds.Range,
    )
    await add_var(
        node,
        ua.NodeId(f"{sid}.EngineeringUnits", ns),
        ua.QualifiedName("EngineeringUnits", 0),
        eu_information(unit),
        ua.VariantType.ExtensionObject,
        typedef=PROPERTY,
        datatype=ua.ObjectIds.EUInformation,
    )
    return var


async def add_object(
    parent: Node,
    node_id: ua.NodeId,
    qname: ua.QualifiedName,
    typedef: ua.NodeId | int = ua.ObjectIds.BaseObjectType,
    *,
    organizes: bool = False,
) -> Node:
    """Add an object (HasComponent, or Organizes for folders' children)."""
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = node_id
    item.BrowseName = qname
    item.NodeClass = ua.NodeClass.Object
    item.ParentNodeId = parent.nodeid
    item.ReferenceTypeId = ua.NodeId(
        ua.ObjectIds.Organizes if organizes else ua.ObjectIds.HasComponent
    )
    item.TypeDefinition = typedef if isinstance(typedef, ua.NodeId) else ua.NodeId(typedef)
    attrs = ua.ObjectAttributes()
    attrs.DisplayName = ua.LocalizedText(qname.Name)
    attrs.Description = ua.LocalizedText(qname.Name)
    attrs.EventNotifier = 0
    item.NodeAttributes = attrs
    results = await parent.session.add_nodes([item])
    results[0].StatusCode.check()
    return Node(parent.session, node_id)


async def add_reference(source: Node, target: ua.NodeId, ref_type: int) -> None:
    """Add a forward reference ``source --ref_type--> target``."""
    await source.add_reference(target, ua.NodeId(ref_type), forward=True, bidirectional=False)


@dataclass(frozen=True, slots=True)
class StateMachineVars:
    """The variables written when a state machine changes state."""

    current: Var  # CurrentState (LocalizedText)
    current_id: Var  # CurrentState.Id (NodeId of the state)
    current_number: Var  # CurrentState.Number (UInt32)


async def add_state_machine(
    parent: Node,
    base_id: str,
    ns: int,
    qname: ua.QualifiedName,
    fsm_type: ua.NodeId,
    states: dict[int, ua.NodeId],
    initial: tuple[int, str],
) -> tuple[Node, StateMachineVars]:
    """Add an instance of a standard state-machine type (CurrentState, Id, Number,
    AvailableStates); ``states`` are the type's state NodeIds by number."""
    node = await add_object(parent, ua.NodeId(base_id, ns), qname, fsm_type)
    number, name = initial
    current = await add_var(
        node,
        ua.NodeId(f"{base_id}.CurrentState", ns),
        ua.QualifiedName("CurrentState", 0),
        ua.LocalizedText(name, "en"),
        ua.VariantType.LocalizedText,
        typedef=ua.ObjectIds.FiniteStateVariableType,
    )
    cur_node = Node(parent.session, current.node_id)
    cid = await add_var(
        cur_node,
        ua.NodeId(f"{base_id}.CurrentState.Id", ns),
        ua.QualifiedName("Id", 0),
        states[number],
        ua.VariantType.NodeId,
        typedef=PROPERTY,
    )
    cnum = await add_var(
        cur_node,
        ua.NodeId(f"{base_id}.CurrentState.Number", ns),
        ua.QualifiedName("Number", 0),
        number,
        ua.VariantType.UInt32,
        typedef=PROPERTY,
    )
    await add_var(
        node,
        ua.NodeId(f"{base_id}.AvailableStates", ns),
        ua.QualifiedName("AvailableStates", 0),
        [states[n] for n in sorted(states)],
        ua.VariantType.NodeId,
    )
    return node, StateMachineVars(current, cid, cnum)


_DATA_TYPES: dict[ua.VariantType, int] = {
    ua.VariantType.Boolean: ua.ObjectIds.Boolean,
    ua.VariantType.Byte: ua.ObjectIds.Byte,
    ua.VariantType.UInt16: ua.ObjectIds.UInt16,
    ua.VariantType.Int32: ua.ObjectIds.Int32,
    ua.VariantType.UInt32: ua.ObjectIds.UInt32,
    ua.VariantType.Int64: ua.ObjectIds.Int64,
    ua.VariantType.UInt64: ua.ObjectIds.UInt64,
    ua.VariantType.Double: ua.ObjectIds.Double,
    ua.VariantType.String: ua.ObjectIds.String,
    ua.VariantType.DateTime: ua.ObjectIds.DateTime,
    ua.VariantType.LocalizedText: ua.ObjectIds.LocalizedText,
    ua.VariantType.NodeId: ua.ObjectIds.NodeId,
    ua.VariantType.ExtensionObject: ua.ObjectIds.Structure,
}
