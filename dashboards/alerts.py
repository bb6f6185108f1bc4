"""Grafana alert rules as code: the rules, their provisioning file, and their evaluation.

Each rule is one InfluxQL query that returns, per series (station, line, gateway), one value
that is above 0 exactly when the rule fires; Grafana reduces it (last) and compares it with 0.
Thresholds (``THRESHOLDS``) are written into the rules when the file is built: Grafana's file
provisioning puts environment variables into some fields only (titles, labels), never into a
query model or an annotation (it reads those raw, ``dashboards.grafana_alerting``), so a
``${VAR}`` there would reach InfluxDB as it is. ``twin dashboards build`` takes them from the
``TWIN_ALERT_*`` environment variables, defaults otherwise. Queries look back from ``now()``
(the evaluation time). ``evaluate`` runs a rule the way Grafana does, against any InfluxDB and
at any "now", which is how the tests check each rule against scripted faults.

Rules read the minute elements of ``kpi_slice`` (``analytics.service.slices``) where they need
durations: "down for N minutes" is down time over the last N minutes, whether or not a state
record falls inside them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from analytics.service.slices import SLICE_MEASUREMENT
from dashboards.model import DATASOURCE_UID
from plant_sim.telemetry_schema import METRICS_MEASUREMENT

FOLDER = "Digital Twin"
GROUP = "twin"
INTERVAL = "1m"
#: Threshold variables and their defaults (``twin dashboards build`` reads the environment).
THRESHOLDS: dict[str, str] = {
    "TWIN_ALERT_DOWN_MIN": "10",
    "TWIN_ALERT_BLOCKED_MIN": "15",
    "TWIN_ALERT_OEE_TARGET": "0.5",
    "TWIN_ALERT_STALE_MIN": "5",
    "TWIN_ALERT_LAG_MS": "5000",
    "TWIN_ALERT_DEAD_LETTER_MIN": "15",
}
_SLICE = f'FROM "{SLICE_MEASUREMENT}" WHERE'
_OEE = 'sum("pri_pq_s") * sum("gq") / sum("pq") / sum("pbt_s")'


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule: it fires where its query's value passes ``evaluator`` (above 0)."""

    uid: str
    title: str
    query: str
    lookback_s: int  # the query's relative time range (Grafana's relativeTimeRange.from)
    summary: str
    no_data_fires: bool = False  # no rows at all is itself the alert (stale data)
    severity: str = "warning"
    evaluator: tuple[str, float] = ("gt", 0.0)  # Grafana threshold: fires when value gt/lt it


def rules(thresholds: Mapping[str, str] | None = None) -> list[Rule]:
    """Return every alert rule with its thresholds written in (``THRESHOLDS`` where
    ``thresholds`` lacks one); raises ``ValueError`` naming a threshold that is no number."""
    values = check_thresholds(thresholds)
    for name in ("TWIN_ALERT_DOWN_MIN", "TWIN_ALERT_BLOCKED_MIN"):  # "N - 1 of N minutes" in text
        values[f"{name}_LESS_1"] = str(int(values[name]) - 1)
    return [
        replace(
            r,
            title=substitute(r.title, values),
            query=substitute(r.query, values),
            summary=substitute(r.summary, values),
        )
        for r in _templates()
    ]


def check_thresholds(thresholds: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return every threshold (defaults filled in), each checked: minutes a whole number of at
    least 1, the others a number above 0; raises ``ValueError`` naming the variable."""
    values = {**THRESHOLDS, **(thresholds or {})}
    for name, text in values.items():
        if name not in THRESHOLDS:
            raise ValueError(f"{name}: not an alert threshold (known: {', '.join(THRESHOLDS)})")
        try:
            number = int(text) if name.endswith("_MIN") else float(text)
        except ValueError:
            kind = "a whole number of minutes" if name.endswith("_MIN") else "a number"
            raise ValueError(f"{name}: {text!r} is not {kind}") from None
        if not 0 < number < 1e9:
            raise ValueError(f"{name}: {text!r} must be above 0 (and below 1e9)")
        values[name] = text.strip()
    return values


def thresholds_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """Return the ``TWIN_ALERT_*`` thresholds set in ``env`` (e.g. ``os.environ``)."""
    return {k: v for k, v in env.items() if k in THRESHOLDS}


def _templates() -> list[Rule]:
    """The rules with ``${TWIN_ALERT_*}`` placeholders for their thresholds."""
    return [
        Rule(
            "twin-station-down",
            "Station down for ${TWIN_ALERT_DOWN_MIN} minutes",
            f'SELECT sum("down_s") / 60 - (${{TWIN_ALERT_DOWN_MIN}} - 1) AS "excess" {_SLICE} '
            "\"level\" = 'station' AND time > now() - ${TWIN_ALERT_DOWN_MIN}m AND time <= now() "
            'GROUP BY "run_id", "scope"',
            3600,
            "{{ $labels.scope }} was down for at least ${TWIN_ALERT_DOWN_MIN_LESS_1} of the last "
            "${TWIN_ALERT_DOWN_MIN} minutes.",
            severity="critical",
        ),
        Rule(
            "twin-line-oee-low",
            "Line OEE under ${TWIN_ALERT_OEE_TARGET} over the last hour",
            f'SELECT (${{TWIN_ALERT_OEE_TARGET}} - {_OEE}) * sum("pbt_s") / (sum("pbt_s") + 0.001)'
            f' AS "shortfall" {_SLICE} "level" = \'line\' AND time > now() - 60m AND '
            'time <= now() GROUP BY "run_id", "scope"',
            3600,
            "OEE of {{ $labels.scope }} over the last hour is under ${TWIN_ALERT_OEE_TARGET} "
            "(hours without planned busy time do not count).",
        ),
        Rule(
            "twin-buffer-full",
            "Buffer full for ${TWIN_ALERT_BLOCKED_MIN} minutes",
            f'SELECT sum("blocked_s") / 60 - (${{TWIN_ALERT_BLOCKED_MIN}} - 1) AS "excess" {_SLICE}'
            " \"level\" = 'station' AND time > now() - ${TWIN_ALERT_BLOCKED_MIN}m AND "
            'time <= now() GROUP BY "run_id", "scope"',
            3600,
            "The buffer after {{ $labels.scope }} was full (the station blocked) for at least "
            "${TWIN_ALERT_BLOCKED_MIN_LESS_1} of the last ${TWIN_ALERT_BLOCKED_MIN} minutes.",
        ),
        Rule(
            "twin-data-stale",
            "No telemetry for ${TWIN_ALERT_STALE_MIN} minutes",
            'SELECT count("energy_kwh") AS "samples" FROM "telemetry" WHERE '
            "time > now() - ${TWIN_ALERT_STALE_MIN}m AND time <= now()",
            3600,
            "No telemetry sample was stored in the last ${TWIN_ALERT_STALE_MIN} minutes.",
            no_data_fires=True,
            severity="critical",
            evaluator=("lt", 1.0),
        ),
        Rule(
            "twin-gateway-lag",
            "Gateway lag p99 above ${TWIN_ALERT_LAG_MS} ms",
            f'SELECT max("lag_ms_p99") - ${{TWIN_ALERT_LAG_MS}} AS "excess" FROM '
            f'"{METRICS_MEASUREMENT}" WHERE time > now() - 5m AND time <= now() GROUP BY "gateway"',
            600,
            "End-to-end lag p99 of {{ $labels.gateway }} is above ${TWIN_ALERT_LAG_MS} ms.",
        ),
        Rule(
            "twin-dead-letters",
            "Dead letters rising",
            f'SELECT spread("dead_lettered") AS "new" FROM "{METRICS_MEASUREMENT}" WHERE '
            "time > now() - ${TWIN_ALERT_DEAD_LETTER_MIN}m AND time <= now() "
            'GROUP BY "gateway", "source"',
            3600,
            "{{ $labels.gateway }}/{{ $labels.source }} dead-lettered records in the last "
            "${TWIN_ALERT_DEAD_LETTER_MIN} minutes.",
        ),
    ]


_ENV = re.compile(r"\$\{(TWIN_ALERT_\w+)\}")


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Return ``text`` with the threshold placeholders replaced by ``values``."""
    return _ENV.sub(lambda m: values[m.group(1)], text)


def _escape(text: str) -> str:
    """Escape ``$`` as ``$$`` in a field Grafana's provisioning interpolates (title, labels)."""
    return text.replace("$", "$$")


def _rule_body(rule: Rule) -> dict:
    return {
        "uid": rule.uid,
        "title": _escape(rule.title),
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": rule.lookback_s, "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": {
                    "refId": "A",
                    "rawQuery": True,
                    "query": rule.query,  # read raw by Grafana: no escaping
                    "resultFormat": "time_series",
                    "intervalMs": 60000,
                    "maxDataPoints": 43200,
                },
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "reduce",
                    "expression": "A",
                    "reducer": "last",
                    "settings": {"mode": "dropNN"},
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "B",
                    "conditions": [
                        {
                            "evaluator": {
                                "type": rule.evaluator[0],
                                "params": [rule.evaluator[1]],
                            }
                        }
                    ],
                },
            },
        ],
        "noDataState": "Alerting" if rule.no_data_fires else "OK",
        "execErrState": "Error",
        "for": "0s",
        "annotations": {"summary": rule.summary},  # read raw by Grafana
        "labels": {"severity": rule.severity, "service": "twin"},
        "isPaused": False,
    }


def provisioning(thresholds: Mapping[str, str] | None = None) -> dict:
    """Return the alert-rule provisioning file (``provisioning/alerting/twin_alerts.yaml``)."""
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": GROUP,
                "folder": FOLDER,
                "interval": INTERVAL,
                "rules": [_rule_body(r) for r in rules(thresholds)],
            }
        ],
    }


Series = list[dict]


def evaluate(
    rule: Rule, run: Callable[[str], Series], now_ms: int
) -> set[tuple[tuple[str, str], ...]]:
    """Return the label sets that fire at ``now_ms``, evaluated as Grafana does.

    ``run`` sends InfluxQL and returns the series (``/query`` JSON). ``now()`` is the evaluation
    time; reduce = last non-null value; condition = the rule's evaluator; no rows = NoData
    (fires only for ``no_data_fires`` rules, as the label set ``()``).
    """
    query = rule.query.replace("now()", f"{now_ms}ms")
    series = run(query)
    if not series:
        return {()} if rule.no_data_fires else set()
    out = set()
    for s in series:
        values = [row[1] for row in s["values"] if row[1] is not None]
        kind, limit = rule.evaluator
        if values and (values[-1] > limit if kind == "gt" else values[-1] < limit):
            out.add(tuple(sorted((s.get("tags") or {}).items())))
    return out
