"""ISO 22400-2 time elements and quantities of one scope over one window, and their roll-up.

``Elements`` holds sums only (seconds, counts, kWh), so two adjacent windows of the same scope
add field by field (``a + b``), and every KPI is a ratio of these sums, never an average of
ratios. Booking of time follows ``plant_sim.states.STATE_INFO``:

====================  ==================================================================
APT                   PROCESSING
AUST                  SETUP
ADET                  MINOR_STOP, DOWN (delay; each new DOWN stop is one failure event FE)
ADOT                  STARVED, BLOCKED, IDLE (inside planned busy time)
PDOT                  PLANNED_DOWNTIME (inside POT, outside PBT)
outside               OFF_SHIFT (outside planned operation time)
unobserved            no record covers the time (before a station's first state, after the end)
====================  ==================================================================

PBT = APT + AUST + ADET + ADOT, POT = PBT + PDOT, and ``calendar_s`` (the work-unit time of the
window) = POT + outside + unobserved exactly.

Roll-up (documented rule): a line's time elements, energy and PRI-weighted output are the sums
over its stations (so line availability is ΣAPT / ΣPBT); ``window_s`` is the window length, taken
once. Line output is counted at the last station: GQ and RQ are the last station's, SQ is scrap
at any station of the line and PQ = PQ(last) + SQ(upstream), so PQ = GQ + SQ + RQ holds for the
line and upstream scrap lowers its quality ratio. Line first-pass yield comes from line exits:
finished parts never judged scrap or rework / all parts that left. A plant is the sum of its
lines (window taken once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from analytics.columns import MATERIAL_STARVED, STATE_CODES, UNOBSERVED, StationColumns
from analytics.timeline import bin_index, count_by_bin, new_stop_mask, state_time_by_bin
from plant_sim.states import STATE_INFO, IsoElement, StationState

_C = STATE_CODES
_S = StationState


@dataclass(frozen=True, slots=True)
class Elements:
    """Summed ISO 22400 elements of one scope over one window (seconds, counts, kWh)."""

    window_s: float = 0.0  # length of the window (taken once per scope)
    calendar_s: float = 0.0  # work-unit time: window length x number of work units
    apt_s: float = 0.0  # actual production time
    aust_s: float = 0.0  # actual unit setup time
    adet_s: float = 0.0  # actual unit delay time (minor stops, breakdowns)
    adot_s: float = 0.0  # actual unit down time (starved, blocked, idle)
    pdot_s: float = 0.0  # planned down time (planned maintenance)
    outside_s: float = 0.0  # outside planned operation time (off shift)
    unobserved_s: float = 0.0  # not covered by any state record
    down_s: float = 0.0  # time in DOWN (sum of times to restoration, TTR)
    minor_stop_s: float = 0.0
    starved_s: float = 0.0  # includes material_starved_s
    blocked_s: float = 0.0
    idle_s: float = 0.0
    material_starved_s: float = 0.0  # starved for raw material
    failures: int = 0  # FE: failure events starting in the window
    minor_stops: int = 0  # minor stops starting in the window
    pq: int = 0  # produced quantity
    gq: int = 0  # good quantity
    sq: int = 0  # scrap quantity
    rq: int = 0  # rework quantity
    gp: int = 0  # good parts, first pass
    ip: int = 0  # inspected parts
    pri_pq_s: float = 0.0  # Σ planned run time per item over produced units (PRI x PQ)
    energy_kwh: float = 0.0
    idle_energy_kwh: float = 0.0  # energy during ADOT and PDOT
    off_shift_energy_kwh: float = 0.0  # energy outside planned operation time

    def __add__(self, other: Elements) -> Elements:
        """Return the elements of two adjacent windows of the same scope (every field summed)."""
        return Elements(*(getattr(self, n) + getattr(other, n) for n in _FIELDS))

    @property
    def pbt_s(self) -> float:
        """Planned busy time: APT + AUST + ADET + ADOT."""
        return self.apt_s + self.aust_s + self.adet_s + self.adot_s

    @property
    def pot_s(self) -> float:
        """Planned operation time: PBT + PDOT."""
        return self.pbt_s + self.pdot_s

    @property
    def aupt_s(self) -> float:
        """Actual unit processing time: APT + AUST."""
        return self.apt_s + self.aust_s

    @property
    def aubt_s(self) -> float:
        """Actual unit busy time: APT + AUST + ADET."""
        return self.apt_s + self.aust_s + self.adet_s

    @property
    def operating_s(self) -> float:
        """Operating time between failures (busy time without delays): APT + AUST."""
        return self.aupt_s

    def as_fields(self) -> dict[str, float]:
        """Return the stored fields by name."""
        return {n: getattr(self, n) for n in _FIELDS}

    def as_dict(self) -> dict[str, float]:
        """Return every field and derived element by name."""
        out = {n: getattr(self, n) for n in _FIELDS}
        out.update(pbt_s=self.pbt_s, pot_s=self.pot_s, aupt_s=self.aupt_s, aubt_s=self.aubt_s)
        return out


_FIELDS = tuple(f.name for f in fields(Elements))
_INT_FIELDS = frozenset({"failures", "minor_stops", "pq", "gq", "sq", "rq", "gp", "ip"})


def total(parts: Sequence[Elements]) -> Elements:
    """Return the sum of adjacent windows of one scope (``Elements()`` for none)."""
    out = Elements()
    for p in parts:
        out = out + p
    return out


def _codes_of(element: IsoElement) -> list[int]:
    """Return the state codes booked to an ISO element."""
    codes = [_C[s] for s, info in STATE_INFO.items() if info.iso == element]
    if element == STATE_INFO[_S.STARVED].iso:
        codes.append(MATERIAL_STARVED)
    return codes


_ELEMENT_CODES = {
    "apt_s": _codes_of(IsoElement.APT),
    "aust_s": _codes_of(IsoElement.AUST),
    "adet_s": _codes_of(IsoElement.ADET),
    "adot_s": _codes_of(IsoElement.ADOT),
    "pdot_s": _codes_of(IsoElement.PDOT),
    "outside_s": _codes_of(IsoElement.OUTSIDE),
    "unobserved_s": [UNOBSERVED],
    "down_s": [_C[_S.DOWN]],
    "minor_stop_s": [_C[_S.MINOR_STOP]],
    "starved_s": [_C[_S.STARVED], MATERIAL_STARVED],
    "blocked_s": [_C[_S.BLOCKED]],
    "idle_s": [_C[_S.IDLE]],
    "material_starved_s": [MATERIAL_STARVED],
}
_IDLE_ENERGY_CODES = _ELEMENT_CODES["adot_s"] + _ELEMENT_CODES["pdot_s"]


BinColumns = dict[str, np.ndarray]
"""Elements of one scope for a sequence of bins: one array (one value per bin) per field."""


def station_bins(
    st: StationColumns, end_s: float, edges: np.ndarray, include_end: bool = True
) -> BinColumns:
    """Return one station's elements for each bin ``[edges[k], edges[k+1])`` as columns.

    ``end_s`` closes the last state interval (the run end). Events (parts, failures) at exactly
    the last edge count in the last bin when ``include_end`` is true (a window ending at the
    run end); otherwise bins are half-open.
    """
    time, energy = state_time_by_bin(st.t, st.code, st.power_kw, end_s, edges)
    cols: BinColumns = {n: time[:, c].sum(axis=1) for n, c in _ELEMENT_CODES.items()}
    cols["window_s"] = np.diff(edges)
    cols["calendar_s"] = np.diff(edges)
    cols["energy_kwh"] = energy.sum(axis=1)
    cols["idle_energy_kwh"] = energy[:, _IDLE_ENERGY_CODES].sum(axis=1)
    cols["off_shift_energy_kwh"] = energy[:, _ELEMENT_CODES["outside_s"]].sum(axis=1)
    new_stop = new_stop_mask(st.code)
    for name, code in (("failures", _C[_S.DOWN]), ("minor_stops", _C[_S.MINOR_STOP])):
        cols[name] = count_by_bin(st.t[new_stop & (st.code == code)], edges, include_end)
    part_bin = bin_index(st.part_t, edges, include_end)  # once for every part count
    nb = len(edges) - 1
    for name, res in (("gq", 0), ("sq", 1), ("rq", 2)):
        b = part_bin[st.part_result == res]
        cols[name] = np.bincount(b[b >= 0], minlength=nb)
    cols["pq"] = cols["gq"] + cols["sq"] + cols["rq"]
    # Each PartDone is a part's first judgement at this station, so GP/IP = GQ/PQ here.
    cols["gp"], cols["ip"] = cols["gq"], cols["pq"]
    keep = part_bin >= 0
    cols["pri_pq_s"] = np.bincount(part_bin[keep], weights=st.part_pri_s[keep], minlength=nb)
    for name in _INT_FIELDS:
        cols[name] = cols[name].round().astype(np.int64)
    return cols


def station_elements(
    st: StationColumns, end_s: float, edges: np.ndarray, include_end: bool = True
) -> list[Elements]:
    """Return one station's ``Elements`` for each bin (see ``station_bins``)."""
    return bins_to_elements(station_bins(st, end_s, edges, include_end))


def bins_to_elements(cols: BinColumns) -> list[Elements]:
    """Turn per-bin columns into one ``Elements`` per bin."""
    lists = {name: cols[name].tolist() for name in _FIELDS}
    n = len(lists["window_s"])
    return [Elements(**{name: lists[name][k] for name in _FIELDS}) for k in range(n)]


_F64 = np.dtype(np.float64)
#: dtypes whose one-element sum is the element itself (int64) or 0.0 + the element (float64).
_ONE_BIN = frozenset({_F64, np.dtype(np.int64)})


def bins_total(cols: BinColumns, bins: Sequence[int] | None = None) -> Elements:
    """Return the sum over all bins (or over ``bins``) as one ``Elements``.

    Fields of one dtype are summed together as the rows of one C-contiguous matrix, which
    gives the same values as summing each field's array on its own, with far fewer calls.
    """
    arrays = [cols[name] for name in _FIELDS]
    if (
        bins is not None
        and len(bins) == 1
        and all(a.dtype in _ONE_BIN and a.ndim == 1 for a in arrays)
    ):
        # One bin: its values as they are (a float sum of [x] is 0.0 + x, so -0.0 gives 0.0).
        k = int(bins[0])
        return Elements(
            **{
                name: a.item(k) + 0.0 if a.dtype == _F64 else a.item(k)
                for name, a in zip(_FIELDS, arrays, strict=True)
            }
        )
    shape = arrays[0].shape
    if len(shape) != 1 or any(a.shape != shape for a in arrays):
        pick = (lambda a: a) if bins is None else (lambda a: a[list(bins)])
        return Elements(**{name: pick(cols[name]).sum().item() for name in _FIELDS})
    idx = None if bins is None else np.asarray(list(bins), dtype=np.intp)
    groups: dict[np.dtype, list[int]] = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.dtype, []).append(i)
    values: dict[str, object] = {}
    for members in groups.values():
        m = np.array([arrays[i] for i in members])
        if idx is not None:
            m = m.take(idx, axis=1)
        values.update(zip([_FIELDS[i] for i in members], m.sum(axis=1).tolist(), strict=True))
    return Elements(**values)  # type: ignore[arg-type]


def bins_each(cols: BinColumns) -> list[Elements]:
    """Return each bin's ``Elements``: ``[bins_total(cols, [k]) for k in bins]``, with one
    conversion of the columns to Python numbers instead of one per bin."""
    arrays = [cols[name] for name in _FIELDS]
    n = len(arrays[0]) if arrays[0].ndim == 1 else 0
    if not all(a.dtype in _ONE_BIN and a.ndim == 1 and len(a) == n for a in arrays):
        return [bins_total(cols, [k]) for k in range(len(cols["window_s"]))]
    # a float sum of [x] is 0.0 + x (-0.0 gives 0.0), as bins_total returns it
    lists = [[v + 0.0 for v in a.tolist()] if a.dtype == _F64 else a.tolist() for a in arrays]
    return [Elements(*row) for row in zip(*lists, strict=True)]


def _line_fields(summed: dict, last: dict, gp: object, ip: object) -> dict:
    """Apply the line output rule to summed station fields (works on numbers or arrays)."""
    out = dict(summed)
    out.update(
        pq=last["pq"] + (summed["sq"] - last["sq"]),
        gq=last["gq"],
        rq=last["rq"],
        gp=gp,
        ip=ip,
        window_s=last["window_s"],
    )
    return out


def rollup_line_bins(stations: Sequence[BinColumns], gp: np.ndarray, ip: np.ndarray) -> BinColumns:
    """Return a line's per-bin elements from its stations' (flow order); see module doc."""
    summed = {name: sum(s[name] for s in stations) for name in _FIELDS}
    return _line_fields(summed, stations[-1], np.asarray(gp), np.asarray(ip))


def rollup_plant_bins(lines: Sequence[BinColumns]) -> BinColumns:
    """Return the plant's per-bin elements: sums of lines, the window taken once."""
    out = {name: sum(ln[name] for ln in lines) for name in _FIELDS}
    out["window_s"] = lines[0]["window_s"]
    return out


def rollup_line(stations: Sequence[Elements], gp: int, ip: int) -> Elements:
    """Return a line's elements from its stations' (in flow order) and its exit counts.

    Sums every station field; the window is taken once; output is counted at the last
    station, with scrap anywhere on the line (see the module docstring); ``gp``/``ip`` are
    the line's first-pass and total exits.
    """
    if not stations:
        return Elements()
    summed = _sum_parallel(stations)
    fields_ = _line_fields(summed.as_fields(), stations[-1].as_fields(), gp, ip)
    fields_["window_s"] = summed.window_s
    return Elements(**fields_)


def rollup_plant(lines: Sequence[Elements]) -> Elements:
    """Return a plant's elements: the sum of its lines, the window taken once."""
    return _sum_parallel(lines) if lines else Elements()


def _sum_parallel(units: Sequence[Elements]) -> Elements:
    """Sum units that cover the same window: every field summed, ``window_s`` taken once."""
    return replace(total(units), window_s=max(u.window_s for u in units))
