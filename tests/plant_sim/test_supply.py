"""Raw-material stock: the (s, Q) reorder policy of ``plant_sim.model.supply``."""

from __future__ import annotations

from plant_sim.scenario import parse_scenario
from plant_sim.simulation import run_batch

H = 3600.0


def _one_station(per_unit: float, initial: float, reorder_point: float, order_q: float):
    """A saturated one-station line drawing ``per_unit`` a part; deliveries take 1 h."""
    return parse_scenario(
        {
            "name": "draw_above_reorder_point",
            "seed": 1,
            "horizon": "12h",
            "products": [{"id": "a", "material": "steel", "material_per_unit": per_unit}],
            "lines": [
                {
                    "id": "l1",
                    "stations": [{"id": "s1", "cycle_time": {"kind": "constant", "value": 60}}],
                }
            ],
            "supply": {
                "materials": [
                    {
                        "id": "steel",
                        "supplier": "mill",
                        "initial": initial,
                        "reorder_point": reorder_point,
                        "order_quantity": order_q,
                        "lead_time": {"kind": "constant", "value": "1h"},
                    }
                ]
            },
        }
    )


def test_a_waiting_draw_reorders_although_the_level_is_above_the_reorder_point() -> None:
    """13 -> 8 -> 3: above the reorder point 2 but short of a draw of 5, so the draw waits.
    The inventory position after it (3 - 5) is below the reorder point: 10 are ordered and the
    line goes on (before the fix nothing was ordered and the line stopped for good at 3)."""
    records = run_batch(_one_station(5.0, 13.0, 2.0, 10.0), until_s=12 * H).records
    stock = [r for r in records if r.kind == "stock"]
    deliveries = [r.t for r in stock if r.cause == "delivery"]
    shortages = [r for r in stock if r.cause == "shortage"]
    assert shortages and shortages[0].level == 3.0
    assert deliveries, "the waiting draw ordered nothing"
    assert deliveries[0] == shortages[0].t + H  # ordered when the draw began to wait
    assert len(deliveries) >= 10
    released = sum(1 for r in records if r.kind == "release")
    assert released >= 20  # two parts per delivery hour, not two in all


def test_no_extra_order_when_what_is_on_order_covers_the_waiting_draw() -> None:
    """5 -> 3.5 -> 2 (reorder 6) -> 0.5: the draw of 1.5 waits, but the position 0.5 + 6 - 1.5
    is above the reorder point, so one order stays one order."""
    records = run_batch(_one_station(1.5, 5.0, 2.0, 6.0), until_s=1.5 * H).records
    deliveries = [r for r in records if r.kind == "stock" and r.cause == "delivery"]
    assert [r.level for r in deliveries] == [5.0]  # 0.5 + 6, less the waiting draw of 1.5
