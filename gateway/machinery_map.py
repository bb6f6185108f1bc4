"""Bring your own machines: the mapping from an OPC 40001-1 server to the twin's records (pure).

A mapping file (YAML or JSON) names the plant (``enterprise``, ``site``, ``area``), optionally a
``run_id`` prefix, and one entry per machine of the server's ``Machines`` folder::

    machines:
      - machine: Press7                  # browse name in Machines
        line: press_line                 # the twin's line and station ids
        station: press7
        planned_cycle_time_s: 20         # PRI: a Machinery server does not know it
        product: bracket                 # optional (default "unknown")
        counters:                        # browse paths below the machine, monotonic counts
          good: "urn:acme:press:Counters/urn:acme:press:Good"
          scrap: "urn:acme:press:Counters/urn:acme:press:Scrap"
    states:                              # optional overrides of DEFAULT_STATES
      NotExecuting/Processing: starved

A browse-path element is ``<namespace URI>:<name>`` (split at the last ``:``), or
``di:<name>``, ``machinery:<name>``, ``ua:<name>`` for the DI, Machinery and base namespaces.

``MachineryTranslator`` turns observed values into records: each (MachineryItemState,
MachineryOperationMode) pair becomes a ``StateChange`` under the state table, each increase of
a good or scrap counter that many ``PartDone`` records.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plant_sim.records import PartDone, Record, RunStart, StateChange
from plant_sim.states import StationState

logger = logging.getLogger(__name__)
MAX_STEP = 10_000
"""A counter that rises by more than this in one change is taken as reset, not as parts."""
ITEM_STATES = {0: "NotAvailable", 1: "OutOfService", 2: "NotExecuting", 3: "Executing"}
OPERATION_MODES = {0: "None", 1: "Maintenance", 2: "Setup", 3: "Processing"}
NAMESPACE_ALIASES = {
    "ua": "http://opcfoundation.org/UA/",
    "di": "http://opcfoundation.org/UA/DI/",
    "machinery": "http://opcfoundation.org/UA/Machinery/",
}
COUNTER_RESULTS = ("good", "scrap")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

# (MachineryItemState, MachineryOperationMode) -> the twin's state; "*" = any mode.
# OPC 40001-1 Annex C.2: Executing+Processing = APT, Executing+Setup = AUST, OutOfService = ADET,
# NotExecuting = ADOT, Maintenance = planned down time; NotAvailable (switched off) is outside
# the planned operation time. A Machinery server cannot tell starved from blocked from idle.
DEFAULT_STATES: dict[tuple[str, str], StationState] = {
    ("Executing", "Processing"): StationState.PROCESSING,
    ("Executing", "None"): StationState.PROCESSING,
    ("Executing", "Setup"): StationState.SETUP,
    ("Executing", "Maintenance"): StationState.PLANNED_DOWNTIME,
    ("OutOfService", "Maintenance"): StationState.PLANNED_DOWNTIME,
    ("OutOfService", "*"): StationState.DOWN,
    ("NotExecuting", "Maintenance"): StationState.PLANNED_DOWNTIME,
    ("NotExecuting", "*"): StationState.IDLE,
    ("NotAvailable", "*"): StationState.OFF_SHIFT,
}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class MachineMap:
    """One machine of the server and where its records go."""

    machine: str
    line: str
    station: str
    planned_cycle_time_s: float
    product: str = "unknown"
    counters: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """Result ("good" | "scrap") -> browse path as (namespace URI, name) pairs."""


@dataclass(frozen=True, slots=True)
class Mapping:
    """A whole mapping file."""

    enterprise: str
    site: str
    area: str
    machines: tuple[MachineMap, ...]
    run_id: str = "machinery"
    states: dict[tuple[str, str], StationState] = field(default_factory=dict)

    def by_machine(self) -> dict[str, MachineMap]:
        """The entries by browse name."""
        return {m.machine: m for m in self.machines}

    def state_of(self, item_state: int, mode: int) -> StationState:
        """The twin's state for a (MachineryItemState, MachineryOperationMode) pair."""
        item = ITEM_STATES.get(item_state, "OutOfService")
        op = OPERATION_MODES.get(mode, "None")
        for key in ((item, op), (item, "*")):
            if key in self.states:
                return self.states[key]
        return DEFAULT_STATES.get((item, op)) or DEFAULT_STATES[item, "*"]


def read_mapping_file(path: Path) -> Any:
    """The parsed content of a YAML or JSON mapping file; raises ``MappingError``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise MappingError(f"mapping file {path}: cannot read ({exc.strerror})") from exc
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise MappingError(f"mapping file {path}: not valid ({exc})") from exc


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; raises ``MappingError`` naming the field."""
    data = read_mapping_file(path)
    try:
        return parse_mapping(data)
    except MappingError as exc:
        raise MappingError(f"mapping file {path}: {exc}") from exc


def parse_mapping(data: Any) -> Mapping:
    """Check a mapping's parsed form; raises ``MappingError`` naming the field."""
    if not isinstance(data, dict):
        raise MappingError("expected a table with enterprise, site, area and machines")
    names = {k: check_name(data, k, k) for k in ("enterprise", "site", "area")}
    run_id = check_name(data, "run_id", "run_id", "machinery")
    raw = data.get("machines")
    if not isinstance(raw, list) or not raw:
        raise MappingError("machines: expected a non-empty list")
    machines = tuple(_machine(entry, i) for i, entry in enumerate(raw))
    seen: set[Any] = set()
    for m in machines:
        for key in (("machine", m.machine), ("station", m.line, m.station)):
            if key in seen:
                raise MappingError(f"machines: {key[0]} {key[1:]!r} is mapped twice")
            seen.add(key)
    return Mapping(
        machines=machines, run_id=run_id, states=_states(data.get("states", {})), **names
    )


def check_name(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    """``data[key]`` (or ``default``) if a plain name; else ``MappingError`` at ``where``."""
    value = data.get(key, default)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise MappingError(f"{where}: expected a name of 1-64 letters, digits, '_', '-', '.'")
    return value


def _machine(entry: Any, i: int) -> MachineMap:
    where = f"machines[{i}]"
    if not isinstance(entry, dict):
        raise MappingError(f"{where}: expected a table")
    unknown = set(entry) - {
        "machine",
        "line",
        "station",
        "planned_cycle_time_s",
        "product",
        "counters",
    }
    if unknown:
        raise MappingError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    machine = entry.get("machine")
    if not isinstance(machine, str) or not machine or len(machine) > 200:
        raise MappingError(f"{where}.machine: expected the machine's browse name")
    pri = entry.get("planned_cycle_time_s")
    if isinstance(pri, bool) or not isinstance(pri, int | float) or not 0 < pri < 1e7:
        raise MappingError(f"{where}.planned_cycle_time_s: expected a number of seconds > 0")
    counters = entry.get("counters", {})
    if not isinstance(counters, dict) or set(counters) - set(COUNTER_RESULTS):
        raise MappingError(f"{where}.counters: expected good and/or scrap browse paths")
    return MachineMap(
        machine=machine,
        line=check_name(entry, "line", f"{where}.line"),
        station=check_name(entry, "station", f"{where}.station"),
        planned_cycle_time_s=float(pri),
        product=check_name(entry, "product", f"{where}.product", "unknown"),
        counters={k: parse_path(v, f"{where}.counters.{k}") for k, v in counters.items()},
    )


def parse_path(text: Any, where: str) -> tuple[tuple[str, str], ...]:
    """``"uri:Name/uri:Name"`` -> ((uri, Name), ...); aliases ua, di, machinery."""
    if not isinstance(text, str) or not text:
        raise MappingError(f"{where}: expected a browse path such as di:OperationCounters/...")
    out = []
    for element in text.split("/"):
        uri, sep, name = element.rpartition(":")
        if not sep or not uri or not name:
            raise MappingError(f"{where}: {element!r} is not <namespace URI or alias>:<name>")
        out.append((NAMESPACE_ALIASES.get(uri, uri), name))
    return tuple(out)


def _states(raw: Any) -> dict[tuple[str, str], StationState]:
    if not isinstance(raw, dict):
        raise MappingError("states: expected a table 'ItemState/Mode: state'")
    out = {}
    for key, value in raw.items():
        item, _, mode = str(key).partition("/")
        if item not in ITEM_STATES.values() or (
            mode not in OPERATION_MODES.values() and mode != "*"
        ):
            raise MappingError(
                f"states: {key!r} is not <MachineryItemState>/<MachineryOperationMode or *>"
            )
        try:
            out[item, mode] = StationState(value)
        except ValueError:
            raise MappingError(f"states.{key}: unknown state {value!r}") from None
    return out


@dataclass(slots=True)
class _Station:
    item_state: int | None = None
    mode: int = 0
    state: StationState | None = None
    last_state_ms: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    parts: int = 0


class MachineryTranslator:
    """Observed Machinery values of mapped machines -> the twin's records of one run."""

    def __init__(self, mapping: Mapping, start_epoch_ms: int, endpoint: str) -> None:
        self.mapping = mapping
        self.start_epoch_ms = start_epoch_ms
        self.run_id = f"{mapping.run_id}-{start_epoch_ms}"
        self.endpoint = endpoint
        self._machines = mapping.by_machine()
        self._stations = {m: _Station() for m in self._machines}

    def run_start(self) -> RunStart:
        """The run's first record: the plant as the mapping declares it."""
        lines: dict[str, list[str]] = {}
        for m in self.mapping.machines:
            lines.setdefault(m.line, []).append(m.station)
        return RunStart(
            t=0.0,
            run_id=self.run_id,
            scenario=f"machinery {self.endpoint}"[:200],
            seed=0,
            start_epoch_ms=self.start_epoch_ms,
            horizon_s=None,
            enterprise=self.mapping.enterprise,
            site=self.mapping.site,
            area=self.mapping.area,
            lines=[{"line": k, "stations": v, "buffers": []} for k, v in lines.items()],
        )

    def t(self, ts_ms: int) -> float:
        """Simulation-style time of ``ts_ms``: seconds since the run start."""
        return (ts_ms - self.start_epoch_ms) / 1000.0

    def state(
        self, machine: str, ts_ms: int, *, item_state: int | None = None, mode: int | None = None
    ) -> list[Record]:
        """A new MachineryItemState and/or OperationMode value; a StateChange if the twin's
        state changes. Times never go back: an older timestamp is taken as the last one."""
        st = self._stations[machine]
        if item_state is not None:
            st.item_state = item_state
        if mode is not None:
            st.mode = mode
        if st.item_state is None:
            return []
        item, op = ITEM_STATES.get(st.item_state), OPERATION_MODES.get(st.mode)
        reason = f"{item or st.item_state}/{op or st.mode}"
        return self.set_state(machine, ts_ms, self.mapping.state_of(st.item_state, st.mode), reason)

    def set_state(
        self, machine: str, ts_ms: int, new: StationState, reason: str | None
    ) -> list[Record]:
        """The station is in ``new``: a StateChange if that differs from its last state."""
        st = self._stations[machine]
        if new == st.state:
            return []
        st.state = new
        st.last_state_ms = max(st.last_state_ms, ts_ms, self.start_epoch_ms)
        m = self._machines[machine]
        return [
            StateChange(
                t=self.t(st.last_state_ms),
                line=m.line,
                station=m.station,
                state=new,
                reason=reason,
                power_kw=0.0,
                product=m.product,
            )
        ]

    def parts(self, machine: str, result: str, n: int, ts_ms: int) -> list[Record]:
        """``n`` parts judged ``result`` at ``ts_ms`` (at most ``MAX_STEP``; more is logged)."""
        if n > MAX_STEP:
            logger.warning("%s: %d %s parts in one message: not recorded", machine, n, result)
            return []
        st = self._stations[machine]
        m = self._machines[machine]
        t = self.t(max(ts_ms, self.start_epoch_ms))
        out: list[Record] = []
        for _ in range(n):
            st.parts += 1
            out.append(
                PartDone(
                    t=t,
                    line=m.line,
                    station=m.station,
                    part_id=f"{m.station}-{st.parts}",
                    product=m.product,
                    order_id=None,
                    result=result,
                    cycle_time_s=m.planned_cycle_time_s,
                    planned_cycle_time_s=m.planned_cycle_time_s,
                )
            )
        return out

    def counter(self, machine: str, result: str, value: int, ts_ms: int) -> list[Record]:
        """A counter value: one PartDone per unit it rose by since the last value.

        The first value seen is the baseline (what was counted before is not this run's); a
        value below the last one is a reset and becomes the new baseline.
        """
        st = self._stations[machine]
        last = st.counts.get(result)
        st.counts[result] = value
        if last is None or value <= last:
            return []
        if value - last > MAX_STEP:
            logger.warning(
                "%s counter %s jumped from %d to %d: taken as a reset, no parts recorded",
                machine,
                result,
                last,
                value,
            )
            return []
        return self.parts(machine, result, value - last, ts_ms)
