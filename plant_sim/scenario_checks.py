"""Cross-reference checks of a schema-valid scenario: ids unique, every reference resolves."""

from __future__ import annotations

from plant_sim import naming
from plant_sim.distributions import mean_of
from plant_sim.records import MAX_TS_MS
from plant_sim.scenario import MAX_ORDER_QUANTITY, DemandSpec, Scenario

MAX_ORDERS_AT_ONCE = 1000
"""Most supplier orders one reorder check may place (order_quantity against the reorder point)."""
MIN_MEAN_S = 1e-6
"""Shortest mean of a time that moves the clock (cycle times, times between failures or stops,
the demand's interarrival). A shorter one stands the clock all but still: 1e-300 s steps never
reach the end of a run (at 100 years a float second has steps of 4.8e-7 s)."""


def cross_reference_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Return ``(path, problem)`` pairs; empty when the scenario hangs together."""
    problems: list[tuple[str, str]] = []
    problems += _unique_ids(scenario)
    problems += _line_problems(scenario)
    problems += _demand_problems(scenario)
    problems += _supply_problems(scenario)
    problems += _calendar_and_event_problems(scenario)
    problems += _clock_problems(scenario)
    return problems


def _clock_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """The run's timestamps must be ones InfluxDB can store (1970 to 2262)."""
    start_ms = scenario.start_time.timestamp() * 1000.0
    if start_ms < 0:
        return [("start_time", "must be 1970-01-01 or later (timestamps are epoch milliseconds)")]
    if start_ms + scenario.horizon * 1000.0 > MAX_TS_MS:
        return [("start_time", "start_time + horizon must end before 2262 (InfluxDB timestamps)")]
    return []


def _duplicates(ids: list[str]) -> set[str]:
    seen: set[str] = set()
    return {i for i in ids if i in seen or seen.add(i)}  # type: ignore[func-returns-value]


def _unique_ids(scenario: Scenario) -> list[tuple[str, str]]:
    out = []
    for dup in sorted(_duplicates([p.id for p in scenario.products])):
        out.append(("products", f"product id {dup!r} is used twice"))
    for dup in sorted(_duplicates([line.id for line in scenario.lines])):
        out.append(("lines", f"line id {dup!r} is used twice"))
    for dup in sorted(_duplicates(scenario.station_ids())):
        out.append(("lines", f"station id {dup!r} is used twice (station ids are plant-wide)"))
    for what, ids in (
        ("line", [li.id for li in scenario.lines]),
        ("station", scenario.station_ids()),
    ):
        for names in _same_topic_level(ids):
            out.append(
                (
                    "lines",
                    f"{what} ids {' and '.join(map(repr, names))} differ only in case "
                    "and would share one MQTT topic",
                )
            )
    return out


def _same_topic_level(ids: list[str]) -> list[list[str]]:
    """Groups of distinct ids that give the same topic level (``naming.topic_segment``)."""
    groups: dict[str, list[str]] = {}
    for name in dict.fromkeys(ids):
        groups.setdefault(naming.topic_segment(name), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def _line_problems(scenario: Scenario) -> list[tuple[str, str]]:
    product_ids = {p.id for p in scenario.products}
    out = []
    for li, line in enumerate(scenario.lines):
        where = f"lines[{li}]"
        for pi, product in enumerate(line.products or []):
            if product not in product_ids:
                out.append((f"{where}.products[{pi}]", f"no product {product!r}"))
        for dup in sorted(_duplicates([b.id for b in line.buffers])):  # one OPC UA node each
            out.append((f"{where}.buffers", f"buffer id {dup!r} is used twice in the line"))
        want = len(line.stations) - 1
        if len(line.buffers) != want:
            out.append((f"{where}.buffers", f"needs {want} buffer(s) between {want + 1} stations"))
        makes = [p for p in scenario.line_products(line) if p in product_ids]
        for si, station in enumerate(line.stations):
            out += _station_problems(f"{where}.stations[{si}]", station, makes)
    return out


def _station_problems(where: str, station, products: list[str]) -> list[tuple[str, str]]:
    out = []
    if (station.cycle_time is None) == (station.cycle_times is None):
        out.append((f"{where}.cycle_time", "give exactly one of cycle_time or cycle_times"))
    if station.cycle_times is not None:
        for product in products:
            if product not in station.cycle_times:
                out.append((f"{where}.cycle_times", f"no cycle time for product {product!r}"))
        for product in station.cycle_times:
            if product not in products:
                out.append((f"{where}.cycle_times.{product}", "the line does not make it"))
    for product in station.planned_cycle_times or {}:
        if product not in products:
            out.append((f"{where}.planned_cycle_times.{product}", "the line does not make it"))
    if station.scrap + station.rework > 1.0:
        out.append((f"{where}.rework", "scrap + rework probabilities exceed 1"))
    return out + _zero_time_problems(where, station)


def _zero_time_problems(where: str, station) -> list[tuple[str, str]]:
    """Times whose mean must be positive, or simulated time would stand still."""
    timed = [("cycle_time", station.cycle_time)]
    timed += [(f"cycle_times.{p}", d) for p, d in (station.cycle_times or {}).items()]
    timed += [(f"failures[{i}].tbf", f.tbf) for i, f in enumerate(station.failures)]
    if station.minor_stops is not None:
        timed.append(("minor_stops.tbs", station.minor_stops.tbs))
    return [
        (
            f"{where}.{path}",
            f"mean must be greater than 0 (at least {MIN_MEAN_S:g} s; "
            "simulated time would stand still)",
        )
        for path, dist in timed
        if dist is not None and not mean_of(dist) >= MIN_MEAN_S
    ]


def _demand_problems(scenario: Scenario) -> list[tuple[str, str]]:
    demand = scenario.demand
    if demand is None:
        return []
    makeable = {p for line in scenario.lines for p in scenario.line_products(line)}
    out = []
    for product, share in demand.mix.items():
        if product not in makeable:
            out.append((f"demand.mix.{product}", "no line makes this product"))
        if share < 0:
            out.append((f"demand.mix.{product}", "a share must be >= 0"))
    if demand.interarrival is not None:
        out += _arrival_problems(demand)
    elif not demand.schedule:
        out.append(("demand", "give an interarrival process or a schedule of orders"))
    for oi, order in enumerate(demand.schedule):
        if order.product not in makeable:
            out.append((f"demand.schedule[{oi}].product", f"no line makes {order.product!r}"))
    return out


def _arrival_problems(demand: DemandSpec) -> list[tuple[str, str]]:
    """Problems of an order arrival process (``demand.interarrival`` is given)."""
    out = []
    if demand.interarrival is not None and not mean_of(demand.interarrival) >= MIN_MEAN_S:
        why = (
            f"mean must be greater than 0 (at least {MIN_MEAN_S:g} s; "
            "orders would arrive without end at one instant)"
        )
        out.append(("demand.interarrival", why))
    if demand.quantity is not None and mean_of(demand.quantity) > MAX_ORDER_QUANTITY:
        out.append(("demand.quantity", f"mean must be at most {MAX_ORDER_QUANTITY:,} units"))
    if not demand.mix or sum(demand.mix.values()) <= 0:
        out.append(("demand.mix", "an arrival process needs a product mix with shares > 0"))
    if demand.quantity is None:
        out.append(("demand.quantity", "an arrival process needs a quantity distribution"))
    if demand.due_in is None:
        out.append(("demand.due_in", "an arrival process needs a due_in distribution"))
    return out


def _supply_problems(scenario: Scenario) -> list[tuple[str, str]]:
    materials = {m.id for m in scenario.supply.materials} if scenario.supply else set()
    out = []
    for pi, product in enumerate(scenario.products):
        if product.material is not None and product.material not in materials:
            out.append(
                (f"products[{pi}].material", f"no material {product.material!r} under supply")
            )
    for mi, material in enumerate(scenario.supply.materials if scenario.supply else []):
        per_unit = [p.material_per_unit for p in scenario.products if p.material == material.id]
        need = material.reorder_point + max(per_unit, default=0.0)
        if need / material.order_quantity > MAX_ORDERS_AT_ONCE:
            out.append(
                (
                    f"supply.materials[{mi}].order_quantity",
                    f"must be at least 1/{MAX_ORDERS_AT_ONCE} of reorder_point + material_per_unit "
                    f"({need:g}): the stock would reorder without end at one instant",
                )
            )
    return out


def _calendar_and_event_problems(scenario: Scenario) -> list[tuple[str, str]]:
    stations = set(scenario.station_ids())
    suppliers = {m.supplier for m in scenario.supply.materials} if scenario.supply else set()
    out = []
    if scenario.calendar is not None:
        for mi, window in enumerate(scenario.calendar.maintenance):
            for si, station in enumerate(window.stations or []):
                if station not in stations:
                    out.append(
                        (f"calendar.maintenance[{mi}].stations[{si}]", f"no station {station!r}")
                    )
        if len(set(scenario.calendar.days_off)) == 7:
            out.append(("calendar.days_off", "every day is off: the plant would never work"))
        for si, shift in enumerate(scenario.calendar.shifts):
            if shift.start == shift.end:
                out.append((f"calendar.shifts[{si}]", "start and end are the same time"))
    for ei, event in enumerate(scenario.events):
        if event.kind == "station_maintenance" and event.station not in stations:
            out.append((f"events[{ei}].station", f"no station {event.station!r}"))
        if event.kind == "supplier_outage" and event.supplier not in suppliers:
            out.append((f"events[{ei}].supplier", f"no supplier {event.supplier!r} under supply"))
    return out
