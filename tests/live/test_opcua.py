"""The OPC UA server with a real asyncua client: browse paths, subscriptions, methods, security."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asyncua import Client, ua

from plant_sim import payloads
from plant_sim.live.commands import SetSpeed
from plant_sim.live.layout import PlantLayout
from plant_sim.live.opcua_nodes import DI_URI, MACHINERY_URI, unit_id
from plant_sim.live.opcua_server import OpcUaError, OpcUaSettings, TwinOpcUaServer
from plant_sim.live.service import LiveConfig
from plant_sim.naming import NAMESPACE_URI
from plant_sim.records import StateChange, to_dict
from plant_sim.scenario import Scenario
from plant_sim.simulation import run_batch
from plant_sim.states import STATE_INFO, StationState
from tests.live.helpers import async_wait_until, launch
from tests.servers.mosquitto import free_port

pytestmark = pytest.mark.integration
UNTIL = 6.1 * 3600


def config(port: int, speed: float, until: float | None = UNTIL, **opc: object) -> LiveConfig:
    settings = OpcUaSettings(endpoint=f"opc.tcp://127.0.0.1:{port}/twin/", **opc)  # type: ignore[arg-type]
    return LiveConfig(speed=speed, seed=5, until_s=until, opcua=settings, mqtt=None)


class Collector:
    """Subscription handler that keeps events and data changes."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.changes: list[ua.DataValue] = []

    def event_notification(self, event: object) -> None:
        self.events.append(event)

    def datachange_notification(self, node: object, val: object, data: object) -> None:
        self.changes.append(data.monitored_item.Value)  # type: ignore[attr-defined]


async def ns(client: Client) -> tuple[int, int, int]:
    return (
        await client.get_namespace_index(NAMESPACE_URI),
        await client.get_namespace_index(MACHINERY_URI),
        await client.get_namespace_index(DI_URI),
    )


async def test_browse_paths_follow_machinery(bottling: Scenario) -> None:
    port = free_port()
    gate, linger = asyncio.Event(), asyncio.Event()
    task, runner = await launch(bottling, config(port, 1e5), gate, linger)
    async with Client(f"opc.tcp://127.0.0.1:{port}/twin/") as client:
        idx, m, di = await ns(client)
        machines = client.get_node(ua.NodeId(1001, m))
        assert (await machines.read_browse_name()).Name == "Machines"
        names = [(await c.read_browse_name()).Name for c in await machines.get_children()]
        assert names == [s.id for s in bottling.lines[0].stations]
        filler = [f"{m}:Machines", f"{idx}:filler"]
        obj = client.nodes.objects
        man = await obj.get_child([*filler, f"{di}:Identification", f"{di}:Manufacturer"])
        assert (await man.read_value()).Text == "Smart Factory Twin"
        for prop in ("SerialNumber", "ProductInstanceUri", "Model"):
            await obj.get_child([*filler, f"{di}:Identification", f"{di}:{prop}"])
        for fsm in ("MachineryItemState", "MachineryOperationMode"):
            await obj.get_child([*filler, f"{m}:{fsm}", "0:CurrentState", "0:Number"])
            await obj.get_child([*filler, f"{m}:MachineryBuildingBlocks", f"{m}:{fsm}"])
        # instances of the standard types of the loaded Machinery NodeSet (OPC 40001-1)
        standard = {
            f"{di}:Identification": 1012,  # MachineIdentificationType
            f"{m}:MachineryItemState": 1002,  # MachineryItemState_StateMachineType
            f"{m}:MachineryOperationMode": 1008,  # MachineryOperationModeStateMachineType
            f"{di}:OperationCounters": 1009,  # MachineryOperationCounterType
        }
        for child, type_id in standard.items():
            node = await obj.get_child([*filler, child])
            assert await node.read_type_definition() == ua.NodeId(type_id, m), child
            type_name = await client.get_node(ua.NodeId(type_id, m)).read_browse_name()
            assert type_name.NamespaceIndex == m, child
        temp = await obj.get_child([*filler, f"{idx}:Process", f"{idx}:Temperature"])
        eu = await (await temp.get_child("0:EngineeringUnits")).read_value()
        assert eu.UnitId == unit_id("CEL") == 4408652
        assert (await (await temp.get_child("0:EURange")).read_value()).High > 0
        for path in (
            "Production/PartsGood",
            "Production/PartsScrap",
            "Production/PartsRework",
            "Production/PartsProduced",
            "Process/EnergyTotal",
            "Process/Power",
        ):
            await obj.get_child([*filler, *(f"{idx}:{p}" for p in path.split("/"))])
        buf = await obj.get_child(
            [
                f"{idx}:Lines",
                f"{idx}:line1",
                f"{idx}:Buffers",
                f"{idx}:b_depal_filler",
                f"{idx}:Level",
            ]
        )
        assert buf.nodeid == ua.NodeId("line1.Buffers.b_depal_filler.Level", idx)
        gate.set()
        await asyncio.wait_for(runner.done.wait(), 30)
        batch = run_batch(bottling, UNTIL, seed=5).records
        last = [r for r in batch if isinstance(r, StateChange) and r.station == "filler"][-1]
        num = client.get_node(ua.NodeId("line1.filler.MachineryItemState.CurrentState.Number", idx))
        dv = await num.read_data_value()
        assert dv.Value.Value == STATE_INFO[last.state].machinery_item_state
        # CurrentState.Id is the standard state object of MachineryItemState_StateMachineType
        state_id = await client.get_node(
            ua.NodeId("line1.filler.MachineryItemState.CurrentState.Id", idx)
        ).read_value()
        assert state_id.NamespaceIndex == m and state_id.Identifier in (5004, 5005, 5006, 5007)
        state = client.get_node(state_id)
        assert (await state.read_browse_name()).Name == STATE_INFO[
            last.state
        ].machinery_item_state_name
        assert await (await state.get_child("0:StateNumber")).read_value() == dv.Value.Value
        assert round(dv.SourceTimestamp.timestamp() * 1000) == payloads.epoch_ms(
            runner.model.start_epoch_ms, last.t
        )
    linger.set()
    await task


async def test_subscriptions_see_every_record_and_state_in_order(bottling: Scenario) -> None:
    port = free_port()
    gate, linger = asyncio.Event(), asyncio.Event()
    task, runner = await launch(bottling, config(port, 20_000), gate, linger)
    async with Client(f"opc.tcp://127.0.0.1:{port}/twin/") as client:
        idx, _, _ = await ns(client)
        handler = Collector()
        sub = await client.create_subscription(50, handler)
        etype = client.get_node(ua.NodeId("TwinRecordEventType", idx))
        await sub.subscribe_events(client.nodes.server, etype, queuesize=100_000)
        state = client.get_node(ua.NodeId("line1.filler.Simulation.StateNumber", idx))
        await sub.subscribe_data_change(state, queuesize=10_000)
        await async_wait_until(lambda: handler.changes, 5, "the initial value")
        handler.changes.clear()
        gate.set()
        # asyncua queues at most 10,000 notifications per monitored item between publishes:
        # run the busy part (the first shift) at a speed a subscriber can follow.
        await async_wait_until(lambda: runner.model.now > 5.9 * 3600, 10, "the night")
        await runner.execute(SetSpeed(400))
        await asyncio.wait_for(runner.done.wait(), 30)
        batch = run_batch(bottling, UNTIL, seed=5).records
        try:
            await async_wait_until(lambda: len(handler.events) >= len(batch), 30, "every event")
        except AssertionError:
            print("events", len(handler.events), "of", len(batch))
            raise
        start = runner.model.start_epoch_ms
        bodies = [ev.Payload for ev in handler.events]  # type: ignore[attr-defined]
        assert bodies == [payloads.encode(r, runner.model.run_id, start).decode() for r in batch]
        filler = [r for r in batch if isinstance(r, StateChange) and r.station == "filler"]
        await async_wait_until(lambda: len(handler.changes) >= len(filler), 10, "state changes")
        seen = [
            (dv.Value.Value, round(dv.SourceTimestamp.timestamp() * 1000)) for dv in handler.changes
        ]
        want = [(STATE_INFO[r.state].number, payloads.epoch_ms(start, r.t)) for r in filler]
        assert seen == want
        decoded = [payloads.decode(b)[0] for b in bodies[1:]]
        assert [to_dict(r) for r in decoded] == [to_dict(r) for r in batch[1:]]
    linger.set()
    await task


async def test_methods_act_and_reject_bad_arguments(bottling: Scenario) -> None:
    port = free_port()
    task, runner = await launch(bottling, config(port, 20_000, until=None))
    try:
        async with Client(f"opc.tcp://127.0.0.1:{port}/twin/") as client:
            idx, _, _ = await ns(client)
            sim = client.get_node(ua.NodeId("Simulator", idx))
            filler = client.get_node(ua.NodeId("line1.filler", idx))
            speed = ua.NodeId("Simulator.SetSpeedFactor", idx)
            await async_wait_until(lambda: runner.model.now > 5.95 * 3600, 10, "the morning")
            await sim.call_method(speed, ua.Variant(60.0, ua.VariantType.Double))
            assert runner.clock.speed == 60.0
            await async_wait_until(lambda: runner.model.now > 6.02 * 3600, 10, "the shift")
            await sim.call_method(speed, 1)  # an Int64 is a number too
            assert runner.clock.speed == 1.0
            inject = ua.NodeId("line1.filler.InjectFailure", idx)
            text = await filler.call_method(inject, 600.0, "opcua-test")
            assert "filler" in text
            reason = client.get_node(ua.NodeId("line1.filler.Simulation.StateReason", idx))
            await async_wait_until_async(lambda: reason.read_value(), "opcua-test")
            item = client.get_node(
                ua.NodeId("line1.filler.MachineryItemState.CurrentState.Number", idx)
            )
            assert await item.read_value() == STATE_INFO[StationState.DOWN].machinery_item_state
            await sim.call_method(ua.NodeId("Simulator.ClearFailure", idx), "filler")
            await async_wait_until_async(lambda: reason.read_value(), "opcua-test", negate=True)
            calls = [
                (sim, "Simulator.SetSpeedFactor", [ua.Variant(-2.0, ua.VariantType.Double)]),
                (sim, "Simulator.SetSpeedFactor", [ua.Variant("fast", ua.VariantType.String)]),
                (sim, "Simulator.SetSpeedFactor", []),
                (sim, "Simulator.InjectFailure", ["nope", 60.0, "x"]),
                (sim, "Simulator.InjectFailure", ["filler", -60.0, "x"]),
                (sim, "Simulator.ClearFailure", ["nope"]),
                (filler, "line1.filler.InjectFailure", [float("nan"), "x"]),
            ]
            for obj, method, args in calls:
                with pytest.raises(ua.UaStatusCodeError) as info:
                    await obj.call_method(ua.NodeId(method, idx), *args)
                assert info.value.code in (
                    ua.StatusCodes.BadInvalidArgument,
                    ua.StatusCodes.BadArgumentsMissing,
                ), method
            assert runner.clock.speed == 1.0
            # InputArgumentResults follow the caller's arguments (a station's own method has no
            # Station argument): one result per argument, the bad one marked
            bad_arg = ua.StatusCodes.BadInvalidArgument
            cases = [
                (filler, "line1.filler.InjectFailure", [float("nan"), "x"], 0, bad_arg),
                (filler, "line1.filler.InjectFailure", [-5.0], 0, bad_arg),
                (filler, "line1.filler.InjectFailure", [60.0, "x" * 10_000], 1, bad_arg),
                (
                    filler,
                    "line1.filler.InjectFailure",
                    [60.0, ua.Variant(3, ua.VariantType.Int32)],
                    1,
                    ua.StatusCodes.BadTypeMismatch,
                ),
                (sim, "Simulator.InjectFailure", ["nope", 60.0, "x"], 0, bad_arg),
                (sim, "Simulator.InjectFailure", ["filler", -60.0, "x"], 1, bad_arg),
                (sim, "Simulator.InjectFailure", ["filler", 60.0, "x" * 10_000], 2, bad_arg),
            ]
            for obj, method, args, index, code in cases:
                res = await raw_call(client, obj, ua.NodeId(method, idx), args)
                assert res.StatusCode.value == bad_arg, (method, args)
                results = [r.value for r in res.InputArgumentResults]
                assert len(results) == len(args), (method, args, results)
                assert results[index] == code, (method, args, results)
                assert all(r == ua.StatusCodes.Good for i, r in enumerate(results) if i != index), (
                    method,
                    args,
                    results,
                )
            res = await raw_call(client, filler, ua.NodeId("line1.filler.ClearFailure", idx), [])
            assert res.StatusCode.is_good() and res.InputArgumentResults == []
    finally:
        runner.stop()
        await task


async def raw_call(client: Client, obj: object, method: ua.NodeId, args: list) -> object:
    """Call ``method`` and return the CallMethodResult, also a Bad one (no exception)."""
    req = ua.CallMethodRequest()
    req.ObjectId = obj.nodeid  # type: ignore[attr-defined]
    req.MethodId = method
    req.InputArguments = [a if isinstance(a, ua.Variant) else ua.Variant(a) for a in args]
    return (await client.uaclient.call([req]))[0]


async def async_wait_until_async(read: object, value: object, negate: bool = False) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        got = await read()  # type: ignore[operator]
        if (got == value) != negate:
            return
        assert loop.time() < deadline, f"value stayed {got!r}"
        await asyncio.sleep(0.05)


async def test_taken_port_gives_a_clear_message(bottling: Scenario) -> None:
    port = free_port()
    layout = PlantLayout.from_scenario(bottling)
    async with TwinOpcUaServer(layout, OpcUaSettings(endpoint=f"opc.tcp://127.0.0.1:{port}/")):
        other = TwinOpcUaServer(layout, OpcUaSettings(endpoint=f"opc.tcp://127.0.0.1:{port}/"))
        with pytest.raises(OpcUaError, match=rf"127\.0\.0\.1:{port}.*already in use"):
            await other.start()


async def test_username_and_encryption(bottling: Scenario, tmp_path: Path) -> None:
    port = free_port()
    url = f"opc.tcp://127.0.0.1:{port}/twin/"
    settings = OpcUaSettings(
        endpoint=url,
        users={"op": "secret"},
        allow_anonymous=False,
        encrypt=True,
        allow_unencrypted=False,
        cert_dir=tmp_path / "pki",
    )
    async with TwinOpcUaServer(PlantLayout.from_scenario(bottling), settings):
        from plant_sim.live.opcua_server import ensure_certificate

        key, cert = await ensure_certificate(tmp_path / "client")
        client = Client(url)
        await client.set_security_string(f"Basic256Sha256,SignAndEncrypt,{cert},{key}")
        client.application_uri = "urn:smart-factory-twin:server"
        client.set_user("op")
        client.set_password("secret")
        async with client:
            idx = await client.get_namespace_index(NAMESPACE_URI)
            assert idx > 0
        anon = Client(url)
        await anon.set_security_string(f"Basic256Sha256,SignAndEncrypt,{cert},{key}")
        anon.application_uri = "urn:smart-factory-twin:server"
        with pytest.raises(ua.UaError):
            async with anon:
                pass
        plain = Client(url)
        with pytest.raises(ua.UaError):
            async with plain:
                pass
