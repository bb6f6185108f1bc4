"""ISO 22400-2 KPIs from summed elements: pure ratios of sums, ``None`` where undefined.

Rules (standards.md §1.4): every KPI is a ratio of the window's summed elements, never an
average of ratios; a ratio whose denominator is 0 is ``None`` (not 0, not 100 %); effectiveness
above 1 is legal (PRI is a planning standard) and is flagged, never clamped. OEE is
A × E × QR, computed in its reduced form Σ(PRI·PQ) × (GQ/PQ) / PBT; OEE and NEE are
undefined whenever one of their factors is (PBT = 0, PQ = 0 so QR is undefined, APT = 0 so E
is undefined): a planned window with no production reports A = 0 but OEE ``None``, not 0
(standards.md §1.4 rule 2). Definitions and units are in ``analytics.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from analytics.elements import Elements

#: Tolerance for flagging effectiveness above 1 (float noise is not a flag).
_OVER_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class KpiValues:
    """KPIs of one scope and window; field names are registry ids, ``None`` = undefined."""

    availability: float | None
    effectiveness: float | None
    quality_ratio: float | None
    oee: float | None
    nee: float | None
    technical_eff: float | None
    setup_rate: float | None
    allocation_eff: float | None
    utilization_eff: float | None
    throughput_uph: float | None
    scrap_ratio: float | None
    rework_ratio: float | None
    fpy: float | None
    mtbf_h: float | None
    mttr_h: float | None
    failures: int
    minor_stops: int
    energy_kwh: float
    epu_kwh: float | None
    epgu_kwh: float | None
    idle_energy_kwh: float
    blocked_ratio: float | None
    starved_ratio: float | None
    material_starved_h: float
    effectiveness_over_100: bool

    def as_dict(self) -> dict[str, float | int | bool | None]:
        """Return the values by registry id (plus the ``effectiveness_over_100`` flag)."""
        return {name: getattr(self, name) for name in _KPI_FIELDS}


#: Field names of ``KpiValues`` (all plain numbers: no ``asdict`` deep copy needed).
_KPI_FIELDS = tuple(f.name for f in fields(KpiValues))


def ratio(num: float, den: float) -> float | None:
    """Return ``num / den``, or ``None`` when the denominator is 0 (undefined)."""
    return None if den == 0 else num / den


def compute_kpis(e: Elements) -> KpiValues:
    """Return every element-based KPI of one scope over one window.

    OEE and NEE are ``None`` unless A, E and QR are all defined (PBT > 0, APT > 0, PQ > 0).
    """
    apt, pq, gq, pri_pq = e.apt_s, e.pq, e.gq, e.pri_pq_s
    pbt, aupt, aubt = e.pbt_s, e.aupt_s, e.aubt_s
    eff = ratio(pri_pq, apt)
    fe = e.failures
    defined = pbt > 0 and apt > 0 and pq > 0
    energy = e.energy_kwh
    return KpiValues(
        availability=ratio(apt, pbt),
        effectiveness=eff,
        quality_ratio=ratio(gq, pq),
        # OEE = A × E × QR in its reduced form Σ(PRI·PQ) × (GQ/PQ) / PBT.
        oee=pri_pq * (gq / pq) / pbt if defined else None,
        nee=(aupt / pbt) * (pri_pq / apt) * (gq / pq) if defined else None,
        technical_eff=ratio(apt, apt + e.adet_s),
        setup_rate=ratio(e.aust_s, aupt),
        allocation_eff=ratio(aubt, pbt),
        utilization_eff=ratio(apt, aubt),
        throughput_uph=ratio(pq * 3600.0, e.window_s),
        scrap_ratio=ratio(e.sq, pq),
        rework_ratio=ratio(e.rq, pq),
        fpy=ratio(e.gp, e.ip),
        mtbf_h=None if fe == 0 else aupt / fe / 3600.0,
        mttr_h=None if fe == 0 else e.down_s / fe / 3600.0,
        failures=fe,
        minor_stops=e.minor_stops,
        energy_kwh=energy,
        epu_kwh=ratio(energy, pq),
        epgu_kwh=ratio(energy, gq),
        idle_energy_kwh=e.idle_energy_kwh,
        blocked_ratio=ratio(e.blocked_s, pbt),
        starved_ratio=ratio(e.starved_s, pbt),
        material_starved_h=e.material_starved_s / 3600.0,
        effectiveness_over_100=eff is not None and eff > 1.0 + _OVER_TOL,
    )


def mtbf_note(e: Elements) -> str | None:
    """Return the ISO-style note for an undefined MTBF ("no failure in a window of X h")."""
    if e.failures:
        return None
    return f"no failure in a window of {e.operating_s / 3600.0:.1f} h operating time"
