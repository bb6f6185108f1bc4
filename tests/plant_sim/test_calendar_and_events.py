"""Shifts, breaks, days off, maintenance, scenario events and injected failures."""

from __future__ import annotations

from plant_sim.records import Record
from plant_sim.simulation import Simulation, run_batch
from plant_sim.states import StationState
from tests.plant_sim.helpers import make, scenario_data, state_intervals

H = 3600.0
DAY = 24 * H


def spans_of(
    records: list[Record], station: str, state: StationState
) -> list[tuple[float, float, str | None]]:
    return [(a, b, why) for a, b, s, why in state_intervals(records)[station] if s is state]


def test_off_shift_breaks_and_days_off_follow_the_calendar() -> None:
    calendar = scenario_data("bottling_line")["calendar"]  # 06-22 in two shifts, Mon-Fri
    calendar["maintenance"][0]["stations"] = ["s2"]
    scenario = make(scenario_data("tandem_mm1"), calendar=calendar)  # starts Monday 00:00
    records = run_batch(scenario, until_s=8 * DAY).records
    off = spans_of(records, "s3", StationState.OFF_SHIFT)
    assert off[0] == (0.0, 6 * H, "off_shift")
    assert (22 * H, 30 * H, "off_shift") in off
    assert (4 * DAY + 22 * H, 5 * DAY, "off_shift") in off
    assert (5 * DAY, 7 * DAY, "day_off") in off, "Saturday and Sunday are days off"
    assert (7 * DAY + 22 * H, 8 * DAY, "off_shift") in off
    planned = spans_of(records, "s3", StationState.PLANNED_DOWNTIME)
    assert (10 * H, 10.5 * H, "break") in planned
    assert (DAY + 18 * H, DAY + 18.5 * H, "break") in planned
    assert not [p for p in planned if 5 * DAY <= p[0] < 7 * DAY], "no breaks on days off"
    maintenance = spans_of(records, "s2", StationState.PLANNED_DOWNTIME)
    assert (2 * DAY + 6 * H, 2 * DAY + 8 * H, "maintenance") in maintenance
    shifts = [(r.t, r.shift) for r in records if r.kind == "shift"]
    assert shifts[:3] == [(6 * H, "early"), (14 * H, "late"), (22 * H, None)]


def test_station_maintenance_event_takes_the_station_out() -> None:
    data = scenario_data("tandem_mm1")
    data["events"] = [
        {"kind": "station_maintenance", "at": "2h", "duration": "3h", "station": "s2"}
    ]
    records = run_batch(make(data), until_s=8 * H).records
    assert spans_of(records, "s2", StationState.PLANNED_DOWNTIME) == [
        (2 * H, 5 * H, "station_maintenance")
    ]
    marks = [(r.t, r.phase) for r in records if r.kind == "scenario_event"]
    assert marks == [(2 * H, "start"), (5 * H, "end")]


def test_supplier_outage_starves_the_line_of_material() -> None:
    data = scenario_data("tandem_mm1")
    data["products"] = [{"id": "unit", "material": "steel"}]
    data["supply"] = {
        "materials": [
            {
                "id": "steel",
                "supplier": "mill",
                "initial": 200,
                "reorder_point": 100,
                "order_quantity": 200,
                "lead_time": {"kind": "constant", "value": "1h"},
            }
        ]
    }
    base = run_batch(make(data), until_s=2 * DAY).records
    data["events"] = [{"kind": "supplier_outage", "at": "2h", "duration": "1d", "supplier": "mill"}]
    hit = run_batch(make(data), until_s=2 * DAY).records
    starved = sum(
        b - a for a, b, why in spans_of(hit, "s1", StationState.STARVED) if why == "material"
    )
    assert (
        sum(b - a for a, b, why in spans_of(base, "s1", StationState.STARVED) if why == "material")
        == 0
    )
    assert starved > 10 * H
    levels = [r.level for r in hit if r.kind == "stock"]
    assert min(levels) == 0 and max(levels) <= 300


def test_demand_surge_brings_more_orders() -> None:
    data = scenario_data("tandem_mm1")
    base = run_batch(make(data), until_s=DAY).records
    data["events"] = [{"kind": "demand_surge", "at": 0, "duration": "1d", "factor": 2.0}]
    surge = run_batch(make(data), until_s=DAY).records

    def arrived(records: list[Record]) -> int:
        return sum(1 for r in records if r.kind == "order" and r.event == "arrived")

    assert arrived(surge) > 1.7 * arrived(base)


def test_orders_ship_when_all_their_parts_are_finished() -> None:
    records = run_batch(make(scenario_data("plant_3lines")), until_s=2 * DAY).records
    shipped = {r.order_id: r for r in records if r.kind == "order" and r.event == "shipped"}
    assert shipped
    finished: dict[str, int] = {}
    for r in records:
        if r.kind == "exit" and r.outcome == "finished" and r.order_id in shipped:
            finished[r.order_id] = finished.get(r.order_id, 0) + 1
    for order_id, order in shipped.items():
        assert finished[order_id] == order.quantity


def test_injected_failure_takes_the_station_down_and_clear_ends_it() -> None:
    records: list[Record] = []
    sim = Simulation(make(scenario_data("tandem_mm1")), records.append)
    sim.run(1000.0)
    sim.inject_failure("s2", 600.0, reason="operator_test")
    sim.run(1300.0)
    sim.inject_failure("s3", 10_000.0)
    sim.run(1500.0)
    sim.clear_failure("s3")
    sim.run(3000.0)
    sim.finish()
    down2 = spans_of(records, "s2", StationState.DOWN)
    assert (1000.0, 1600.0, "operator_test") in down2
    down3 = spans_of(records, "s3", StationState.DOWN)
    assert (1300.0, 1500.0, "injected") in down3


def test_commands_name_an_unknown_station() -> None:
    sim = Simulation(make(scenario_data("tandem_mm1")), lambda r: None)
    for call in (lambda: sim.inject_failure("nope", 5), lambda: sim.clear_failure("nope")):
        try:
            call()
        except ValueError as exc:
            assert "'nope'" in str(exc)
        else:
            raise AssertionError("expected a ValueError")


def test_lot_size_interleaves_competing_orders() -> None:
    """Whole orders run one after the other; lots of 10 alternate, with a changeover each time."""
    data = scenario_data("tandem_mm1")
    data["products"] = [{"id": "unit"}, {"id": "other"}]
    data["lines"][0]["stations"][0]["setup"] = {"kind": "constant", "value": 60}
    data["demand"] = {
        "schedule": [
            {"at": 0, "product": "unit", "quantity": 100, "due_in": "1d"},
            {"at": 0, "product": "other", "quantity": 100, "due_in": "1d"},
        ]
    }

    def setups(lot_size: int | None) -> int:
        release = {"rule": "fifo", "lot_size": lot_size}
        records = run_batch(make(data, release=release), until_s=DAY).records
        shipped = [r for r in records if r.kind == "order" and r.event == "shipped"]
        assert len(shipped) == 2
        return len(spans_of(records, "s1", StationState.SETUP))

    assert setups(None) == 1
    assert setups(10) == 19
