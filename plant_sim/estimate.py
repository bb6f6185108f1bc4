"""An upper estimate of a run's size before it starts: records and the memory they take.

The estimate assumes every line runs saturated at its slowest station's mean cycle time (a run
with little demand, failures or shifts makes fewer records) and counts, per part, one part
record and two state changes per station, two buffer levels per buffer, its release and exit
and one stock change; two state changes per failure or minor stop as if the station always
worked; plus process samples and order events. On the example scenarios it is
between 1 and 5 times the real count (tests/plant_sim/test_estimate.py).
"""

from __future__ import annotations

from typing import NamedTuple

from plant_sim.distributions import mean_of
from plant_sim.scenario import LineSpec, Scenario

HELD_BYTES_PER_RECORD = 300
"""Memory per record of a run that keeps its records (a what-if replication): about 130-160
bytes measured (tracemalloc) for the record itself, plus the KPI columns made from them."""
STREAMED_BYTES_PER_RECORD = 15
"""Memory per record of ``twin run``, which streams records and folds them into its KPIs as it
goes (``analytics.stream_report``): 12 bytes measured (max RSS 72.7 MiB for 7 days of
plant_3lines, 606,074 records, against 65.6 MiB for 1 hour; with ``--out run.parquet``, 90
days took 25 MiB more than 30 days for 5.8 million more records)."""
WARN_RECORDS = 20_000_000
"""A run estimated above this many records gets a warning before it starts."""


class RunEstimate(NamedTuple):
    """What a run will make at most: records, and bytes of memory to keep them."""

    records: int
    memory_bytes: int

    def describe(self) -> str:
        """``about 1.2 million records, 360 MB`` for a log line."""
        return (
            f"up to about {self.records / 1e6:,.1f} million records "
            f"({self.memory_bytes / 1e6:,.0f} MB in memory)"
        )


def _line_parts_per_s(line: LineSpec) -> float:
    slowest = 0.0
    for station in line.stations:
        dists = [station.cycle_time] if station.cycle_time else []
        dists += list((station.cycle_times or {}).values())
        means = [mean_of(d) for d in dists]
        if means:
            slowest = max(slowest, sum(means) / len(means))
    return 1.0 / slowest if slowest > 0 else 0.0


def estimate_run(
    scenario: Scenario, until_s: float, bytes_per_record: int = HELD_BYTES_PER_RECORD
) -> RunEstimate:
    """Return the upper estimate of the records a run of ``until_s`` seconds makes."""
    records = 0.0
    for line in scenario.lines:
        per_part = 3 * len(line.stations) + 2 * len(line.buffers) + 3
        records += _line_parts_per_s(line) * per_part * until_s
    for station in (s for line in scenario.lines for s in line.stations):
        stops = [f.tbf for f in station.failures]
        stops += [station.minor_stops.tbs] if station.minor_stops else []
        records += sum(2 * until_s / mean_of(d) for d in stops if mean_of(d) > 0)
    stations = sum(len(line.stations) for line in scenario.lines)
    records += stations * until_s / scenario.telemetry.sample_period
    demand = scenario.demand
    if demand is not None and demand.interarrival is not None:
        records += 5 * until_s / mean_of(demand.interarrival)
    return RunEstimate(round(records), round(records) * bytes_per_record)


def large_run_warning(
    scenario: Scenario,
    until_s: float,
    option: str = "--until",
    bytes_per_record: int = HELD_BYTES_PER_RECORD,
) -> str | None:
    """Return a warning for a run estimated above ``WARN_RECORDS``, or ``None``.

    ``option`` is the command-line option that shortens the run."""
    estimate = estimate_run(scenario, until_s, bytes_per_record)
    if estimate.records <= WARN_RECORDS:
        return None
    return (
        f"a run of {until_s / 86400:,.1f} days of {scenario.name} makes {estimate.describe()}; "
        f"it may take long and run out of memory (shorten it with {option})"
    )
