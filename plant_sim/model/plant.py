"""Build the whole plant from a scenario: lines, stations, stock, orders, calendar, events."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import simpy

from plant_sim.calendar import LocalDays, PauseCursor, WorkCalendar
from plant_sim.distributions import make_sampler, mean_of
from plant_sim.model.buffer import Buffer, ReleaseQueue
from plant_sim.model.line import Line
from plant_sim.model.orders import DemandSamplers, OrderBook
from plant_sim.model.station import Proc, Station, StationBehaviour, StopMode
from plant_sim.model.supply import MaterialStock
from plant_sim.random_streams import RandomStreams
from plant_sim.records import Emit, ProcessSample, ScenarioEvent, ShiftChange
from plant_sim.scenario import LineSpec, Scenario, StationSpec
from plant_sim.states import StationState

S = StationState
_NOISE_BLOCK = 1024  # normal draws made at once for a station's temperature noise


@dataclass
class Plant:
    """Everything the model built, for the simulation driver and commands from outside."""

    lines: list[Line]
    stations: dict[str, Station]
    orders: OrderBook | None
    stocks: dict[str, MaterialStock] = field(default_factory=dict)


def build_plant(
    env: simpy.Environment, scenario: Scenario, streams: RandomStreams, emit: Emit
) -> Plant:
    """Create every process of the plant in scenario order (which keeps runs deterministic)."""
    stocks = _build_stocks(env, scenario, streams, emit)
    calendars = _calendar_factory(scenario)
    lines, stations = [], {}
    for spec in scenario.lines:
        line = _build_line(env, scenario, spec, stocks, emit)
        for position, station_spec in enumerate(spec.stations):
            station = Station(
                env,
                spec.id,
                station_spec.id,
                _behaviour(scenario, spec, station_spec, streams),
                PauseCursor(calendars(station_spec.id)),
                emit,
                line.hooks_for(position),
                temperature_c=station_spec.process.ambient_c,
            )
            line.stations.append(station)
            stations[station.id] = station
        lines.append(line)
    orders = _build_orders(env, scenario, lines, streams, emit)
    for station in stations.values():
        station.start()
    if orders is not None:
        orders.start()
    env.process(_sample_process_values(env, scenario, stations, streams, emit))
    if scenario.calendar is not None:
        env.process(_announce_shifts(env, calendars(None), emit))
    env.process(_announce_events(env, scenario, emit))
    return Plant(lines, stations, orders, stocks)


def _build_stocks(
    env: simpy.Environment, scenario: Scenario, streams: RandomStreams, emit: Emit
) -> dict[str, MaterialStock]:
    if scenario.supply is None:
        return {}
    stocks = {}
    for m in scenario.supply.materials:
        outages = [
            (e.at, e.at + e.duration)
            for e in scenario.events
            if e.kind == "supplier_outage" and e.supplier == m.supplier
        ]
        lead = make_sampler(m.lead_time, streams.get(f"material.{m.id}.lead_time"))
        stocks[m.id] = MaterialStock(
            env, m.id, m.initial, m.reorder_point, m.order_quantity, lead, outages, emit
        )
    return stocks


def plant_calendar(scenario: Scenario) -> WorkCalendar:
    """The plant's calendar (shifts, breaks, days off; no station's maintenance)."""
    return _calendar_factory(scenario)(None)


def _calendar_factory(scenario: Scenario):
    start = scenario.start_time
    local = None if scenario.timezone is None else LocalDays(start, scenario.timezone)
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (start - midnight).total_seconds()
    windows: list[tuple[float, float, str, list[str] | None]] = []
    if scenario.calendar is not None:
        windows += [
            (m.start, m.start + m.duration, "maintenance", m.stations)
            for m in scenario.calendar.maintenance
        ]
    windows += [
        (e.at, e.at + e.duration, e.name, [e.station])
        for e in scenario.events
        if e.kind == "station_maintenance"
    ]

    def calendar_of(station: str | None) -> WorkCalendar:
        mine = [
            (s, e, r)
            for s, e, r, who in windows
            if station is not None and (who is None or station in who)
        ]
        return WorkCalendar(scenario.calendar, start.weekday(), offset, mine, local)

    return calendar_of


def _build_line(
    env: simpy.Environment,
    scenario: Scenario,
    spec: LineSpec,
    stocks: dict[str, MaterialStock],
    emit: Emit,
) -> Line:
    products = scenario.line_products(spec)
    release = None if scenario.demand is None else ReleaseQueue(env, spec.id, emit)
    materials = {}
    for p in scenario.products:
        if p.id in products and p.material is not None:
            materials[p.id] = (stocks[p.material], p.material_per_unit)
    cap = scenario.release.max_wip
    wip_cap = None if cap is None else simpy.Container(env, capacity=cap, init=cap)
    line = Line(env, spec.id, emit, products, release, materials, wip_cap)
    line.buffers = [Buffer(env, spec.id, b.id, b.capacity, emit) for b in spec.buffers]
    return line


def _behaviour(
    scenario: Scenario, line: LineSpec, spec: StationSpec, streams: RandomStreams
) -> StationBehaviour:
    name = spec.id
    products = scenario.line_products(line)
    dists = spec.cycle_times or dict.fromkeys(products, spec.cycle_time)
    cycle = {p: make_sampler(d, streams.get(f"{name}.cycle.{p}")) for p, d in dists.items()}  # type: ignore[arg-type]
    planned = {}
    for p, d in dists.items():
        explicit = (spec.planned_cycle_times or {}).get(p, spec.planned_cycle_time)
        planned[p] = explicit if explicit is not None else mean_of(d)  # type: ignore[arg-type]
    rework = {
        p: make_sampler(spec.rework_time or d, streams.get(f"{name}.rework.{p}"))  # type: ignore[arg-type]
        for p, d in dists.items()
    }
    stops = [
        StopMode(
            f.name,
            S.DOWN,
            make_sampler(f.tbf, streams.get(f"{name}.failure.{f.name}.tbf")),
            make_sampler(f.ttr, streams.get(f"{name}.failure.{f.name}.ttr")),
        )
        for f in spec.failures
    ]
    if spec.minor_stops is not None:
        ms = spec.minor_stops
        stops.append(
            StopMode(
                "minor_stop",
                S.MINOR_STOP,
                make_sampler(ms.tbs, streams.get(f"{name}.minor_stop.tbs")),
                make_sampler(ms.duration, streams.get(f"{name}.minor_stop.duration")),
            )
        )
    pw = spec.power_kw
    power = {
        S.PROCESSING: pw.processing,
        S.SETUP: pw.setup,
        S.MINOR_STOP: pw.waiting,
        S.STARVED: pw.waiting,
        S.BLOCKED: pw.waiting,
        S.IDLE: pw.waiting,
        S.DOWN: pw.down,
        S.PLANNED_DOWNTIME: pw.off_shift,
        S.OFF_SHIFT: pw.off_shift,
    }
    setup = None if spec.setup is None else make_sampler(spec.setup, streams.get(f"{name}.setup"))
    return StationBehaviour(
        cycle,
        planned,
        setup,
        rework,
        stops,
        spec.scrap,
        spec.rework,
        streams.get(f"{name}.quality"),
        power,
    )


def _build_orders(
    env: simpy.Environment,
    scenario: Scenario,
    lines: list[Line],
    streams: RandomStreams,
    emit: Emit,
) -> OrderBook | None:
    demand = scenario.demand
    if demand is None:
        return None

    def sampler(spec, name):
        return None if spec is None else make_sampler(spec, streams.get(f"demand.{name}"))

    pick = streams.get("demand.mix")
    samplers = DemandSamplers(
        sampler(demand.interarrival, "interarrival"),
        sampler(demand.quantity, "quantity"),
        sampler(demand.due_in, "due_in"),
        pick.random,
    )
    surges = [
        (e.at, e.at + e.duration, e.factor) for e in scenario.events if e.kind == "demand_surge"
    ]
    return OrderBook(
        env, demand, scenario.release.rule, scenario.release.lot_size, lines, samplers, surges, emit
    )


def _noise(stream: random.Random, sd: float) -> Callable[[], float]:
    """Endless N(0, sd) draws in blocks from a numpy generator seeded by the named stream.

    A block's draws are handed out by a C-level iterator (no generator resumed per draw).
    """
    if sd == 0.0:
        return itertools.repeat(0.0).__next__
    rng = np.random.default_rng(stream.getrandbits(128))

    def block() -> list[float]:
        return (rng.standard_normal(_NOISE_BLOCK) * sd).tolist()

    return itertools.chain.from_iterable(iter(block, None)).__next__


def _sample_process_values(
    env: simpy.Environment,
    scenario: Scenario,
    stations: dict[str, Station],
    streams: RandomStreams,
    emit: Emit,
) -> Proc:
    """Every sample period: temperature (first-order lag towards the state's target), power,
    and the energy counter of every station."""
    period = scenario.telemetry.sample_period
    plan = _sample_plan(scenario, stations, streams)
    while True:
        yield env.timeout(period)
        now = env.now
        for station, line, sid, target_of, power_of, decay, noise in plan:
            state = station.state
            target = target_of[state]
            temperature = target + (station.temperature_c - target) * decay
            station.temperature_c = temperature
            if state is None:
                power, energy = 0.0, station.energy_kwh
            else:
                power = power_of[state]
                energy = station.energy_kwh + power * (now - station.since) / 3600.0
            emit(ProcessSample(now, line, sid, temperature + noise(), power, energy, station.speed))


class _SamplePlan(NamedTuple):
    """What sampling needs of one station that does not change during a run."""

    station: Station
    line: str
    station_id: str
    target_of: dict[StationState | None, float]
    power_of: Mapping[StationState, float]
    decay: float
    noise: Callable[[], float]


def _sample_plan(
    scenario: Scenario, stations: dict[str, Station], streams: RandomStreams
) -> list[_SamplePlan]:
    """Per station, what sampling needs that does not change: names, the temperature target of
    each state (ambient when no state yet), the power table, the lag's decay and the noise."""
    period = scenario.telemetry.sample_period
    specs = {s.id: s.process for line in scenario.lines for s in line.stations}
    hot_states = (S.PROCESSING, S.SETUP)
    plan = []
    for sid, station in stations.items():
        p = specs[sid]
        decay = math.exp(-period / p.time_constant_s) if p.time_constant_s > 0 else 0.0
        noise = _noise(streams.get(f"{sid}.temperature"), p.noise_c)
        target_of: dict[StationState | None, float] = {
            state: p.processing_c if state in hot_states else p.ambient_c for state in S
        }
        target_of[None] = p.ambient_c
        plan.append(
            _SamplePlan(
                station, station.line, station.id, target_of, station.behaviour.power, decay, noise
            )
        )
    return plan


def _announce_shifts(env: simpy.Environment, calendar: WorkCalendar, emit: Emit) -> Proc:
    previous_end = None
    for window in calendar.shifts():
        if previous_end is not None and window.start > previous_end:
            if previous_end > env.now:
                yield env.timeout(previous_end - env.now)
            emit(ShiftChange(env.now, None))
        if window.start > env.now:
            yield env.timeout(window.start - env.now)
        emit(ShiftChange(env.now, window.name))
        previous_end = window.end


def _announce_events(env: simpy.Environment, scenario: Scenario, emit: Emit) -> Proc:
    marks = []
    for e in scenario.events:
        target = getattr(e, "supplier", None) or getattr(e, "station", None)
        marks.append((e.at, 0, e.name, e.kind, "start", target))
        marks.append((e.at + e.duration, 1, e.name, e.kind, "end", target))
    for at, _, name, kind, phase, target in sorted(marks, key=lambda m: (m[0], m[1])):
        if at > env.now:
            yield env.timeout(at - env.now)
        emit(ScenarioEvent(env.now, name, kind, phase, target))
