"""The provisioned files against Grafana's own definitions (no Grafana can run here).

- Dashboards: each board is read into Grafana 11.6's dashboard types (grafana-foundation-sdk,
  generated from Grafana's schema; 11.6 is the compose image) and written back. Every key the
  builders write survives but the few that Grafana itself keeps outside its schema (listed in
  ``OUTSIDE_THE_SCHEMA`` with the reason), and every value of a closed type (a literal or an
  enum: draw styles, threshold modes, mapping types, ...) is one the type allows.
- Alert rules: ``dashboards.grafana_alerting`` (transcribed from Grafana's provisioning structs)
  finds nothing in the provisioned file and finds each planted fault; the expression models
  (reduce, threshold) read into Grafana's expression types keep every key and allowed values.
The live check against a running Grafana stays in ``test_grafana_live.py``.
"""

from __future__ import annotations

import copy
import enum
import json
import re
import sys
import typing
from typing import Any

import pytest
import yaml

from dashboards.files import ALERTS_FILE, build_all, render_alerts
from dashboards.grafana_alerting import check_alert_file, interpolate
from dashboards.model import DATASOURCE_UID

sdk = pytest.importorskip("grafana_foundation_sdk")  # the test extra installs it
from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402
from grafana_foundation_sdk.cog.plugins import register_default_plugins  # noqa: E402
from grafana_foundation_sdk.models import expr  # noqa: E402
from grafana_foundation_sdk.models.dashboard import Dashboard  # noqa: E402

register_default_plugins()

#: Keys Grafana keeps although its dashboard schema lacks them, with why they are fine.
OUTSIDE_THE_SCHEMA = {
    # "id": null asks Grafana to assign one (the schema's id is optional, null is dropped)
    r"^\.id$": "null id",
    # the query editor's label of a variable; Grafana stores it, the schema has no field
    r"^\.templating\.list\[\d+\]\.definition$": "variable definition",
    # InfluxDB annotations in the plugin's legacy form: Grafana's influxdb plugin moves them
    # into ``target`` (migrateLegacyAnnotation in public/app/plugins/datasource/influxdb)
    r"^\.annotations\.list\[\d+\]\.(query|textColumn|tagsColumn|titleColumn)$": "legacy influx",
}
EXPRESSIONS = {"reduce": expr.TypeReduce, "threshold": expr.TypeThreshold}


def _lost(written: Any, read_back: Any, path: str = "") -> list[str]:
    """Paths of the keys in ``written`` that are missing from ``read_back``."""
    if isinstance(written, dict) and isinstance(read_back, dict):
        out = []
        for key, value in written.items():
            if key not in read_back:
                if value is not None or key != "id":
                    out.append(f"{path}.{key}")
                continue
            out += _lost(value, read_back[key], f"{path}.{key}")
        return out
    if isinstance(written, list) and isinstance(read_back, list):
        if len(written) != len(read_back):
            return [f"{path}: {len(written)} items, {len(read_back)} read back"]
        return [
            p
            for i, (a, b) in enumerate(zip(written, read_back, strict=True))
            for p in _lost(a, b, f"{path}[{i}]")
        ]
    return []


def _allowed(hint: Any) -> set | None:
    """The values a closed type allows (literals, enum values), or None for an open type."""
    if typing.get_origin(hint) is typing.Literal:
        return set(typing.get_args(hint))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {m.value for m in hint} | set(hint)
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_allowed(a) for a in typing.get_args(hint) if a is not type(None)]
        if parts and all(p is not None for p in parts):
            return set().union(*parts)
    return None


def _closed_values(obj: Any, where: str = "") -> list[str]:
    """Values of closed-typed attributes of SDK objects that their type does not allow."""
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _closed_values(v, f"{where}[{i}]")]
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _closed_values(v, f"{where}.{k}")]
    if not hasattr(obj, "to_json") or isinstance(obj, enum.Enum):
        return []
    cls = type(obj)
    try:
        hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    except Exception:  # a hint the SDK cannot resolve at run time: check the values below only
        hints = {}
    out = []
    for name in getattr(obj, "__dict__", {}):
        value = getattr(obj, name)
        allowed = _allowed(hints.get(name))
        if allowed is not None and value is not None and value not in allowed:
            out.append(f"{where}.{name}: {value!r} not in {sorted(map(str, allowed))}")
        out += _closed_values(value, f"{where}.{name}")
    return out


def _read_back(board: dict) -> tuple[Dashboard, dict]:
    parsed = Dashboard.from_json(copy.deepcopy(board))
    return parsed, json.loads(json.dumps(parsed, cls=JSONEncoder))


def _schema_problems(board: dict) -> list[str]:
    parsed, back = _read_back(board)
    lost = [p for p in _lost(board, back) if not any(re.match(k, p) for k in OUTSIDE_THE_SCHEMA)]
    return [f"{p}: not in Grafana's dashboard schema" for p in lost] + _closed_values(parsed)


@pytest.mark.parametrize("name", sorted(build_all()))
def test_dashboard_fits_grafanas_dashboard_types(name: str) -> None:
    board = build_all()[name]
    assert _schema_problems(board) == []
    parsed, _ = _read_back(board)
    assert len(parsed.panels) == len(board["panels"]) and parsed.uid == board["uid"]


def test_the_dashboard_check_finds_a_misspelt_key_and_a_bad_value() -> None:
    board = build_all()["plant_overview.json"]
    bad = copy.deepcopy(board)
    bad["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["mode"] = "absolut"
    bad["panels"][1]["gridPosition"] = bad["panels"][1].pop("gridPos")
    problems = _schema_problems(bad)
    assert any(".panels[0].field_config.defaults.thresholds.mode: 'absolut'" in p for p in problems)
    assert any(p.startswith(".panels[1].gridPosition") for p in problems), problems


def _alert_file() -> dict:
    text = ALERTS_FILE.read_text(encoding="utf-8")
    assert text == render_alerts(), "run twin dashboards build"
    return yaml.safe_load(text)


def test_alert_file_is_what_grafanas_provisioning_reads() -> None:
    prov = _alert_file()
    assert check_alert_file(prov, (DATASOURCE_UID,)) == []
    for rule in prov["groups"][0]["rules"]:
        # interpolated as Grafana does with no variable set: titles and labels unchanged
        assert interpolate(rule["title"], {}) == rule["title"]
        assert {k: interpolate(v, {}) for k, v in rule["labels"].items()} == rule["labels"]


def test_alert_expressions_fit_grafanas_expression_types() -> None:
    seen = set()
    for rule in _alert_file()["groups"][0]["rules"]:
        for query in rule["data"]:
            if query["datasourceUid"] != "__expr__":
                continue
            model = query["model"]
            cls = EXPRESSIONS[model["type"]]
            parsed = cls.from_json(copy.deepcopy(model))
            back = json.loads(json.dumps(parsed, cls=JSONEncoder))
            assert _lost(model, back) == [], model
            assert _closed_values(parsed) == [], model
            seen.add(model["type"])
    assert seen == set(EXPRESSIONS)
    bad = expr.TypeReduce.from_json({"refId": "B", "type": "reduce", "reducer": "latest"})
    assert _closed_values(bad) and "latest" in _closed_values(bad)[0]


@pytest.mark.parametrize(
    ("plant", "finds"),
    [
        (lambda r: r.__setitem__("noDataStat", "OK"), "'noDataStat' is not a key Grafana reads"),
        (lambda r: r.__setitem__("noDataState", "Nodata"), "noDataState: 'Nodata'"),
        (lambda r: r.__setitem__("condition", "D"), "condition: 'D' is no refId"),
        (
            lambda r: r["data"][0]["model"].__setitem__("query", "SELECT ${TWIN_ALERT_X} FROM x"),
            "is not interpolated here",
        ),
        (
            lambda r: r["annotations"].__setitem__("summary", "{{ $$labels.scope }} down"),
            "'$$' stays doubled",
        ),
        (
            lambda r: r["annotations"].__setitem__("summary", "{{ $labels.station }} down"),
            "$labels.station is no series tag",
        ),
        (lambda r: r.__setitem__("title", "down for $MINUTES"), "environment reference"),
        (lambda r: r["data"][1]["model"].__setitem__("expression", "Z"), "'Z' is no refId"),
        (lambda r: r.__setitem__("uid", "x" * 41), "not a short UID"),
    ],
)
def test_the_alert_check_finds_each_planted_fault(plant, finds: str) -> None:
    prov = _alert_file()
    plant(prov["groups"][0]["rules"][0])
    problems = check_alert_file(prov, (DATASOURCE_UID,))
    assert any(finds in p for p in problems), problems


def test_the_alert_check_finds_a_bad_group() -> None:
    prov = _alert_file()
    prov["groups"][0]["interval"] = "45s"
    prov["groups"][0]["folder"] = " "
    prov["groups"][0]["rules"][0]["data"][0]["datasourceUid"] = "other"
    problems = check_alert_file(prov, (DATASOURCE_UID,))
    assert any("interval: '45s' is no multiple of 10s" in p for p in problems)
    assert any("no folder set" in p for p in problems)
    assert any("datasourceUid 'other' is not provisioned" in p for p in problems)
