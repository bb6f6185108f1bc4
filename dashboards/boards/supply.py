"""Supply and demand: order backlog, lead time, on-time delivery, stock and stock-outs."""

from __future__ import annotations

from dashboards import queries
from dashboards.model import (
    KPI_FILTER,
    dashboard,
    layout,
    panel,
    range_series,
    range_stat,
    target,
    variables,
)

UID = "twin-supply"


def build(timezone: str | None = None) -> dict:
    """Return the supply and demand dashboard."""
    backlog = panel(
        "timeseries",
        "Order backlog at each hour's end (orders, units, late)",
        [target(queries.backlog_query())],
        "short",
        "Orders arrived and not delivered at the end of each hour; late = past due.",
        decimals=0,
        interval="1h",
        custom={"lineInterpolation": "stepAfter"},
    )
    lead = panel(
        "timeseries",
        "Order lead time p50 / p95 (orders delivered in each hour)",
        [target(queries.lead_time_query())],
        "s",
        "Percentiles of the hour's deliveries (arrival to shipment); hours are not averaged.",
        decimals=0,
        interval="1h",
        custom={"drawStyle": "points", "pointSize": 6},
    )
    stock = panel(
        "timeseries",
        "Raw-material stock against its reorder point; stock-outs",
        [
            target(queries.stock_query(), alias="$col $tag_material"),
            target(queries.stockout_query(), alias="$col $tag_material"),
        ],
        "short",
        "Stock level per material as recorded (consumption, deliveries), its reorder point "
        "(dashed: at or under it the stock reorders) and, in red, the records taken while the "
        "material is out (level 0, or a draw waits).",
        custom={"lineInterpolation": "stepAfter"},
        overrides=[
            {
                "matcher": {"id": "byRegexp", "options": "/^reorder point/"},
                "properties": [
                    {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                    {"id": "color", "value": {"mode": "fixed", "fixedColor": "orange"}},
                ],
            },
            {
                "matcher": {"id": "byFrameRefID", "options": "B"},
                "properties": [
                    {"id": "custom.drawStyle", "value": "points"},
                    {"id": "custom.pointSize", "value": 8},
                    {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
                ],
            },
        ],
    )
    stockouts = panel(
        "timeseries",
        "Stock-outs started and hours out (hourly)",
        [
            target(
                'SELECT "stockouts", "stockout_h" FROM "kpi" WHERE "level" = \'plant\' AND '
                f"\"window\" = 'hour' AND {KPI_FILTER} AND $timeFilter"
            )
        ],
        "short",
        decimals=1,
        custom={"drawStyle": "bars", "fillOpacity": 60},
    )
    rows = [
        [
            (range_stat("otd"), 6, 4),
            (range_stat("delivered_orders"), 6, 4),
            (range_stat("on_time_orders"), 6, 4),
            (range_stat("throughput_uph"), 6, 4),
        ],
        [
            (range_series(["otd"], "plant", "On-time delivery per interval", ""), 12, 8),
            (backlog, 12, 8),
        ],
        [(lead, 12, 8), (stockouts, 12, 8)],
        [(stock, 24, 8)],
    ]
    return dashboard(
        UID,
        "Supply and demand",
        "Orders and raw material: backlog, lead time, on-time delivery, stock, stock-outs.",
        layout(rows),
        variables(),
        time_from="now-7d",
        timezone=timezone,
    )
