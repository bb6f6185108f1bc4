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

from dataclasses import asdict, dataclass

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
        return asdict(self)


def ratio(num: float, den: float) -> float | None:
    """Return ``num / den``, or ``None`` when the denominator is 0 (undefined)."""
    return None if den == 0 else num / den


def _factors_defined(e: Elements) -> bool:
    """Return True when A, E and QR are all defined (PBT > 0, APT > 0, PQ > 0)."""
    return e.pbt_s > 0 and e.apt_s > 0 and e.pq > 0


def _oee(e: Elements) -> float | None:
    """Return OEE = A × E × QR in its reduced form Σ(PRI·PQ) × (GQ/PQ) / PBT, or ``None``."""
    if not _factors_defined(e):
        return None
    return e.pri_pq_s * (e.gq / e.pq) / e.pbt_s


def _nee(e: Elements) -> float | None:
    """Return NEE = (AUPT / PBT) × E × QR, or ``None`` when a factor is undefined."""
    if not _factors_defined(e):
        return None
    return (e.aupt_s / e.pbt_s) * (e.pri_pq_s / e.apt_s) * (e.gq / e.pq)


def compute_kpis(e: Elements) -> KpiValues:
    """Return every element-based KPI of one scope over one window."""
    eff = ratio(e.pri_pq_s, e.apt_s)
    fe = e.failures
    return KpiValues(
        availability=ratio(e.apt_s, e.pbt_s),
        effectiveness=eff,
        quality_ratio=ratio(e.gq, e.pq),
        oee=_oee(e),
        nee=_nee(e),
        technical_eff=ratio(e.apt_s, e.apt_s + e.adet_s),
        setup_rate=ratio(e.aust_s, e.aupt_s),
        allocation_eff=ratio(e.aubt_s, e.pbt_s),
        utilization_eff=ratio(e.apt_s, e.aubt_s),
        throughput_uph=ratio(e.pq * 3600.0, e.window_s),
        scrap_ratio=ratio(e.sq, e.pq),
        rework_ratio=ratio(e.rq, e.pq),
        fpy=ratio(e.gp, e.ip),
        mtbf_h=None if fe == 0 else e.operating_s / fe / 3600.0,
        mttr_h=None if fe == 0 else e.down_s / fe / 3600.0,
        failures=fe,
        minor_stops=e.minor_stops,
        energy_kwh=e.energy_kwh,
        epu_kwh=ratio(e.energy_kwh, e.pq),
        epgu_kwh=ratio(e.energy_kwh, e.gq),
        idle_energy_kwh=e.idle_energy_kwh,
        blocked_ratio=ratio(e.blocked_s, e.pbt_s),
        starved_ratio=ratio(e.starved_s, e.pbt_s),
        material_starved_h=e.material_starved_s / 3600.0,
        effectiveness_over_100=eff is not None and eff > 1.0 + _OVER_TOL,
    )


def mtbf_note(e: Elements) -> str | None:
    """Return the ISO-style note for an undefined MTBF ("no failure in a window of X h")."""
    if e.failures:
        return None
    return f"no failure in a window of {e.operating_s / 3600.0:.1f} h operating time"
