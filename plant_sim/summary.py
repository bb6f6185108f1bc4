"""A run's plain tally per station and line: counts, hours in each state, throughput, WIP.

This is the simulator's own bookkeeping, computed straight from the records with no ISO
interpretation; the KPI engine in ``analytics`` is checked against it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter

from plant_sim.records import Record
from plant_sim.states import StationState


@dataclass
class StationTally:
    """Counts and state durations of one station."""

    line: str
    station: str
    parts: Counter[str] = field(default_factory=Counter)  # good / scrap / rework
    seconds_in: dict[StationState, float] = field(default_factory=lambda: defaultdict(float))


@dataclass
class LineTally:
    """Flow of one line: parts released, finished and scrapped, and time-weighted WIP."""

    line: str
    released: int = 0
    finished: int = 0
    scrapped: int = 0
    wip_area: float = 0.0  # integral of WIP over time, part-seconds
    wip_end: int = 0


@dataclass
class RunTally:
    """Everything ``tally`` found in a run."""

    duration_s: float
    stations: dict[str, StationTally]
    lines: dict[str, LineTally]


def tally(records: Iterable[Record]) -> RunTally:
    """Accumulate a run's records into per-station and per-line totals."""
    counter = Tally()
    counter.add(records)
    return counter.result()


_KIND = attrgetter("kind")
_TALLIED = frozenset({"state", "part", "release", "exit", "run_end"})


class Tally:
    """``tally`` for a run that arrives in batches: holds totals, never records."""

    def __init__(self) -> None:
        self.stations: dict[str, StationTally] = {}
        self.lines: dict[str, LineTally] = {}
        self._open_state: dict[str, tuple[float, StationState]] = {}
        self._wip_since: dict[str, float] = {}
        self._end = 0.0

    def add(self, records: Iterable[Record]) -> None:
        """Add a batch of records, in emission order."""
        stations, lines = self.stations, self.lines
        open_state, wip_since = self._open_state, self._wip_since
        batch = records if isinstance(records, list) else list(records)
        # Most records (process samples, buffer levels) count for nothing here: C-level maps
        # pick the others out, so the loop below sees about a third of a run's records.
        for r in compress(batch, map(_TALLIED.__contains__, map(_KIND, batch))):
            kind = r.kind
            if kind == "state":
                st = stations.get(r.station) or stations.setdefault(
                    r.station, StationTally(r.line, r.station)
                )
                if r.station in open_state:
                    t0, s0 = open_state[r.station]
                    st.seconds_in[s0] += r.t - t0
                open_state[r.station] = (r.t, r.state)
            elif kind == "part":
                st = stations.get(r.station) or stations.setdefault(
                    r.station, StationTally(r.line, r.station)
                )
                st.parts[r.result] += 1
            elif kind in ("release", "exit"):
                lt = lines.get(r.line) or lines.setdefault(r.line, LineTally(r.line))
                lt.wip_area += lt.wip_end * (r.t - wip_since.get(r.line, 0.0))
                wip_since[r.line] = r.t
                if kind == "release":
                    lt.released += 1
                    lt.wip_end += 1
                else:
                    lt.wip_end -= 1
                    if r.outcome == "finished":
                        lt.finished += 1
                    else:
                        lt.scrapped += 1
            elif kind == "run_end":
                self._end = r.t

    def result(self) -> RunTally:
        """Return the totals, with open state intervals and WIP closed at the run end."""
        end = self._end
        for sid, (t0, s0) in self._open_state.items():
            self.stations[sid].seconds_in[s0] += end - t0
        self._open_state = {}
        for lid, lt in self.lines.items():
            lt.wip_area += lt.wip_end * (end - self._wip_since.get(lid, 0.0))
            self._wip_since[lid] = end
        return RunTally(end, self.stations, self.lines)
