"""Static checks of the dashboards and their provisioning (no Grafana, no InfluxDB)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dashboards.alerts import rules as alert_rules
from dashboards.boards import BOARDS, HOME
from dashboards.checks import averaged_ratios, check, expand, queries, regex_value
from dashboards.cli import app
from dashboards.files import (
    ALERTS_FILE,
    JSON_DIR,
    PROVISIONING_DIR,
    build_all,
    load_all,
    render,
    render_alerts,
)
from dashboards.model import DATASOURCE_UID
from tests.full_disk import twin_with_file_limit


def test_committed_json_is_what_the_builders_give() -> None:
    committed = load_all(JSON_DIR)
    assert set(committed) == set(BOARDS)
    for name, board in build_all().items():
        assert render(committed[name]) == render(board), f"run twin dashboards build ({name})"


def test_dashboards_pass_every_structural_check() -> None:
    assert check(load_all(JSON_DIR)) == []


def test_checks_find_problems() -> None:
    boards = copy.deepcopy(load_all(JSON_DIR))
    plant, line = boards["plant_overview.json"], boards["line.json"]
    line["uid"] = plant["uid"]
    plant["schemaVersion"] = 12
    plant["panels"][0]["type"] = "graph-old"
    plant["panels"][1]["datasource"] = {"type": "influxdb", "uid": "other"}
    plant["panels"][2]["targets"][0]["query"] = 'SELECT * FROM "nope" SLIMIT 1 $missing'
    problems = "\n".join(check(boards))
    for needle in (
        "used twice",
        "schemaVersion 12",
        "unknown panel type",
        "is not uid",
        "no $timeFilter",
        "SLIMIT",
        "unknown variable $missing",
        "'nope'",
    ):
        assert needle in problems


def test_no_panel_averages_a_ratio() -> None:
    """The check that caught the old boards: mean("oee") of hourly windows, sum of MTBF."""
    assert averaged_ratios("q", 'SELECT mean("oee") FROM "kpi" WHERE $timeFilter')
    assert averaged_ratios("q", 'SELECT sum("mtbf_h") AS "x", last("oee") FROM "kpi"')
    assert averaged_ratios("q", 'SELECT median("otd") FROM "kpi"')
    assert not averaged_ratios("q", 'SELECT sum("apt_s") / sum("pbt_s") FROM "kpi_slice"')
    assert not averaged_ratios("q", 'SELECT sum("failures"), last("oee") FROM "kpi"')
    boards = copy.deepcopy(load_all(JSON_DIR))
    boards["line.json"]["panels"][0]["targets"][0]["query"] = (
        'SELECT mean("availability") FROM "kpi" WHERE $timeFilter'
    )
    assert any("mixes the values of a ratio" in p for p in check(boards))
    for board in load_all(JSON_DIR).values():
        for _, target in queries(board):
            assert not averaged_ratios("", target["query"]), target["query"]


def test_ratio_panels_are_ratios_of_sums_of_minute_elements() -> None:
    """Every panel showing OEE, A, P or Q reads kpi_slice sums, except the per-shift table."""
    ratio_panels = 0
    for name, board in load_all(JSON_DIR).items():
        for panel, target in queries(board):
            q = target["query"]
            if any(f'AS "{k}"' in q for k in ("oee", "availability", "quality_ratio")):
                ratio_panels += 1
                assert 'FROM "kpi_slice"' in q or "'shift'" in q, f"{name}: {panel['title']}"
            if 'FROM "kpi_slice"' in q and "$__interval" in q:
                assert panel["interval"] == "1m", f"{name}: {panel['title']} min interval"
    assert ratio_panels >= 8


def test_state_timelines_query_every_state_change() -> None:
    for board in load_all(JSON_DIR).values():
        for panel, target in queries(board):
            if panel["type"] == "state-timeline":
                q = target["query"]
                assert "GROUP BY time(" not in q and "last(" not in q, q
                assert q.startswith('SELECT "state_num" FROM "machine_state"'), q


def test_every_twin_board_has_the_event_annotations() -> None:
    for name in ("plant_overview.json", "line.json", "station.json", "downtime.json"):
        names = {a["name"] for a in load_all(JSON_DIR)[name]["annotations"]["list"]}
        assert names == {"Shift changes", "Breakdowns", "Planned maintenance", "Scenario events"}


def test_every_panel_names_the_provisioned_datasource() -> None:
    prov = yaml.safe_load((PROVISIONING_DIR / "datasources" / "influxdb.yaml").read_text())
    ds = prov["datasources"][0]
    assert ds["uid"] == DATASOURCE_UID and ds["jsonData"]["version"] == "InfluxQL"
    assert ds["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUX_TOKEN}"
    for board in load_all(JSON_DIR).values():
        for panel, target in queries(board):
            assert panel["datasource"]["uid"] == target["datasource"]["uid"] == DATASOURCE_UID


def test_provider_points_at_the_mounted_json_and_home_exists() -> None:
    prov = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "twin.yaml").read_text())
    assert prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert (JSON_DIR / HOME).exists()


def test_site_line_station_variables() -> None:
    boards = load_all(JSON_DIR)
    names = [v["name"] for v in boards["station.json"]["templating"]["list"]]
    assert names == ["site", "run", "line", "station"]


def test_expand_replaces_grafana_macros() -> None:
    q = (
        'SELECT mean("x") FROM "kpi" WHERE "line" =~ /^$line$/ AND $timeFilter '
        "GROUP BY time($__interval)"
    )
    out = expand(q, 1000, 2000, "5m", {"line": regex_value(["a.b", "c"])})
    assert out == (
        'SELECT mean("x") FROM "kpi" WHERE "line" =~ /^(a\\.b|c)$/ AND '
        "time >= 1000ms and time <= 2000ms GROUP BY time(5m)"
    )


def test_cli_check_passes_and_build_writes(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["check"]).exit_code == 0
    result = runner.invoke(app, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 0 and len(list(tmp_path.glob("*.json"))) == len(BOARDS)
    (tmp_path / "bad.json").write_text("{")
    assert runner.invoke(app, ["check", "--dir", str(tmp_path)]).exit_code == 1


def test_cli_check_names_the_file_and_path_of_a_hand_edited_board(tmp_path: Path) -> None:
    """A dashboard file that is JSON but not a dashboard's shape (a list, a panel that is
    null, a query that is a number), a file that is not UTF-8, or a --dir that does not exist
    or holds no dashboards is named, not an AttributeError traceback or "0 dashboards OK"."""
    runner = CliRunner()
    assert runner.invoke(app, ["build", "--out", str(tmp_path)]).exit_code == 0
    board = json.loads((tmp_path / "energy.json").read_text())
    board["panels"][0]["targets"] = [{"query": 5}]
    board["panels"][1] = None
    (tmp_path / "energy.json").write_text(json.dumps(board))
    res = runner.invoke(app, ["check", "--dir", str(tmp_path)])
    assert res.exit_code == 1, res.output
    assert "energy.json: panels[0].targets[0].query is int, not a string" in res.output
    assert "energy.json: panels[1] is missing or null, not an object" in res.output
    for text, needle in (("[]", "a JSON object, not list"), ("\udcff", "UTF-8")):
        (tmp_path / "energy.json").write_text(text, errors="surrogateescape")
        res = runner.invoke(app, ["check", "--dir", str(tmp_path)])
        assert res.exit_code == 1 and "energy.json" in res.output and needle in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["check", "--dir", str(empty)])
    assert res.exit_code == 1 and "no dashboard files" in res.output, res.output
    res = runner.invoke(app, ["check", "--dir", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "--dir" in res.output, res.output
    res = runner.invoke(app, ["build", "--out", str(tmp_path / "energy.json")])
    assert res.exit_code == 2 and "--out" in res.output, res.output


def test_cli_build_that_fails_midway_leaves_each_file_whole(tmp_path: Path) -> None:
    """A write that fails midway (a full disk) left a board file truncated: each file is now
    the previous one or the new one, whole, and no temporary file is left."""
    assert CliRunner().invoke(app, ["build", "--out", str(tmp_path)]).exit_code == 0
    new = {p.name: p.read_text() for p in tmp_path.iterdir()}
    for name in new:
        (tmp_path / name).write_text(f"old {name}\n")
    result = twin_with_file_limit(["dashboards", "build", "--out", str(tmp_path)], limit=20_000)
    assert result.returncode == 2 and "--out" in result.stderr, result.stderr
    assert "File too large" in result.stderr, result.stderr
    after = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert set(after) == set(new)
    assert all(after[n] in (f"old {n}\n", new[n]) for n in new), "a file half written"
    assert any(after[n] == f"old {n}\n" for n in new)  # the one that failed, at least


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--grafana-url", "localhost:3000"], "--grafana-url"),  # no scheme
        (["--grafana-url", "grafana"], "--grafana-url"),
        (["--grafana-url", "http://127.0.0.1:9", "--dir", "/nonexistent"], "--dir"),
    ],
)
def test_cli_push_refuses_bad_input_before_connecting(args: list[str], needle: str) -> None:
    """A Grafana URL without http(s) gave requests' "Invalid URL '://None/...'" as a failed
    health check (exit 1); a --dir that does not exist was found only after connecting."""
    res = CliRunner().invoke(app, ["push", *args])
    assert res.exit_code == 2 and needle in res.output and "health check" not in res.output


def test_alert_rules_are_provisioned_with_thresholds_written_in() -> None:
    """Grafana reads alert query models and annotations raw: the thresholds are in the file,
    as numbers, and the queries in it are the ones the alert tests evaluate."""
    text = ALERTS_FILE.read_text()
    assert text == render_alerts(), "run twin dashboards build"
    prov = yaml.safe_load(text)
    rules = prov["groups"][0]["rules"]
    by_uid = {r.uid: r for r in alert_rules()}
    assert {r["uid"] for r in rules} == set(by_uid)
    for rule in rules:
        query = rule["data"][0]["model"]["query"]
        assert rule["data"][0]["datasourceUid"] == DATASOURCE_UID and rule["condition"] == "C"
        assert query == by_uid[rule["uid"]].query and "$" not in query, query
        assert "TWIN_ALERT" not in str(rule)
    compose = yaml.safe_load((JSON_DIR.parents[1] / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    assert "./dashboards/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert not any(k.startswith("TWIN_ALERT_") for k in grafana["environment"])
    assert render_alerts({"TWIN_ALERT_DOWN_MIN": "20"}).count("now() - 20m") == 1
    for bad in ({"TWIN_ALERT_DOWN_MIN": "1.5"}, {"TWIN_ALERT_LAG_MS": "-1"}, {"TWIN_ALERT_X": "1"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            render_alerts(bad)


def test_cli_builds_and_checks_boards_in_the_plants_time_zone(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["build", "--out", str(tmp_path), "--timezone", "Europe/Berlin"])
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "plant_overview.json").read_text())
    assert board["timezone"] == "Europe/Berlin"
    args = ["check", "--dir", str(tmp_path), "--timezone", "Europe/Berlin"]
    assert runner.invoke(app, args).exit_code == 0
    bad = runner.invoke(app, ["build", "--out", str(tmp_path), "--timezone", "Mars/Base"])
    assert bad.exit_code == 2 and "--timezone" in bad.output


def test_build_names_an_alert_rules_file_it_cannot_write(monkeypatch) -> None:
    """A failed write of the alert rules file ended ``twin dashboards build`` in a traceback;
    now an error naming the file and exit 1 (the file itself is written whole or not at all)."""
    import dashboards.cli as cli

    def full_disk(**_kwargs: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "write_all", lambda out, zone: [])  # leave the committed boards
    monkeypatch.setattr(cli, "write_alerts", full_disk)
    result = CliRunner().invoke(app, ["build"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"error: {cli.ALERTS_FILE}: No space left on device" in result.output
