"""Gateway health: records in and out, buffer, lag, rejects; the analytics service's cycles."""

from __future__ import annotations

from dashboards.model import dashboard, layout, panel, target

UID = "twin-gateway"


def _stats(
    select: str,
    title: str,
    unit: str,
    where: str = "",
    by: str = '"gateway", "source"',
    measurement: str = "gateway_stats",
) -> dict:
    return panel(
        "timeseries",
        title,
        [
            target(
                f'SELECT {select} FROM "{measurement}" WHERE {where}$timeFilter '
                f"GROUP BY time($__interval), {by} fill(none)",
                alias="$tag_gateway $tag_source" if "source" in by else "$tag_service",
            )
        ],
        unit,
    )


def build(timezone: str | None = None) -> dict:
    """Return the gateway health dashboard (wall-clock time)."""
    rate = 'non_negative_derivative(max("{}"), 1s)'
    rows = [
        [
            (
                _stats(
                    rate.format("records_in"),
                    "Records in per second",
                    "short",
                    "\"source\" <> 'gateway' AND ",
                ),
                12,
                8,
            ),
            (
                _stats(
                    rate.format("records_out"),
                    "Records stored per second",
                    "short",
                    "\"source\" <> 'gateway' AND ",
                ),
                12,
                8,
            ),
        ],
        [
            (
                _stats(
                    'max("buffered")',
                    "Records buffered (store and forward)",
                    "short",
                    "\"source\" = 'gateway' AND ",
                    '"gateway"',
                ),
                8,
                8,
            ),
            (
                _stats(
                    'max("lag_ms_p50") AS "p50", max("lag_ms_p99") AS "p99"',
                    "End-to-end lag (received -> stored)",
                    "ms",
                    "\"source\" = 'gateway' AND ",
                    '"gateway"',
                ),
                8,
                8,
            ),
            (
                _stats(
                    'max("dead_lettered") AS "dead letters", max("duplicates") AS "duplicates"',
                    "Dead letters and duplicates (cumulative)",
                    "short",
                    "\"source\" <> 'gateway' AND ",
                ),
                8,
                8,
            ),
        ],
        [
            (
                _stats(
                    'max("retries") AS "retries", max("dropped") AS "dropped", '
                    'max("rejected_by_influx") AS "rejected"',
                    "Write retries, drops, rejects",
                    "short",
                    "\"source\" = 'gateway' AND ",
                    '"gateway"',
                ),
                12,
                8,
            ),
            (
                _stats(
                    'mean("cycle_s")',
                    "Analytics cycle time",
                    "s",
                    "",
                    '"service"',
                    "analytics_stats",
                ),
                12,
                8,
            ),
        ],
    ]
    return dashboard(
        UID,
        "Gateway health",
        "The telemetry path's own figures (wall-clock time).",
        layout(rows),
        [],
        time_from="now-1h",
        annotations=[],
        timezone=timezone,
    )
