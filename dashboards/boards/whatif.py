"""What-if studies: each KPI by variant with its interval, paired differences, replications.

Reads ``whatif_kpi`` and ``whatif_replication`` (``analytics.whatif.influx``): every point of one
study run carries the run's finishing time, so ``last()`` picks the newest run of a study.
"""

from __future__ import annotations

from dashboards.model import dashboard, layout, panel, target, variable

UID = "twin-whatif"
FILTER = '"study" =~ /^$study$/ AND "kpi" =~ /^$kpi$/ AND "scope" =~ /^$scope$/'


def _variables() -> list[dict]:
    return [
        variable("study", 'SHOW TAG VALUES FROM "whatif_kpi" WITH KEY = "study"', "Study"),
        variable(
            "kpi",
            'SHOW TAG VALUES FROM "whatif_kpi" WITH KEY = "kpi" WHERE "study" =~ /^$study$/',
            "KPI",
        ),
        variable(
            "scope",
            'SHOW TAG VALUES FROM "whatif_kpi" WITH KEY = "scope" '
            'WHERE "study" =~ /^$study$/ AND "kpi" =~ /^$kpi$/',
            "Scope",
        ),
    ]


def _table(select: str, title: str, measurement: str, by: str, description: str) -> dict:
    q = f'SELECT {select} FROM "{measurement}" WHERE {FILTER} AND $timeFilter GROUP BY {by}'
    return panel("table", title, [target(q, fmt="table")], description=description)


def build(timezone: str | None = None) -> dict:
    """Return the what-if dashboard."""
    means = panel(
        "barchart",
        "Mean by variant (95 % interval in the table below)",
        [
            target(
                f'SELECT last("mean") AS "mean", last("low") AS "low", last("high") AS "high" '
                f'FROM "whatif_kpi" WHERE {FILTER} AND $timeFilter GROUP BY "variant"',
                fmt="table",
            )
        ],
        panel_options={"xField": "variant", "orientation": "horizontal", "stacking": "none"},
    )
    diffs = panel(
        "barchart",
        "Paired difference with the base",
        [
            target(
                f'SELECT last("diff_mean") AS "difference", last("diff_low") AS "low", '
                f'last("diff_high") AS "high" FROM "whatif_kpi" WHERE {FILTER} '
                'AND $timeFilter GROUP BY "variant"',
                fmt="table",
            )
        ],
        panel_options={"xField": "variant", "orientation": "horizontal", "stacking": "none"},
    )
    summary = _table(
        'last("mean") AS "mean", last("low") AS "low", last("high") AS "high", '
        'last("n") AS "n", last("diff_relative") AS "relative change", '
        'last("verdict") AS "verdict"',
        "Intervals and verdicts",
        "whatif_kpi",
        '"variant", "kpi", "scope"',
        "Confidence interval of each KPI and the paired comparison "
        "with the base (verdict: significantly better / worse, or no significant difference).",
    )
    replications = _table(
        'last("value") AS "value", last("seed") AS "seed", last("warmup_s") AS "warm-up s"',
        "Replications",
        "whatif_replication",
        '"variant", "replication"',
        "One value per replication; replication r uses the same seed in every variant.",
    )
    rows = [[(means, 12, 9), (diffs, 12, 9)], [(summary, 24, 9)], [(replications, 24, 10)]]
    return dashboard(
        UID,
        "What-if studies",
        "Variants of a scenario, replications and intervals.",
        layout(rows),
        _variables(),
        time_from="now-30d",
        annotations=[],
        timezone=timezone,
    )
