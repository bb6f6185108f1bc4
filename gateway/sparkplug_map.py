"""Bring your own Sparkplug machines: foreign edge nodes' metrics -> the twin's records (pure).

A mapping file (YAML or JSON), in the style of the MQTT JSON mapping (``gateway.json_map``)::

    enterprise: acme
    site: plant1
    area: packaging
    run_id: spb-line2                    # runs are named <run_id>-<start epoch ms>
    state:
      metric: Status/MachineState        # the metric's name in the birth
      values: {1: processing, 2: setup, 3: down, 4: idle, 0: off_shift}
    counts:
      good: {metric: Counters/Good, cumulative: true}
      scrap: {metric: Counters/Scrap, cumulative: true}
    stations:
      - {group: Plant1, edge_node: PLC7, device: Capper, line: line2, station: capper,
         planned_cycle_time_s: 4, product: bottle}

A station is a Sparkplug device (``group``/``edge_node``/``device``) or, without ``device``, the
node metrics of an edge node. The host application (``gateway.sparkplug_host``) resolves the
aliases from the births and hands over each birth's and data message's metric values with their
timestamps (metric timestamp, else the payload's); ``SparkplugTranslator.translate`` turns them
into records in timestamp order: a state value -> a ``StateChange`` when the state changes, a
counter rise -> that many ``PartDone``. Births carry the current values: the first value of a
counter is its baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.json_map import CountField, parse_counts, parse_plant, parse_state, state_key
from gateway.machinery_map import MachineryTranslator, Mapping, MappingError, read_mapping_file
from plant_sim.records import Record
from plant_sim.states import StationState

MetricValue = tuple[str, Any, int | None]
"""(metric name, value, timestamp ms or None) as the host application read it."""
DeviceKey = tuple[str, str, str | None]
"""(group, edge node, device or None for node metrics)."""


class SparkplugMapError(ValueError):
    """Values the mapping cannot turn into records; the text is the dead letter's reason."""


@dataclass(frozen=True, slots=True)
class SparkplugMapping:
    """A whole Sparkplug mapping file."""

    plant: Mapping
    machines: dict[DeviceKey, str]
    """(group, edge node, device) -> the plant's machine key ``line/station``."""
    state_metric: str | None
    state_values: dict[str, StationState] = field(default_factory=dict)
    counts: dict[str, CountField] = field(default_factory=dict)


def load_sparkplug_mapping(path: Path) -> SparkplugMapping:
    """Read and check a Sparkplug mapping file; raises ``MappingError`` naming the field."""
    data = read_mapping_file(path)
    try:
        return parse_sparkplug_mapping(data)
    except MappingError as exc:
        raise MappingError(f"mapping file {path}: {exc}") from exc


def parse_sparkplug_mapping(data: Any) -> SparkplugMapping:
    """Check a parsed Sparkplug mapping; raises ``MappingError`` naming the field."""
    if not isinstance(data, dict):
        raise MappingError("expected a table with enterprise, site, area, state/counts, stations")
    plant = parse_plant(data, "sparkplug")
    machines: dict[DeviceKey, str] = {}
    for i, (entry, machine) in enumerate(zip(data["stations"], plant.machines, strict=True)):
        where = f"stations[{i}]"
        key = (
            _sparkplug_id(entry, "group", where),
            _sparkplug_id(entry, "edge_node", where),
            _sparkplug_id(entry, "device", where) if "device" in entry else None,
        )
        if key in machines:
            raise MappingError(f"{where}: {'/'.join(k for k in key if k)} is mapped twice")
        machines[key] = machine.machine
    state_metric, values = parse_state(data.get("state"), "metric")
    counts = parse_counts(data.get("counts", {}), "metric")
    if state_metric is None and not counts:
        raise MappingError("give state and/or counts: nothing would be recorded")
    return SparkplugMapping(plant, machines, state_metric, values, counts)


def _sparkplug_id(entry: dict[str, Any], key: str, where: str) -> str:
    """A Sparkplug id: a non-empty UTF-8 string without ``/``, ``+`` or ``#``."""
    value = entry.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= 200 or set(value) & set("/+#"):
        raise MappingError(f"{where}.{key}: expected a Sparkplug id (no '/', '+' or '#')")
    return value


class SparkplugTranslator:
    """Metric values of mapped devices -> the twin's records of one run (starts at the first)."""

    def __init__(self, mapping: SparkplugMapping, endpoint: str) -> None:
        self.mapping = mapping
        self.endpoint = endpoint
        self.records: MachineryTranslator | None = None
        self.next_n = 0
        """The record number of the next record of the run (``run_start`` is 0)."""

    def maps(self, key: DeviceKey) -> bool:
        """Whether the values of ``key`` are turned into records."""
        return key in self.mapping.machines

    def translate(
        self, key: DeviceKey, values: list[MetricValue], received_ms: int
    ) -> list[Record]:
        """The records of one message's values (the first also gives the run's ``run_start``);
        checked first, so a message with a bad value changes nothing."""
        mp = self.mapping
        machine = mp.machines[key]
        results = {spec.field: result for result, spec in mp.counts.items()}
        steps: list[tuple[int, str, Any]] = []
        for name, value, ts_ms in values:
            ts = received_ms if ts_ms is None else ts_ms
            if name == mp.state_metric:
                state = mp.state_values.get(state_key(value))
                if state is None:
                    raise SparkplugMapError(f"{name}: value {state_key(value)[:100]!r} not mapped")
                steps.append((ts, "state", state))
            elif name in results:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise SparkplugMapError(f"{name}: expected a count >= 0, got {value!r}"[:200])
                steps.append((ts, results[name], int(value)))
        if not steps:
            return []
        steps.sort(key=lambda s: s[0])  # stable: one timestamp keeps the message's order
        out: list[Record] = []
        if self.records is None:
            self.records = MachineryTranslator(mp.plant, steps[0][0], self.endpoint)
            out.append(self.records.run_start())
        for ts, what, value in steps:
            if what == "state":
                out += self.records.set_state(machine, ts, value, None)
            elif mp.counts[what].cumulative:
                out += self.records.counter(machine, what, value, ts)
            else:
                out += self.records.parts(machine, what, value, ts)
        return out

    def number(self, records: list[Record]) -> list[int]:
        """The record numbers of ``records``, the next of the run (a resend of a record keeps
        its number, so it overwrites its own point)."""
        first, self.next_n = self.next_n, self.next_n + len(records)
        return list(range(first, self.next_n))
