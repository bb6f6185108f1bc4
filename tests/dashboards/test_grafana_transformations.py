"""Panel transformations run by Grafana's own code on real query results (no Grafana here).

Every panel that has transformations runs its queries on a backfilled InfluxDB 1.6.7; the
answers become data frames as Grafana's InfluxQL backend makes them for the table format
(``transformRowsForTable`` in ``pkg/tsdb/influxdb/influxql``: one frame, a ``Time`` field, a
field per tag, a field per column, display names from the datasource) and go through
``@grafana/data`` 11.6's ``transformDataFrame`` (``tests/dashboards/node/transform.js``), the
code Grafana's frontend applies them with. The downtime Pareto must come out as one row per
stop reason, largest first, with its cumulative share of all stop time ending at 100 %.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from analytics.columns import to_columns
from analytics.report import compute_report
from dashboards.checks import expand
from dashboards.files import build_all
from tests.servers.influxdb import InfluxServer
from tests.service.fixtures import Backfilled, backfilled_db

pytestmark = pytest.mark.integration
NODE_DIR = Path(__file__).with_name("node")
ALL = dict.fromkeys(("site", "run", "line", "station"), ".*")
DAY_S = 86_400.0


@pytest.fixture(scope="module")
def node_dir() -> Path:
    """The node script with @grafana/data installed (what scripts/test.sh runs)."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.fail("node and npm are needed (scripts/test.sh installs them)")
    if not (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return NODE_DIR


@pytest.fixture(scope="module")
def bf(influxd: InfluxServer) -> Backfilled:
    return backfilled_db(influxd)


def grafana_table_frame(series: list[dict], ref_id: str) -> dict:
    """One InfluxQL answer as the frame Grafana's backend makes of a table-format query."""
    first = series[0]
    n = [len(s["values"]) for s in series]
    fields = [
        {"name": "Time", "type": "time", "values": [r[0] for s in series for r in s["values"]]}
    ]
    for key in first.get("tags") or {}:
        values = [s["tags"][key] for s, k in zip(series, n, strict=True) for _ in range(k)]
        fields.append(_field(key, "string", values))
    for i, column in enumerate(first["columns"][1:], start=1):
        values = [r[i] for s in series for r in s["values"]]
        kind = "string" if any(isinstance(v, str) for v in values) else "number"
        fields.append(_field(column, kind, values))
    return {"name": first["name"], "refId": ref_id, "fields": fields}


def _field(name: str, kind: str, values: list) -> dict:
    return {"name": name, "type": kind, "values": values, "config": {"displayNameFromDS": name}}


def transform(node_dir: Path, frames: list[dict], transformations: list[dict]) -> list[dict]:
    """Frames after Grafana's transformations, as ``{name: values}`` per frame."""
    proc = subprocess.run(
        ["node", str(node_dir / "transform.js")],
        input=json.dumps({"frames": frames, "transformations": transformations}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    out = json.loads(line.removeprefix("RESULT "))["frames"]
    return [{f["name"]: f["values"] for f in frame["fields"]} for frame in out]


def _frames(influxd: InfluxServer, bf: Backfilled, panel: dict) -> list[dict]:
    out = []
    for t in panel["targets"]:
        q = expand(
            t["query"], bf.result.start_ms, bf.result.start_ms + int(DAY_S * 1000), "1m", ALL
        )
        res = influxd.query(q, bf.db, epoch="ms")["results"][0]
        assert "error" not in res and res.get("series"), q
        out.append(grafana_table_frame(res["series"], t["refId"]))
    return out


def _panels_with_transformations() -> list:
    return [
        pytest.param(p, id=f"{name}:{p['title']}")
        for name, board in build_all().items()
        for p in board["panels"]
        if p.get("transformations")
    ]


@pytest.mark.parametrize("panel", _panels_with_transformations())
def test_transformations_run_in_grafanas_code(
    influxd: InfluxServer, bf: Backfilled, node_dir: Path, panel: dict
) -> None:
    frames = _frames(influxd, bf, panel)
    (out,) = transform(node_dir, frames, panel["transformations"])
    rows = {len(values) for values in out.values()}
    assert rows == {len(frames[0]["fields"][0]["values"])}, out  # no row lost or made up


def _pareto() -> dict:
    (panel,) = [
        p for p in build_all()["downtime.json"]["panels"] if p["title"].startswith("Downtime by")
    ]
    return panel


def test_pareto_is_every_reason_largest_first_with_its_cumulative_share(
    influxd: InfluxServer, bf: Backfilled, node_dir: Path
) -> None:
    panel = _pareto()
    (out,) = transform(node_dir, _frames(influxd, bf, panel), panel["transformations"])
    assert list(out) == ["reason", "hours", "stops", "cumulative share"]
    # the event log's stop time per reason over the same day (all lines)
    report = compute_report(to_columns(bf.truth), (0.0, DAY_S), shifts=False)
    truth: dict[str, float] = {}
    for r in report.reason_losses:
        key = f"{r.state}:{r.reason}"
        truth[key] = truth.get(key, 0.0) + r.time_s / 3600.0
    shown = dict(zip(out["reason"], out["hours"], strict=True))
    assert shown.keys() == {k for k, v in truth.items() if v > 0}
    for reason, hours in shown.items():
        assert hours == pytest.approx(truth[reason], rel=1e-9), reason
    assert out["hours"] == sorted(out["hours"], reverse=True) and len(out["hours"]) >= 2
    total, running = sum(out["hours"]), 0.0
    for hours, share in zip(out["hours"], out["cumulative share"], strict=True):
        running += hours
        assert share == pytest.approx(running / total, rel=1e-9)
    assert out["cumulative share"][-1] == pytest.approx(1.0)


def test_the_former_time_series_join_kept_one_reason_only(
    influxd: InfluxServer, bf: Backfilled, node_dir: Path
) -> None:
    """Why ``outerTabular``: every row carries the range start as its Time, and the time
    series join (``outer``) keeps one row per time, so the Pareto showed one reason."""
    panel = _pareto()
    old = json.loads(json.dumps(panel["transformations"]).replace("outerTabular", "outer"))
    (out,) = transform(node_dir, _frames(influxd, bf, panel), old)
    assert len(out["reason"]) == 1
