"""Turn records into OPC UA variable writes and record events (the server's hot path).

Writes go through ``server.write_attribute_value`` with a fixed VariantType and the record's
simulation time as SourceTimestamp (about 5x faster than ``Node.write_value``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import Server, ua
from asyncua.server.event_generator import EventGenerator

from plant_sim import payloads
from plant_sim.live.opcua_nodes import StateMachineVars, Var
from plant_sim.live.opcua_space import StationVars, TwinSpace
from plant_sim.records import (
    BufferLevel,
    PartDone,
    PartLeft,
    PartReleased,
    ProcessSample,
    Record,
    RunStart,
    ShiftChange,
    StateChange,
)
from plant_sim.states import STATE_INFO

_SERVER = ua.NodeId(ua.ObjectIds.Server)


@dataclass(slots=True)
class _StationTally:
    """Running totals the server derives from records (counts and state durations)."""

    produced: int = 0
    good: int = 0
    scrap: int = 0
    rework: int = 0
    since: float = 0.0
    item_state: int = 0
    power_on_s: float = 0.0
    operation_s: float = 0.0


@dataclass(slots=True)
class _LineTally:
    released: int = 0
    finished: int = 0
    scrapped: int = 0


class RecordWriter:
    """Applies records to a built ``TwinSpace``."""

    def __init__(
        self, server: Server, space: TwinSpace, generators: dict[ua.NodeId, EventGenerator]
    ) -> None:
        self._server = server
        self._iserver = server.iserver
        self._space = space
        self._gens = generators
        self._all = generators[_SERVER]
        self._stations = {k: _StationTally() for k in space.stations}
        self._lines = {k: _LineTally() for k in space.lines}
        self._names: dict[ua.NodeId, str] = {v.node: k for k, v in space.stations.items()}
        self._names.update({v.node: k for k, v in space.lines.items()})
        self._names[space.simulator.node] = "Simulator"
        self.run_id = ""
        self.start_epoch_ms = 0
        self.records = 0
        self.writes = 0

    def set_run(self, run_id: str, start_epoch_ms: int, scenario: str = "") -> None:
        """Set the run whose records follow."""
        self.run_id, self.start_epoch_ms = run_id, start_epoch_ms
        self._scenario = scenario

    async def publish(self, records: Sequence[Record]) -> None:
        """Write the variables of each record and emit its event, in order."""
        now = datetime.now(UTC)
        for rec in records:
            ts_ms = payloads.epoch_ms(self.start_epoch_ms, rec.t)
            ts = datetime.fromtimestamp(ts_ms / 1000.0, tz=UTC)
            await self._apply(rec, ts, now)
            await self._emit(rec, ts)
        self.records += len(records)

    async def set_clock(
        self,
        sim_time: float,
        speed: float,
        lag_s: float,
        dropped_qos0: int = 0,
        notice: str = "",
    ) -> None:
        """Write the Simulator's clock and status variables (SourceTimestamp = simulation time)."""
        sim = self._space.simulator
        ts = datetime.fromtimestamp(
            payloads.epoch_ms(self.start_epoch_ms, sim_time) / 1000.0, tz=UTC
        )
        now = datetime.now(UTC)
        for var, value in (
            (sim.sim_time, sim_time),
            (sim.sim_timestamp, ts),
            (sim.speed, speed),
            (sim.lag, lag_s),
            (sim.records, self.records),
            (sim.mqtt_dropped_qos0, dropped_qos0),
            (sim.notice, notice),
        ):
            await self._write(var, value, ts, now)

    async def _write(self, var: Var, value: Any, ts: datetime, now: datetime) -> None:
        dv = ua.DataValue(ua.Variant(value, var.vtype), SourceTimestamp=ts, ServerTimestamp=now)
        await self._iserver.write_attribute_value(var.node_id, dv)
        self.writes += 1

    async def _emit(self, rec: Record, ts: datetime) -> None:
        body = payloads.encode(rec, self.run_id, self.start_epoch_ms).decode()
        source = self._source(rec)
        gens = (self._all, self._gens[source])
        for gen in gens:
            ev = gen.event
            ev.Payload = body
            ev.RecordKind = rec.kind
            ev.Severity = 500 if rec.kind == "state" else 100
            if source is not None:
                ev.SourceNode = source
                ev.SourceName = self._names[source]
            await gen.trigger(time_attr=ts, message=rec.kind)

    def _source(self, rec: Record) -> ua.NodeId:
        station = getattr(rec, "station", None)
        if station is not None and station in self._space.stations:
            return self._space.stations[station].node
        line = getattr(rec, "line", None)
        if line is not None and line in self._space.lines:
            return self._space.lines[line].node
        return self._space.simulator.node

    async def _apply(self, rec: Record, ts: datetime, now: datetime) -> None:
        if isinstance(rec, ProcessSample):
            sv = self._space.stations.get(rec.station)
            if sv is not None:
                for var, value in (
                    (sv.temperature, rec.temperature_c),
                    (sv.power, rec.power_kw),
                    (sv.energy, rec.energy_kwh),
                    (sv.speed_factor, rec.speed_factor),
                ):
                    await self._write(var, value, ts, now)
        elif isinstance(rec, StateChange):
            await self._apply_state(rec, ts, now)
        elif isinstance(rec, PartDone):
            await self._apply_part(rec, ts, now)
        elif isinstance(rec, BufferLevel):
            lv = self._space.lines.get(rec.line)
            if lv is not None and rec.buffer in lv.buffers:
                await self._write(lv.buffers[rec.buffer], rec.level, ts, now)
        elif isinstance(rec, PartReleased | PartLeft):
            await self._apply_flow(rec, ts, now)
        elif isinstance(rec, ShiftChange):
            await self._write(self._space.simulator.shift, rec.shift or "", ts, now)
        elif isinstance(rec, RunStart):
            await self._write(self._space.simulator.run_id, rec.run_id, ts, now)
            await self._write(self._space.simulator.scenario, rec.scenario, ts, now)

    async def _apply_state(self, rec: StateChange, ts: datetime, now: datetime) -> None:
        sv = self._space.stations.get(rec.station)
        if sv is None:
            return
        info = STATE_INFO[rec.state]
        tally = self._stations[rec.station]
        elapsed = max(0.0, rec.t - tally.since)
        if tally.item_state != 0:
            tally.power_on_s += elapsed
        if tally.item_state == 3:
            tally.operation_s += elapsed
        tally.since, tally.item_state = rec.t, info.machinery_item_state
        await self._write_fsm(
            sv.item_state,
            self._item_ids,
            info.machinery_item_state,
            info.machinery_item_state_name,
            ts,
            now,
        )
        await self._write_fsm(
            sv.operation_mode,
            self._mode_ids,
            info.operation_mode,
            info.operation_mode_name,
            ts,
            now,
        )
        for var, value in (
            (sv.packml_state, info.packml),
            (sv.packml_name, info.packml_name),
            (sv.sim_state, rec.state.value),
            (sv.sim_state_number, info.number),
            (sv.state_reason, rec.reason or ""),
            (sv.power, rec.power_kw),
            (sv.power_on_duration, tally.power_on_s * 1000.0),  # Duration: milliseconds
            (sv.operation_duration, tally.operation_s * 1000.0),
        ):
            await self._write(var, value, ts, now)
        if rec.product is not None:
            await self._write(sv.product, rec.product, ts, now)

    @property
    def _item_ids(self) -> dict[int, ua.NodeId]:
        return self._space.item_state_ids

    @property
    def _mode_ids(self) -> dict[int, ua.NodeId]:
        return self._space.operation_mode_ids

    async def _write_fsm(
        self,
        fsm: StateMachineVars,
        ids: dict[int, ua.NodeId],
        number: int,
        name: str,
        ts: datetime,
        now: datetime,
    ) -> None:
        await self._write(fsm.current, ua.LocalizedText(name, "en"), ts, now)
        await self._write(fsm.current_id, ids[number], ts, now)
        await self._write(fsm.current_number, number, ts, now)

    async def _apply_part(self, rec: PartDone, ts: datetime, now: datetime) -> None:
        sv: StationVars | None = self._space.stations.get(rec.station)
        if sv is None:
            return
        tally = self._stations[rec.station]
        tally.produced += 1
        await self._write(sv.produced, tally.produced, ts, now)
        await self._write(sv.cycle_counter, tally.produced, ts, now)
        if rec.result == "good":
            tally.good += 1
            await self._write(sv.good, tally.good, ts, now)
        elif rec.result == "scrap":
            tally.scrap += 1
            await self._write(sv.scrap, tally.scrap, ts, now)
        elif rec.result == "rework":
            tally.rework += 1
            await self._write(sv.rework, tally.rework, ts, now)
        await self._write(sv.product, rec.product, ts, now)
        await self._write(sv.order, rec.order_id or "", ts, now)
        await self._write(sv.last_part, rec.part_id, ts, now)
        await self._write(sv.cycle_time, rec.cycle_time_s, ts, now)

    async def _apply_flow(self, rec: PartReleased | PartLeft, ts: datetime, now: datetime) -> None:
        lv = self._space.lines.get(rec.line)
        if lv is None:
            return
        tally = self._lines[rec.line]
        if isinstance(rec, PartReleased):
            tally.released += 1
            await self._write(lv.released, tally.released, ts, now)
        elif rec.outcome == "finished":
            tally.finished += 1
            await self._write(lv.finished, tally.finished, ts, now)
        else:
            tally.scrapped += 1
            await self._write(lv.scrapped, tally.scrapped, ts, now)
        wip = tally.released - tally.finished - tally.scrapped
        await self._write(lv.wip, wip, ts, now)
