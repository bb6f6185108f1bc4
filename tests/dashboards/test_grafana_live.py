"""Against a live Grafana (runs only when GRAFANA_URL is set, e.g. the compose demo's).

Pushes copies of the dashboards (uids with a ``-livecheck`` suffix, in their own folder: Grafana
refuses API saves of the dashboards the demo provisioned) with grafana-client, reads them back
by uid, runs every panel query through Grafana's own query API (``/api/ds/query``), which expands
``$timeFilter`` and ``$__interval`` itself (template variables are set to "All" here, as the
browser would), asserts rows come back, and deletes the copies. Needs
GRAFANA_USER/GRAFANA_PASSWORD or GRAFANA_TOKEN with editor rights, and a Grafana whose datasource
``twin-influxdb`` reaches an InfluxDB holding data (e.g. after ``twin backfill``). No Grafana runs
on the test machines, so this test is skipped there.
"""

from __future__ import annotations

import contextlib
import os

import httpx
import pytest

from dashboards.alerts import rules
from dashboards.checks import queries
from dashboards.files import JSON_DIR, load_all
from dashboards.model import DATASOURCE_UID
from dashboards.push import connect, push
from dashboards.queries import stockout_query

URL = os.environ.get("GRAFANA_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not URL, reason="GRAFANA_URL not set: no Grafana to talk to"),
]


def _auth() -> tuple[dict[str, str], tuple[str, str] | None]:
    token = os.environ.get("GRAFANA_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}, None
    return {}, (os.environ.get("GRAFANA_USER", "admin"), os.environ.get("GRAFANA_PASSWORD", ""))


SUFFIX = "-livecheck"
FOLDER = ("twin-livecheck", "Digital Twin (live check)")
#: Boards whose data exist only after an optional step (a what-if study written to InfluxDB).
OPTIONAL_DATA = {"twin-whatif"}


def _copies() -> dict[str, dict]:
    return {
        name: dict(b, uid=b["uid"] + SUFFIX, title=b["title"] + " (live check)")
        for name, b in load_all(JSON_DIR).items()
    }


def _with_all_values(query: str, board: dict) -> str:
    for var in board["templating"]["list"]:
        query = query.replace(f"${var['name']}", var.get("allValue") or ".*")
    return query


def _rows(result: dict) -> int:
    return sum(
        len((f.get("data") or {}).get("values", [[]])[0] or []) for f in result.get("frames", [])
    )


def test_push_and_query_through_grafana() -> None:
    assert URL is not None
    headers, basic = _auth()
    api = connect(URL, os.environ.get("GRAFANA_TOKEN") or basic)
    boards = _copies()
    try:
        assert len(push(api, boards, FOLDER)) == len(boards)
        with httpx.Client(base_url=URL, headers=headers, auth=basic, timeout=30) as client:
            for board in boards.values():
                _check_board(client, board)
    finally:
        for board in boards.values():
            with contextlib.suppress(Exception):
                api.dashboard.delete_dashboard(board["uid"])
        with contextlib.suppress(Exception):
            api.folder.delete_folder(FOLDER[0])


def _run(client: httpx.Client, title: str, target: dict, query: str) -> dict:
    body = {
        "from": "now-7d",
        "to": "now",
        "queries": [
            dict(
                target,
                query=query,
                rawQuery=True,
                datasource={"type": "influxdb", "uid": DATASOURCE_UID},
                intervalMs=600_000,
                maxDataPoints=500,
            )
        ],
    }
    resp = client.post("/api/ds/query", json=body)
    assert resp.status_code == 200, f"{title}: {resp.text[:300]}"
    result = resp.json()["results"][target["refId"]]
    assert "error" not in result, f"{title}: {result['error']}"
    return result


def _check_board(client: httpx.Client, board: dict) -> None:
    got = client.get(f"/api/dashboards/uid/{board['uid']}")
    assert got.status_code == 200 and got.json()["dashboard"]["title"] == board["title"]
    for panel, target in queries(board):
        query = _with_all_values(target["query"], board)
        result = _run(client, panel["title"], target, query)
        optional = target["query"] == stockout_query()  # rows only while stock is out
        if board["uid"].removesuffix(SUFFIX) not in OPTIONAL_DATA and not optional:
            assert _rows(result) > 0, f"{board['title']} / {panel['title']}: no rows for {query}"
    for note in board["annotations"]["list"]:  # they parse and run (rows depend on the run)
        _run(client, note["name"], {"refId": "A"}, _with_all_values(note["query"], board))


def test_alert_rule_queries_run_through_grafana() -> None:
    """Each rule's query (thresholds at their defaults, written in) runs on Grafana's datasource;
    where the rules are provisioned (the compose demo), Grafana holds them with the same query."""
    assert URL is not None
    headers, basic = _auth()
    with httpx.Client(base_url=URL, headers=headers, auth=basic, timeout=30) as client:
        for rule in rules():
            _run(client, rule.title, {"refId": "A"}, rule.query)
            got = client.get(f"/api/v1/provisioning/alert-rules/{rule.uid}")
            if got.status_code == 200:
                assert got.json()["data"][0]["model"]["query"] == rule.query
                assert got.json()["annotations"]["summary"] == rule.summary  # read raw
