"""Outputs of a study: long rows, CSV, Parquet, the HTML report and InfluxDB line protocol."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from matplotlib.image import imread
from rich.console import Console

from analytics.whatif import (
    InfluxWriteError,
    SerialExecutor,
    render_html,
    replication_rows,
    run_study,
    summary_rows,
    to_line_protocol,
    write_csv,
    write_influx,
    write_parquet,
)
from analytics.whatif.export import REPLICATION_COLUMNS, SUMMARY_COLUMNS, write_json
from analytics.whatif.plots import timeline_figure, variant_colours
from analytics.whatif.tables import kpi_tables, print_result
from tests.whatif.conftest import tandem_study

AT_MS = 1_767_571_200_000


def test_summary_rows_hold_intervals_and_comparisons(small_result) -> None:
    rows = summary_rows(small_result)
    assert len(rows) == 3 * 4  # variants x KPIs
    assert [c for c, _ in SUMMARY_COLUMNS] == list(rows[0])
    base = next(r for r in rows if r["variant"] == "base" and r["kpi"] == "throughput_uph")
    assert base["verdict"] is None and base["low"] < base["mean"] < base["high"]
    more = next(r for r in rows if r["variant"] == "more_demand" and r["kpi"] == "availability@s3")
    assert (more["kpi_id"], more["scope"], more["unit"]) == ("availability", "s3", "ratio")
    assert more["diff_low"] <= more["diff_mean"] <= more["diff_high"]


def test_replication_rows_hold_every_value(small_result) -> None:
    rows = replication_rows(small_result)
    assert len(rows) == 3 * 4 * 4  # variants x replications x KPIs
    assert {r["seed"] for r in rows} == {7, 8, 9, 10}


def test_csv_files_hold_the_rows(small_result, tmp_path: Path) -> None:
    summary, reps = write_csv(small_result, tmp_path / "out.csv")
    assert reps.name == "out.replications.csv"
    with summary.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and rows[0]["variant"] == "base" and rows[0]["verdict"] == ""
    with reps.open() as fh:
        assert len(list(csv.DictReader(fh))) == 48


def test_parquet_files_are_typed(small_result, tmp_path: Path) -> None:
    summary, reps = write_parquet(small_result, tmp_path / "out.parquet")
    table = pq.read_table(summary)
    assert table.num_rows == 12
    assert str(table.schema.field("mean").type) == "double"
    assert str(table.schema.field("significant").type) == "bool"
    assert pq.read_table(reps).column_names == [c for c, _ in REPLICATION_COLUMNS]


def test_the_html_report_is_self_contained_with_a_plot_per_view(small_result) -> None:
    text = render_html(small_result, generated="2026-01-01 00:00 UTC")
    images = re.findall(
        r'<img class="plot" alt="([^"]*)" src="data:image/png;base64,([^"]+)"', text
    )
    alts = [a for a, _ in images]
    # one per KPI, throughput over time, bottleneck shares, state breakdown per variant
    assert len(images) == 4 + 1 + 1 + 3
    assert "Throughput rate by variant" in alts and "throughput over time" in alts
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for _, data in images)
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "more_demand: Throughput rate significantly higher (better)" in text
    # the answer comes right after the title, before the study details
    assert text.index('<div class="answer"') < text.index('<p class="meta">')


@pytest.fixture(scope="module")
def warned_result():
    """A study with two warnings: a warm-up of 2 h in 3 h runs, and MTBF undefined (no
    breakdown in the tandem line) in every replication."""
    study = tandem_study(
        replications=2, run_length="3h", warmup="2h", kpis=["throughput_uph", "mtbf_h@s1"]
    )
    return run_study(study, SerialExecutor())


def test_warnings_reach_the_terminal_html_csv_parquet_and_json(
    warned_result, tmp_path: Path
) -> None:
    kinds = [w.kind for w in warned_result.warnings]
    assert kinds == ["run_short_for_warmup", "kpi_undefined"]
    short = warned_result.warnings[0].text
    assert short.startswith("runs too short for the chosen warm-up: the warm-up (2 h) takes 67 %")
    console = Console(width=80, record=True, file=io.StringIO())
    print_result(warned_result, console)
    terminal = " ".join(console.export_text().split())
    assert "warning: runs too short for the chosen warm-up" in terminal
    assert "warning: MTBF (s1) is undefined in every replication (base 2 of 2, more_demand" in (
        terminal
    )
    assert "it has no value and no interval" in terminal
    html_text = render_html(warned_result)
    assert html.escape(short) in html_text and html_text.count('class="warning"') == 2
    with write_csv(warned_result, tmp_path / "w.csv")[0].open() as fh:
        rows = {(r["variant"], r["kpi"]): r["warnings"] for r in csv.DictReader(fh)}
    assert rows[("base", "throughput_uph")] == short  # study-wide only
    assert rows[("same", "mtbf_h@s1")].startswith(short + " | MTBF (s1) is undefined in every")
    table = pq.read_table(write_parquet(warned_result, tmp_path / "w.parquet")[0]).to_pylist()
    assert {(r["variant"], r["kpi"]): r["warnings"] for r in table} == rows
    summary = json.loads(write_json(warned_result, tmp_path / "w.json")[0].read_text())
    assert [w["kind"] for w in summary["warnings"]] == kinds


def test_tables_fit_an_80_column_terminal(small_result) -> None:
    """No table row wraps: every KPI table has exactly its title, header, rule, rows."""
    for table in kpi_tables(small_result):
        console = Console(width=80, record=True, file=io.StringIO())
        console.print(table)
        lines = [ln for ln in console.export_text().splitlines() if ln.strip()]
        assert max(map(len, lines)) <= 80
        assert len(lines) == 3 + len(small_result.variant_names), lines


def test_line_protocol_tags_points_by_study_and_variant(small_result) -> None:
    lines = to_line_protocol(small_result, AT_MS)
    kpi = [x for x in lines if x.startswith("whatif_kpi,")]
    reps = [x for x in lines if x.startswith("whatif_replication,")]
    assert len(kpi) == 12 and len(reps) == 48
    line = next(x for x in kpi if "variant=more_demand" in x and "kpi=throughput_uph" in x)
    assert line.startswith(
        "whatif_kpi,kpi=throughput_uph,scope=plant,study=tandem_test,variant=more_demand "
    )
    assert line.endswith(f" {AT_MS}") and "significant=" in line and 'verdict="' in line
    assert ",replication=0," in next(x for x in reps if "variant=same" in x)


def test_results_go_to_the_v1_write_endpoint(small_result) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    lines = to_line_protocol(small_result, AT_MS)
    n = write_influx(
        lines,
        "http://influx:8086/",
        "factory",
        token="t0k",
        transport=httpx.MockTransport(handler),
        batch=25,
    )
    assert n == len(lines) and len(seen) == 3
    assert seen[0].url.path == "/write"
    assert dict(seen[0].url.params) == {"db": "factory", "precision": "ms"}
    assert seen[0].headers["authorization"] == "Token t0k"
    assert seen[0].content.decode().split("\n") == lines[:25]


def test_a_refused_write_names_the_endpoint(small_result) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(404, text='{"error":"no db"}'))
    with pytest.raises(InfluxWriteError, match=r"http://influx:8086/write \(db=x\) answered 404"):
        write_influx(["m,a=b f=1 1"], "http://influx:8086", "x", transport=transport)


def test_an_unreachable_server_is_named() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(InfluxWriteError, match=r"http://nowhere:1/write: ConnectError"):
        write_influx(
            ["m,a=b f=1 1"], "http://nowhere:1", "x", transport=httpx.MockTransport(refuse)
        )


@pytest.mark.integration
def test_results_land_in_a_real_influxdb(small_result, influxd, influx_db) -> None:
    lines = to_line_protocol(small_result, AT_MS)
    write_influx(lines, influxd.url, influx_db)
    answer = influxd.query(
        "SELECT mean, diff_mean, verdict FROM whatif_kpi WHERE variant = 'more_demand' "
        "AND kpi = 'throughput_uph'",
        db=influx_db,
        epoch="ms",
    )
    series = answer["results"][0]["series"][0]
    ((time_ms, mean, diff, verdict),) = series["values"]
    expected = small_result.comparison("more_demand", "throughput_uph")
    assert time_ms == AT_MS
    assert mean == small_result.summary("more_demand", "throughput_uph").interval.mean
    assert (diff, verdict) == (expected.difference.mean, expected.verdict)
    count = influxd.query("SELECT count(value) FROM whatif_replication", db=influx_db)
    assert count["results"][0]["series"][0]["values"][0][1] == 48


def test_every_variant_has_its_own_colour_in_the_throughput_plot(small_result) -> None:
    """The base and the first variant used to share matplotlib's first colour (blue)."""
    colours = variant_colours(20)
    assert len(set(colours[:19])) == 19 and colours[0] == "#1f77b4"
    image = imread(io.BytesIO(timeline_figure(small_result)), format="png")[:, :, :3]
    rgb = (image * 255).round().astype(int)
    for colour in colours[: len(small_result.variant_names)]:
        target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(rgb - target).max(axis=2) <= 8).sum() > 20, colour  # line or legend
