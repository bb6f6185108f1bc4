"""Against a live Grafana (runs only when GRAFANA_URL is set, e.g. the compose demo's).

Pushes the dashboards with grafana-client, reads them back by uid, and runs every panel query
through Grafana's own query API (``/api/ds/query``), which expands the macros itself. Needs
GRAFANA_USER/GRAFANA_PASSWORD or GRAFANA_TOKEN with editor rights, and a Grafana whose datasource
``twin-influxdb`` reaches an InfluxDB holding data (e.g. after ``twin backfill``). No Grafana runs
on the test machines, so this test is skipped there.
"""

from __future__ import annotations

import os

import httpx
import pytest

from dashboards.checks import queries
from dashboards.files import JSON_DIR, load_all
from dashboards.model import DATASOURCE_UID
from dashboards.push import connect, push

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


def test_push_and_query_through_grafana() -> None:
    assert URL is not None
    headers, basic = _auth()
    api = connect(URL, os.environ.get("GRAFANA_TOKEN") or basic)
    boards = load_all(JSON_DIR)
    assert len(push(api, boards)) == len(boards)
    with httpx.Client(base_url=URL, headers=headers, auth=basic, timeout=30) as client:
        for board in boards.values():
            got = client.get(f"/api/dashboards/uid/{board['uid']}")
            assert got.status_code == 200 and got.json()["dashboard"]["title"] == board["title"]
            for panel, target in queries(board):
                body = {"from": "now-7d", "to": "now", "queries": [dict(
                    target, datasource={"type": "influxdb", "uid": DATASOURCE_UID},
                    intervalMs=600_000, maxDataPoints=500)]}
                resp = client.post("/api/ds/query", json=body)
                assert resp.status_code == 200, f"{panel['title']}: {resp.text[:300]}"
                result = resp.json()["results"][target["refId"]]
                assert "error" not in result, f"{panel['title']}: {result['error']}"
