"""Grafana's alert-rule file provisioning format, as a check of the file the twin provisions.

Transcribed from Grafana's own definitions (grafana/grafana, Grafana 9.1 to 12.x):
``pkg/services/provisioning/alerting`` (``AlertingFileV1``, ``AlertRuleGroupV1``,
``AlertRuleV1``, ``QueryV1`` and their ``mapToModel`` checks), ``pkg/services/ngalert/models``
(the states, the UID and title limits, the 10 s base interval) and
``pkg/services/provisioning/values`` (environment interpolation). Grafana reads the file with
yaml.v2 into those structs and drops a key it does not know without a word, so a misspelt key
would simply vanish; ``check_alert_file`` names it.

Interpolation as Grafana does it: the fields it reads as ``StringValue``/``StringMapValue``
(uid, title, folder, name, interval, for, states, labels) go through ``os.ExpandEnv`` after
splitting on ``$$`` (a literal ``$``); the query ``model`` and the ``annotations`` are read raw
(since Grafana 9.1), so an environment reference there reaches InfluxDB or the template engine
as it is, and a ``$$`` stays doubled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

#: Keys Grafana reads at each level (``json``/``yaml`` tags of the Go structs).
FILE_KEYS = {
    "apiVersion": int,
    "groups": list,
    "deleteRules": list,
    "contactPoints": list,
    "deleteContactPoints": list,
    "policies": list,
    "resetPolicies": list,
    "templates": list,
    "deleteTemplates": list,
    "muteTimes": list,
    "deleteMuteTimes": list,
}
GROUP_KEYS = {"orgId": int, "name": str, "folder": str, "interval": str, "rules": list}
RULE_KEYS = {
    "uid": str,
    "title": str,
    "condition": str,
    "data": list,
    "dasboardUid": str,
    "dashboardUid": str,
    "panelId": int,
    "noDataState": str,
    "execErrState": str,
    "for": str,
    "keepFiringFor": str,
    "missing_series_evals_to_resolve": int,
    "annotations": dict,
    "labels": dict,
    "isPaused": bool,
    "notification_settings": dict,
    "record": dict,
}
QUERY_KEYS = {
    "refId": str,
    "queryType": str,
    "relativeTimeRange": dict,
    "datasourceUid": str,
    "model": dict,
}
TIME_RANGE_KEYS = {"from": int, "to": int}
#: ``models.NoDataStateFromString`` and ``models.ErrStateFromString``.
NO_DATA_STATES = ("Alerting", "NoData", "OK", "KeepLast")
ERROR_STATES = ("Alerting", "Error", "OK", "KeepLast")
#: ``AlertRuleMaxTitleLength``, ``AlertRuleMaxUIDLength``; UIDs are ``util.IsValidShortUID``.
MAX_TITLE = 190
MAX_UID = 40
_UID = re.compile(r"^[a-zA-Z0-9\-_]*$")
#: The scheduler's base interval: group intervals are whole multiples of it.
BASE_INTERVAL_S = 10
EXPRESSION_UID = "__expr__"
#: Prometheus ``model.ParseDuration``.
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNIT_S = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_ENV_REF = re.compile(r"\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_TEMPLATE_LABEL = re.compile(r"\$labels\.(\w+)")
_GROUP_BY = re.compile(r"GROUP BY (.+?)(?: fill\(|$)")


def parse_duration(text: str) -> float | None:
    """Return the seconds of a Prometheus duration (``1m``, ``90s``, ``1h30m``), else None."""
    if text == "0":
        return 0.0
    m = _DURATION.match(text)
    if not text or m is None:
        return None
    return sum(int(v) * unit for v, unit in zip(m.groups(), _UNIT_S, strict=True) if v)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Return ``text`` as Grafana interpolates a provisioned string: ``$$`` is a literal
    ``$``, every other ``$NAME`` or ``${NAME}`` the variable's value (empty when unset)."""

    def expand(part: str) -> str:
        return _ENV_REF.sub(lambda m: env.get(m.group(1).strip("{}"), ""), part)

    return "$".join(expand(part) for part in text.split("$$"))


def _keys(where: str, data: Any, known: Mapping[str, type]) -> list[str]:
    if not isinstance(data, dict):
        return [f"{where}: expected a mapping, got {type(data).__name__}"]
    out = []
    for key, value in data.items():
        if key not in known:
            out.append(f"{where}: {key!r} is not a key Grafana reads (it would be dropped)")
        elif not isinstance(value, known[key]) or (known[key] is int and isinstance(value, bool)):
            out.append(f"{where}.{key}: expected {known[key].__name__}, got {value!r}")
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _raw_problems(where: str, value: Any) -> list[str]:
    """A raw field: Grafana neither expands variables nor turns ``$$`` into ``$`` there."""
    out = []
    for text in _strings(value):
        if "$$" in text:
            out.append(f"{where}: '$$' stays doubled here (Grafana reads it raw): {text[:80]!r}")
        for m in re.finditer(r"\$\{(?!__)", text):
            out.append(
                f"{where}: '{text[m.start() : m.start() + 30]}' is not interpolated here "
                "(Grafana reads it raw)"
            )
    return out


def _interpolated_problems(where: str, value: str) -> list[str]:
    """An interpolated field: an unescaped ``$`` would be replaced (empty when unset)."""
    if interpolate(value, {}) != value.replace("$$", "$"):
        return [
            f"{where}: {value!r} holds an environment reference Grafana replaces (the twin "
            "writes thresholds in when it builds the file)"
        ]
    return []


def _rule_problems(where: str, rule: dict) -> list[str]:
    out = _keys(where, rule, RULE_KEYS)
    if out:
        return out
    return _rule_fields(where, rule) + _rule_data(where, rule) + _annotations(where, rule)


def _rule_fields(where: str, rule: dict) -> list[str]:
    """``AlertRuleV1.mapToModel`` and the model's limits, on the rule's own fields."""
    out = []
    title, uid = rule.get("title", ""), rule.get("uid", "")
    if not title.strip():
        out.append(f"{where}: rule has no title set")
    if not uid:
        out.append(f"{where}: rule '{title}' failed to parse: no UID set")
    if len(title) > MAX_TITLE or len(uid) > MAX_UID or not _UID.match(uid):
        out.append(f"{where}: title over {MAX_TITLE} or uid {uid!r} not a short UID")
    for key in ("uid", "title", "condition", "for", "noDataState", "execErrState"):
        if isinstance(rule.get(key), str):
            out += _interpolated_problems(f"{where}.{key}", rule[key])
    for name, text in rule.get("labels", {}).items():
        out += _interpolated_problems(f"{where}.labels.{name}", str(text))
    if rule.get("for") and parse_duration(rule["for"]) is None:
        out.append(f"{where}.for: {rule['for']!r} is no duration")
    if rule.get("noDataState", "NoData") not in NO_DATA_STATES:
        out.append(f"{where}.noDataState: {rule['noDataState']!r} not in {NO_DATA_STATES}")
    if rule.get("execErrState", "Alerting") not in ERROR_STATES:
        out.append(f"{where}.execErrState: {rule['execErrState']!r} not in {ERROR_STATES}")
    return out


def _rule_data(where: str, rule: dict) -> list[str]:
    """The queries and expressions, and the condition that names one of them."""
    out = []
    data = rule.get("data") or []
    if not data:
        out.append(f"{where}: rule '{rule.get('title')}' failed to parse: no data set")
    refs = [q.get("refId") for q in data if isinstance(q, dict)]
    if len(set(refs)) != len(refs):
        out.append(f"{where}.data: refIds {refs} are not unique")
    if not rule.get("condition") and "record" not in rule:
        out.append(f"{where}: rule '{rule.get('title')}' failed to parse: no condition set")
    elif rule.get("condition") and rule["condition"] not in refs:
        out.append(f"{where}.condition: {rule['condition']!r} is no refId of data {refs}")
    for i, query in enumerate(data):
        out += _query_problems(f"{where}.data[{i}]", query, refs)
    return out


def _annotations(where: str, rule: dict) -> list[str]:
    """Annotations are read raw; each ``$labels.X`` of a template must be a series tag."""
    out = _raw_problems(f"{where}.annotations", rule.get("annotations", {}))
    group_tags = set()
    for query in rule.get("data") or []:
        text = (query.get("model") or {}).get("query", "") if isinstance(query, dict) else ""
        if m := _GROUP_BY.search(text):
            group_tags |= set(re.findall(r'"(\w+)"', m.group(1)))
    for name, text in rule.get("annotations", {}).items():
        for label in _TEMPLATE_LABEL.findall(text):
            if label not in group_tags:
                out.append(f"{where}.annotations.{name}: $labels.{label} is no series tag")
    return out


def _query_problems(where: str, query: Any, refs: list) -> list[str]:
    out = _keys(where, query, QUERY_KEYS)
    if out:
        return out
    if "relativeTimeRange" in query:
        out += _keys(f"{where}.relativeTimeRange", query["relativeTimeRange"], TIME_RANGE_KEYS)
    model = query.get("model", {})
    out += _raw_problems(f"{where}.model", model)
    if model.get("refId", query.get("refId")) != query.get("refId"):
        out.append(f"{where}.model.refId: differs from the query's refId")
    if query.get("datasourceUid") == EXPRESSION_UID:
        source = model.get("expression")
        if model.get("type") in ("reduce", "threshold", "resample") and source not in refs:
            out.append(f"{where}.model.expression: {source!r} is no refId of data {refs}")
    return out


def check_alert_file(data: Any, datasource_uids: tuple[str, ...] = ()) -> list[str]:
    """Return the problems of an alert-rule provisioning file (parsed YAML) as Grafana reads
    it; empty when Grafana would provision every rule as written."""
    out = _keys("file", data, FILE_KEYS)
    if out:
        return out
    if data.get("apiVersion") != 1:
        out.append(f"file.apiVersion: {data.get('apiVersion')!r}, Grafana reads version 1")
    for g, group in enumerate(data.get("groups", [])):
        where = f"groups[{g}]"
        problems = _keys(where, group, GROUP_KEYS)
        if problems:
            out += problems
            continue
        for key in ("name", "folder"):
            if not str(group.get(key, "")).strip():
                out.append(f"{where}: rule group has no {key} set")
        seconds = parse_duration(str(group.get("interval", "")))
        if seconds is None or seconds <= 0 or seconds % BASE_INTERVAL_S:
            out.append(f"{where}.interval: {group.get('interval')!r} is no multiple of 10s")
        for r, rule in enumerate(group.get("rules", [])):
            out += _rule_problems(f"{where}.rules[{r}]", rule)
            if datasource_uids:
                for q in rule.get("data", []):
                    uid = q.get("datasourceUid") if isinstance(q, dict) else None
                    if uid not in (*datasource_uids, EXPRESSION_UID):
                        out.append(f"{where}.rules[{r}]: datasourceUid {uid!r} is not provisioned")
    return out
