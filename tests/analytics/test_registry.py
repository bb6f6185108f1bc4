"""The KPI registry is the single description of every KPI the results carry."""

from __future__ import annotations

from dataclasses import fields

import pytest

import analytics
from analytics.bottleneck import StationBottleneck
from analytics.flow import FlowValues
from analytics.kpis import KpiValues
from analytics.registry import KPI_BY_ID, KPIS, kpi
from analytics.supply import SupplyValues

_NOT_KPIS = {
    "effectiveness_over_100",
    "released",
    "finished",
    "scrapped",
    "delivered_orders",
    "stockouts_by_material",
    "station",
}


@pytest.mark.parametrize("cls", [KpiValues, FlowValues, SupplyValues, StationBottleneck])
def test_every_result_field_is_a_registered_kpi(cls):
    """Result dataclass fields are registry ids (apart from counts and flags)."""
    names = {f.name for f in fields(cls)} - _NOT_KPIS
    assert names <= set(KPI_BY_ID), names - set(KPI_BY_ID)


def test_registry_entries_are_complete_and_unique():
    """Ids are unique; every entry has a formula, a unit and a direction; ratio bounds 0-1."""
    assert len(KPI_BY_ID) == len(KPIS)
    for k in KPIS:
        assert k.name and k.formula and k.unit and k.description
        assert k.better in ("higher", "lower", "none")
        if k.is_ratio and k.id not in ("effectiveness", "oee", "nee", "little_gap_ratio"):
            assert (k.low, k.high) == (0.0, 1.0), k.id
    assert KPI_BY_ID["effectiveness"].high is None  # may exceed 100 %
    assert KPI_BY_ID["setup_rate"].better == "lower"


def test_the_issue_kpis_are_all_registered():
    """Every KPI the issue names has an entry."""
    wanted = {
        "availability",
        "effectiveness",
        "quality_ratio",
        "oee",
        "nee",
        "technical_eff",
        "setup_rate",
        "allocation_eff",
        "utilization_eff",
        "throughput_uph",
        "scrap_ratio",
        "rework_ratio",
        "fpy",
        "mtbf_h",
        "mttr_h",
        "epu_kwh",
        "epgu_kwh",
        "idle_energy_kwh",
        "wip_avg",
        "flow_time_avg_s",
        "flow_time_p50_s",
        "flow_time_p95_s",
        "little_gap_ratio",
        "otd",
        "order_lead_time_avg_s",
        "backlog_orders",
        "fill_rate",
        "stockouts",
        "material_starved_h",
    }
    assert wanted <= set(KPI_BY_ID)


def test_unknown_kpi_names_the_id():
    """Looking up an unknown id says which."""
    with pytest.raises(KeyError, match="nope"):
        kpi("nope")


def test_public_api():
    """The package exports exactly its documented surface."""
    assert set(analytics.__all__) == {
        "KPIS",
        "KPI_BY_ID",
        "Elements",
        "KpiReport",
        "KpiSpec",
        "KpiValues",
        "ScopeResult",
        "ShiftResult",
        "compute_kpis",
        "compute_report",
        "rollup_line",
        "rollup_plant",
        "station_elements",
        "total",
    }
    for name in analytics.__all__:
        assert hasattr(analytics, name)
