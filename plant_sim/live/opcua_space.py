"""The twin's address space: Machines folder, station objects, line objects and the Simulator.

String NodeIds are stable across runs: ``{line}.{station}.{path}`` for station signals
(``naming.node_id_string``), ``{line}.{path}`` for line signals and ``Simulator.{name}``.
See docs/live.md for the browse tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asyncua import Node, Server, ua

from plant_sim import naming
from plant_sim.live import machinery_model as mm
from plant_sim.live import opcua_nodes as un
from plant_sim.live.layout import LineInfo, PlantLayout, StationInfo
from plant_sim.live.opcua_nodes import Var

VT = ua.VariantType
RECORD_EVENT_TYPE = "TwinRecordEventType"


@dataclass(slots=True)
class StationVars:
    """Variables of one station that records update."""

    node: ua.NodeId
    item_state: un.StateMachineVars
    operation_mode: un.StateMachineVars
    packml_state: Var
    packml_name: Var
    sim_state: Var
    sim_state_number: Var
    state_reason: Var
    produced: Var
    good: Var
    scrap: Var
    rework: Var
    product: Var
    order: Var
    last_part: Var
    cycle_time: Var
    temperature: Var
    power: Var
    energy: Var
    speed_factor: Var
    power_on_duration: Var
    operation_duration: Var
    cycle_counter: Var


@dataclass(slots=True)
class LineVars:
    """Variables of one line: buffer levels and flow counters."""

    node: ua.NodeId
    buffers: dict[str, Var]
    released: Var
    finished: Var
    scrapped: Var
    wip: Var


@dataclass(slots=True)
class SimulatorVars:
    """Variables of the Simulator object (clock and run)."""

    node: ua.NodeId
    run_id: Var
    scenario: Var
    sim_time: Var
    sim_timestamp: Var
    speed: Var
    lag: Var
    shift: Var
    records: Var
    run_start: Var
    mqtt_dropped_qos0: Var
    notice: Var


@dataclass(slots=True)
class TwinSpace:
    """Everything the server writes, by station / line id."""

    idx: int
    machines: ua.NodeId
    simulator: SimulatorVars
    stations: dict[str, StationVars] = field(default_factory=dict)
    lines: dict[str, LineVars] = field(default_factory=dict)
    record_event_type: ua.NodeId | None = None
    item_state_ids: dict[int, ua.NodeId] = field(default_factory=dict)
    operation_mode_ids: dict[int, ua.NodeId] = field(default_factory=dict)


class _Ns:
    """Namespace indices: our model, Machinery and DI, and the loaded Machinery model."""

    def __init__(self, idx: int, model: mm.MachineryModel) -> None:
        self.idx, self.m, self.di = idx, model.machinery, model.di
        self.model = model

    def q(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, self.idx)

    def nid(self, sid: str) -> ua.NodeId:
        return ua.NodeId(sid, self.idx)


async def build_space(
    server: Server, layout: PlantLayout, namespace_uri: str, model: mm.MachineryModel
) -> TwinSpace:
    """Create the twin's instances for ``layout`` in a server where ``model`` is loaded.

    Stations go into the standard ``Machines`` folder (Machinery i=1001) as instances of the
    standard types; the twin's extras (PackML, Simulation, Production, Process, lines,
    Simulator, record events) live in ``namespace_uri``.
    """
    idx = await server.register_namespace(namespace_uri)
    ns = _Ns(idx, model)
    objects = server.nodes.objects
    machines = server.get_node(model.nid(mm.MACHINES))
    event_type = await _record_event_type(server, idx)
    simulator = await _build_simulator(objects, ns)
    space = TwinSpace(
        idx,
        machines.nodeid,
        simulator,
        record_event_type=event_type.nodeid,
        item_state_ids=model.item_states,
        operation_mode_ids=model.operation_modes,
    )
    lines_folder = await un.add_object(
        objects, ns.nid("Lines"), ns.q("Lines"), ua.ObjectIds.FolderType, organizes=True
    )
    for line in layout.lines:
        line_vars, line_node = await _build_line(lines_folder, ns, layout, line)
        space.lines[line.id] = line_vars
        for station in line.stations:
            space.stations[station.id] = await _build_station(machines, ns, layout, station)
            await un.add_reference(
                line_node, space.stations[station.id].node, ua.ObjectIds.Organizes
            )
    return space


async def _record_event_type(server: Server, idx: int) -> Node:
    """Add ``TwinRecordEventType`` (BaseEventType + Payload, RecordKind) with string NodeIds."""
    base = server.get_node(ua.NodeId(ua.ObjectIds.BaseEventType))
    etype = await base.add_object_type(
        ua.NodeId(RECORD_EVENT_TYPE, idx), ua.QualifiedName(RECORD_EVENT_TYPE, idx)
    )
    for name in ("Payload", "RecordKind"):
        prop = await etype.add_property(
            ua.NodeId(f"{RECORD_EVENT_TYPE}.{name}", idx),
            ua.QualifiedName(name, idx),
            "",
            varianttype=VT.String,
        )
        await prop.set_modelling_rule(True)
    return etype


async def _props(node: Node, base: str, ns: _Ns, values: dict[str, str]) -> None:
    for name, value in values.items():
        await un.add_var(
            node, ns.nid(f"{base}.{name}"), ns.q(name), value, VT.String, typedef=un.PROPERTY
        )


async def _build_simulator(objects: Node, ns: _Ns) -> SimulatorVars:
    sim = await un.add_object(objects, ns.nid("Simulator"), ns.q("Simulator"))

    async def var(name: str, value: object, vtype: VT, desc: str) -> Var:
        return await un.add_var(
            sim, ns.nid(f"Simulator.{name}"), ns.q(name), value, vtype, description=desc
        )

    return SimulatorVars(
        node=sim.nodeid,
        run_id=await var("RunId", "", VT.String, "Id of the running simulation"),
        scenario=await var("Scenario", "", VT.String, "Scenario name"),
        sim_time=await var("SimTime", 0.0, VT.Double, "Simulation time, s since start"),
        sim_timestamp=await var(  # the null DateTime (1601-01-01) until a run starts
            "SimTimestamp", ua.get_win_epoch(), VT.DateTime, "Simulation time as a UTC timestamp"
        ),
        speed=await var("SpeedFactor", 1.0, VT.Double, "1 = real time, 60 = a minute a second"),
        lag=await var("LagSeconds", 0.0, VT.Double, "Wall seconds the model is behind the clock"),
        shift=await var("Shift", "", VT.String, "Current shift ('' = none)"),
        records=await var("RecordsPublished", 0, VT.UInt64, "Records emitted as events"),
        run_start=await var(
            "RunStart", "", VT.String, "The run's run_start record event Payload (JSON)"
        ),
        mqtt_dropped_qos0=await var(
            "MqttDroppedQoS0", 0, VT.UInt64, "QoS 0 MQTT messages dropped (broker away)"
        ),
        notice=await var("Notice", "", VT.String, "What the operator should know, e.g. a catch-up"),
    )


async def _build_line(
    folder: Node, ns: _Ns, layout: PlantLayout, line: LineInfo
) -> tuple[LineVars, Node]:
    node = await un.add_object(folder, ns.nid(line.id), ns.q(line.id), organizes=True)
    await _props(
        node,
        line.id,
        ns,
        {"Enterprise": layout.enterprise, "Site": layout.site, "Area": layout.area},
    )
    buffers_node = await un.add_object(
        node, ns.nid(f"{line.id}.Buffers"), ns.q("Buffers"), ua.ObjectIds.FolderType
    )
    buffers: dict[str, Var] = {}
    for buf in line.buffers:
        bnode = await un.add_object(
            buffers_node, ns.nid(f"{line.id}.Buffers.{buf.id}"), ns.q(buf.id), organizes=True
        )
        base = f"{line.id}.Buffers.{buf.id}"
        buffers[buf.id] = await un.add_var(
            bnode,
            ns.nid(f"{base}.Level"),
            ns.q("Level"),
            0,
            VT.Int32,
            description="Parts in the buffer",
        )
        await un.add_var(
            bnode,
            ns.nid(f"{base}.Capacity"),
            ns.q("Capacity"),
            buf.capacity if buf.capacity is not None else -1,
            VT.Int32,
            typedef=un.PROPERTY,
        )

    async def counter(name: str, vtype: VT, desc: str) -> Var:
        return await un.add_var(
            node, ns.nid(f"{line.id}.{name}"), ns.q(name), 0, vtype, description=desc
        )

    lv = LineVars(
        node=node.nodeid,
        buffers=buffers,
        released=await counter("PartsReleased", VT.UInt64, "Parts released into the line"),
        finished=await counter("PartsFinished", VT.UInt64, "Parts finished at the last station"),
        scrapped=await counter("PartsScrapped", VT.UInt64, "Parts scrapped anywhere on the line"),
        wip=await counter("WorkInProgress", VT.Int64, "Parts released and not yet left"),
    )
    return lv, node


async def _build_station(
    machines: Node,
    ns: _Ns,
    layout: PlantLayout,
    st: StationInfo,
) -> StationVars:
    base = naming.node_id_string(st.line, st.id, "")[:-1]  # "{line}.{station}"
    node = await un.add_object(machines, ns.nid(base), ns.q(st.id), organizes=True)
    ident = await un.add_object(
        node,
        ns.nid(f"{base}.Identification"),
        ua.QualifiedName("Identification", ns.di),
        ns.model.nid(mm.MACHINE_IDENTIFICATION_TYPE),
    )
    await _identification(ident, base, ns, layout, st)
    await _props(
        node,
        base,
        ns,
        {
            "Enterprise": layout.enterprise,
            "Site": layout.site,
            "Area": layout.area,
            "Line": st.line,
        },
    )
    item_node, item = await un.add_state_machine(
        node,
        f"{base}.MachineryItemState",
        ns.idx,
        ua.QualifiedName("MachineryItemState", ns.m),
        ns.model.nid(mm.MACHINERY_ITEM_STATE_TYPE),
        ns.model.item_states,
        (2, "NotExecuting"),
    )
    mode_node, mode = await un.add_state_machine(
        node,
        f"{base}.MachineryOperationMode",
        ns.idx,
        ua.QualifiedName("MachineryOperationMode", ns.m),
        ns.model.nid(mm.MACHINERY_OPERATION_MODE_TYPE),
        ns.model.operation_modes,
        (0, "None"),
    )
    counters = await un.add_object(
        node,
        ns.nid(f"{base}.OperationCounters"),
        ua.QualifiedName("OperationCounters", ns.di),
        ns.model.nid(mm.MACHINERY_OPERATION_COUNTER_TYPE),
    )
    blocks = await un.add_object(
        node,
        ns.nid(f"{base}.MachineryBuildingBlocks"),
        ua.QualifiedName("MachineryBuildingBlocks", ns.m),
        ua.ObjectIds.FolderType,
    )
    for target in (ident, item_node, mode_node, counters):
        await un.add_reference(blocks, target.nodeid, ua.ObjectIds.HasAddIn)

    async def var(
        parent: Node, path: str, qname: ua.QualifiedName, value: object, vtype: VT, desc: str
    ) -> Var:
        return await un.add_var(
            parent, ns.nid(f"{base}.{path}"), qname, value, vtype, description=desc
        )

    async def counter(name: str, value: object, vtype: VT, desc: str) -> Var:
        """A property of 2:OperationCounters (MachineryOperationCounterType, OPC 40001-1)."""
        return await un.add_var(
            counters,
            ns.nid(f"{base}.OperationCounters.{name}"),
            ua.QualifiedName(name, ns.di),
            value,
            vtype,
            typedef=un.PROPERTY,
            description=desc,
            datatype=ua.ObjectIds.Duration if vtype == VT.Double else None,
        )

    packml = await un.add_object(node, ns.nid(f"{base}.PackML"), ns.q("PackML"))
    sim = await un.add_object(node, ns.nid(f"{base}.Simulation"), ns.q("Simulation"))
    prod = await un.add_object(node, ns.nid(f"{base}.Production"), ns.q("Production"))
    proc = await un.add_object(node, ns.nid(f"{base}.Process"), ns.q("Process"))

    async def analog(path: str, unit: str, low: float, high: float, desc: str) -> Var:
        name = path.rsplit(".", 1)[-1]
        return await un.add_analog(
            proc if path.startswith("Process") else prod,
            ns.nid(f"{base}.{path}"),
            ns.q(name),
            unit,
            low,
            high,
            desc,
        )

    return StationVars(
        node=node.nodeid,
        item_state=item,
        operation_mode=mode,
        packml_state=await var(
            packml,
            "PackML.StateCurrent",
            ns.q("StateCurrent"),
            0,
            VT.Int32,
            "PackTags v3 Status.StateCurrent",
        ),
        packml_name=await var(
            packml,
            "PackML.StateCurrentName",
            ns.q("StateCurrentName"),
            "",
            VT.String,
            "PackML state name",
        ),
        sim_state=await var(
            sim,
            "Simulation.State",
            ns.q("State"),
            "",
            VT.String,
            "Simulator state name (plant_sim.states.StationState)",
        ),
        sim_state_number=await var(
            sim,
            "Simulation.StateNumber",
            ns.q("StateNumber"),
            0,
            VT.Int32,
            "Simulator state number",
        ),
        state_reason=await var(
            sim,
            "Simulation.StateReason",
            ns.q("StateReason"),
            "",
            VT.String,
            "Reason of the current state ('' = none)",
        ),
        produced=await var(
            prod,
            "Production.PartsProduced",
            ns.q("PartsProduced"),
            0,
            VT.UInt64,
            "Parts judged at this station (total)",
        ),
        good=await var(prod, "Production.PartsGood", ns.q("PartsGood"), 0, VT.UInt64, "Good parts"),
        scrap=await var(
            prod, "Production.PartsScrap", ns.q("PartsScrap"), 0, VT.UInt64, "Scrapped parts"
        ),
        rework=await var(
            prod,
            "Production.PartsRework",
            ns.q("PartsRework"),
            0,
            VT.UInt64,
            "Parts sent to rework",
        ),
        product=await var(
            prod,
            "Production.CurrentProduct",
            ns.q("CurrentProduct"),
            "",
            VT.String,
            "Product being made",
        ),
        order=await var(
            prod,
            "Production.CurrentOrder",
            ns.q("CurrentOrder"),
            "",
            VT.String,
            "Customer order of the last part",
        ),
        last_part=await var(
            prod,
            "Production.LastPartId",
            ns.q("LastPartId"),
            "",
            VT.String,
            "Id of the last finished part",
        ),
        cycle_time=await analog(
            "Production.LastCycleTime", "SEC", 0.0, 3600.0, "Cycle time of the last part"
        ),
        temperature=await analog("Process.Temperature", "CEL", -20.0, 200.0, "Process temperature"),
        power=await analog("Process.Power", "KWT", 0.0, 1000.0, "Electrical power"),
        energy=await analog(
            "Process.EnergyTotal", "KWH", 0.0, 1e9, "Energy counter since the run start"
        ),
        speed_factor=await analog(
            "Process.SpeedFactor", "C62", 0.0, 10.0, "Station speed relative to nominal"
        ),
        power_on_duration=await counter(
            "PowerOnDuration", 0.0, VT.Double, "Milliseconds not NotAvailable (simulation time)"
        ),
        operation_duration=await counter(
            "OperationDuration", 0.0, VT.Double, "Milliseconds Executing (simulation time)"
        ),
        cycle_counter=await counter(
            "OperationCycleCounter", 0, VT.UInt64, "Finished cycles (parts judged)"
        ),
    )


async def _identification(
    ident: Node, base: str, ns: _Ns, layout: PlantLayout, st: StationInfo
) -> None:
    serial = f"SFT-{st.line}-{st.id}".upper()
    manufacturer_uri = "urn:smart-factory-twin"
    values: list[tuple[str, object, VT]] = [
        ("Manufacturer", ua.LocalizedText(st.manufacturer, "en"), VT.LocalizedText),
        ("ManufacturerUri", manufacturer_uri, VT.String),
        ("Model", ua.LocalizedText(st.model, "en"), VT.LocalizedText),
        ("ProductCode", st.model, VT.String),
        ("SerialNumber", serial, VT.String),
        ("ProductInstanceUri", f"{manufacturer_uri}/{st.model}/{serial}", VT.String),
        (
            "AssetId",
            f"{layout.enterprise}.{layout.site}.{layout.area}.{st.line}.{st.id}",
            VT.String,
        ),
        ("ComponentName", ua.LocalizedText(st.id, "en"), VT.LocalizedText),
        ("DeviceClass", "simulated station", VT.String),
        ("SoftwareRevision", "smart-factory-twin 0.1", VT.String),
    ]
    for name, value, vtype in values:
        await un.add_var(
            ident,
            ns.nid(f"{base}.Identification.{name}"),
            ua.QualifiedName(name, ns.di),
            value,
            vtype,
            typedef=un.PROPERTY,
        )
    await un.add_var(
        ident,
        ns.nid(f"{base}.Identification.Location"),
        ua.QualifiedName("Location", ns.m),
        f"{layout.site}/{layout.area}/{st.line}",
        VT.String,
        typedef=un.PROPERTY,
    )
    await un.add_var(
        ident,
        ns.nid(f"{base}.Identification.YearOfConstruction"),
        ua.QualifiedName("YearOfConstruction", ns.m),
        2026,
        VT.UInt16,
        typedef=un.PROPERTY,
    )
