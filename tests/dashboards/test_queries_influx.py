"""Every dashboard query, macros expanded as Grafana does, runs on real InfluxDB after a backfill.

Each panel target must parse and return data of the shape its panel needs: series with rows,
a time column, the tags it groups by and at least one value; each template variable must
return values. Variables are tried as "All" (``.*``) and with one chosen value each.
"""

from __future__ import annotations

import re

import pytest

from analytics.service.writer import LineWriter, make_sink
from analytics.supply import SHORTAGE
from analytics.whatif import SerialExecutor, run_study
from analytics.whatif.influx import to_line_protocol, write_influx
from dashboards.checks import expand, queries, regex_value
from dashboards.files import JSON_DIR, load_all
from dashboards.queries import stockout_query
from gateway.stats import Stats
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import Backfilled, backfilled_db
from tests.whatif.conftest import tandem_study

pytestmark = pytest.mark.integration
BOARDS = load_all(JSON_DIR)
_GROUP_TAGS = re.compile(r'GROUP BY (?:time\([^)]*\),\s*)?((?:"\w+"(?:,\s*)?)+)')


@pytest.fixture(scope="module")
def bf(influxd: InfluxServer) -> Backfilled:
    bf = backfilled_db(influxd)
    seed_health_metrics(bf)
    seed_whatif_results(bf, influxd)
    return bf


def seed_whatif_results(bf: Backfilled, influxd: InfluxServer) -> None:
    """Run a small real study and store it, stamped inside the backfill's time range."""
    study = tandem_study(
        replications=3,
        run_length="2h",
        warmup="10m",
        variants=[{"name": "more_demand", "overrides": {"demand.interarrival.mean": 50}}],
    )
    result = run_study(study, SerialExecutor())
    write_influx(to_line_protocol(result, bf.result.end_ms - 60_000), influxd.url, bf.db)


def seed_health_metrics(bf: Backfilled) -> None:
    """Store gateway and analytics metrics inside the backfill's time range."""
    stats = Stats()
    lines = []
    for i in range(8):
        stats.add("mqtt", "records_in", 1000)
        stats.add("mqtt", "records_out", 990)
        stats.add_lags([12.0, 30.0])
        ts = bf.result.end_ms - (8 - i) * 900_000
        lines += stats.lines("gw1", ts)
        lines.append(f"analytics_stats,service=analytics cycle_s=0.5,records=10.0 {ts * 10**6}")
    writer = LineWriter(make_sink(bf.config))
    writer.write(lines)
    writer.close()


def _variables(bf: Backfilled, all_values: bool) -> dict[str, str]:
    if all_values:
        return dict.fromkeys(("site", "run", "line", "station", "study", "kpi", "scope"), ".*")
    return {
        "site": regex_value(["plant1"]),
        "run": regex_value([bf.result.run_id]),
        "line": regex_value(["assembly_a", "assembly_b"]),
        "station": regex_value(["a_press"]),
        "study": regex_value(["tandem_test"]),
        "kpi": regex_value(["throughput_uph"]),
        "scope": regex_value(["plant"]),
    }


def _series(influxd: InfluxServer, db: str, q: str) -> list[dict]:
    res = influxd.query(q, db)
    assert "error" not in res["results"][0], f"{q}\n{res}"
    return res["results"][0].get("series", []) or []


def _targets() -> list:
    return [
        pytest.param(p, t, id=f"{name}:{p['id']}{t['refId']}")
        for name, board in BOARDS.items()
        for p, t in queries(board)
    ]


@pytest.mark.parametrize("all_values", [True, False], ids=["all", "chosen"])
@pytest.mark.parametrize(("panel", "target"), _targets())
def test_panel_query_returns_data(
    influxd: InfluxServer, bf: Backfilled, panel: dict, target: dict, all_values: bool
) -> None:
    q = expand(
        target["query"], bf.result.start_ms, bf.result.end_ms, "10m", _variables(bf, all_values)
    )
    series = _series(influxd, bf.db, q)
    if target["query"] == stockout_query():  # rows only while stock is out (test_supply_stock)
        out = [r for r in bf.truth if r.kind == "stock" and (r.cause == SHORTAGE or r.level <= 0)]
        assert bool(series) == bool(out), q
        return
    assert series, f"no data: {q}"
    grouped = _GROUP_TAGS.search(target["query"])
    tags = re.findall(r'"(\w+)"', grouped.group(1)) if grouped else []
    for s in series:
        assert s["columns"][0] == "time" and s["values"], q
        assert set(tags) <= set(s.get("tags") or {}), f"missing group tags {tags}: {q}"
        assert any(v is not None for row in s["values"] for v in row[1:]), f"all null: {q}"
    if "time($__interval)" in target["query"] and panel["type"] != "stat":
        assert max(len(s["values"]) for s in series) >= 2, f"one point only: {q}"


@pytest.mark.parametrize("all_values", [True, False], ids=["all", "chosen"])
def test_template_variables_return_values(
    influxd: InfluxServer, bf: Backfilled, all_values: bool
) -> None:
    expected = {
        "site": {"plant1"},
        "run": {bf.result.run_id},
        "line": {"assembly_a", "assembly_b", "assembly_c"},
        "study": {"tandem_test"},
        "kpi": {"throughput_uph", "wip_avg", "availability", "order_lead_time_avg_s"},
    }
    for board in BOARDS.values():
        for var in board["templating"]["list"]:
            q = expand(var["query"], 0, 0, "1m", _variables(bf, all_values))
            values = {row[1] for s in _series(influxd, bf.db, q) for row in s["values"]}
            assert values, f"{var['name']}: no values for {q}"
            if var["name"] in expected and all_values:
                assert values == expected[var["name"]]
            if var["name"] == "station" and not all_values:
                assert "a_press" in values and "b_press" not in values
