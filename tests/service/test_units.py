"""Unit tests of the service's parts: windows, carry-in, KPI lines, the InfluxQL client, CLI."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from typer.testing import CliRunner

from analytics.columns import to_columns
from analytics.report import compute_report
from analytics.service.backfill import LineEncoder, aligned_start
from analytics.service.carry import CarryState
from analytics.service.kpi_schema import RunMeta, report_lines
from analytics.service.windows import (
    DAY_MS,
    HOUR_MS,
    Window,
    current_windows,
    previous_windows,
    windows_between,
)
from plant_sim.states import StationState
from tests.gateway.helpers import run_log
from twin.cli import app
from twin_io.influx import InfluxConfig, InfluxError, InfluxQL, ensure_dbrp

T0 = 1_767_571_200_000  # 2026-01-05T00:00Z
MARKS = [(T0 + 6 * HOUR_MS, "early"), (T0 + 14 * HOUR_MS, "late"), (T0 + 22 * HOUR_MS, None)]


def test_current_and_previous_windows_follow_the_data_clock() -> None:
    now = T0 + 15 * HOUR_MS + 5
    cur = current_windows(now, MARKS)
    assert cur == [
        Window("hour", T0 + 15 * HOUR_MS, T0 + 16 * HOUR_MS),
        Window("shift", T0 + 14 * HOUR_MS, T0 + 22 * HOUR_MS, "late"),
        Window("day", T0, T0 + DAY_MS),
    ]
    prev = previous_windows(cur, MARKS)
    assert [w.start_ms for w in prev] == [T0 + 14 * HOUR_MS, T0 + 6 * HOUR_MS, T0 - DAY_MS]
    at_boundary = current_windows(T0 + 15 * HOUR_MS, MARKS)[0]
    assert at_boundary.start_ms == T0 + 14 * HOUR_MS  # the hour that just ended
    assert not at_boundary.complete_at(T0 + 15 * HOUR_MS)
    assert at_boundary.complete_at(T0 + 15 * HOUR_MS + 1)


def test_windows_between_counts_hours_days_and_shifts() -> None:
    ws = windows_between(T0, T0 + 30 * HOUR_MS, MARKS)
    kinds = [w.kind for w in ws]
    assert kinds.count("hour") == 30 and kinds.count("day") == 2 and kinds.count("shift") == 2


def test_carry_in_gives_the_same_kpis_as_the_whole_run() -> None:
    records = run_log(until_s=6 * 3600, seed=4)
    full = to_columns(records)
    t_from = 4.25 * 3600
    carry = CarryState()
    carry.feed(r for r in records if r.t < t_from)
    cols = to_columns(carry.records(t_from) + [r for r in records if r.t >= t_from])
    for span in ((t_from, 5 * 3600), (5 * 3600, 6 * 3600)):
        a, b = compute_report(full, span, shifts=False), compute_report(cols, span, shifts=False)
        for x, y in zip(
            [a.plant, *a.lines, *a.stations], [b.plant, *b.lines, *b.stations], strict=True
        ):
            assert x.kpis == y.kpis and x.elements == y.elements
        assert a.flow == b.flow


def test_report_lines_one_point_per_scope_stamped_with_the_window_start() -> None:
    records = run_log(until_s=9 * 3600, seed=4)
    report = compute_report(records, (6 * 3600, 9 * 3600), shifts=False)
    window = Window("shift", T0 + 6 * HOUR_MS, None, "early")
    lines = report_lines(report, window, RunMeta("r1", T0, "plant1"))
    kpi = [ln for ln in lines if ln.startswith("kpi,")]
    assert len(kpi) == 1 + len(report.lines) + len(report.stations)
    assert all(ln.endswith(f" {(T0 + 6 * HOUR_MS) * 1_000_000}") for ln in lines)
    assert all("None" not in ln and "nan" not in ln for ln in lines)
    assert any(ln.startswith("kpi_loss,") for ln in lines)
    assert ",shift=early," in kpi[0] and 'shift="' not in kpi[0]  # a tag, not a field
    assert all(",shift=early," in ln for ln in lines)  # kpi_loss too
    assert "window=shift" in kpi[0] and "site=plant1" in kpi[0] and "run_id=r1" in kpi[0]


def test_loss_reasons_that_cannot_be_names_still_give_kpi_loss_points() -> None:
    """A stored reason is free text (tabs, backslashes); as a ``kpi_loss`` tag it becomes a
    name (``naming.as_name``), so the cycle is not skipped for ever."""
    records = run_log(until_s=9 * 3600, seed=4)
    stops = [
        i for i, r in enumerate(records) if getattr(r, "state", None) == StationState.MINOR_STOP
    ]
    odd = ["jam\tat the\\infeed", "x" * 300]
    for i, text in zip(stops, odd, strict=False):
        records[i] = dataclasses.replace(records[i], reason=text)
    report = compute_report(records, (0, 9 * 3600), shifts=False)
    lines = report_lines(report, Window("day", T0, None), RunMeta("r1", T0, "plant1"))
    tags = {ln.split("reason=")[1].split(",")[0] for ln in lines if ln.startswith("kpi_loss,")}
    assert "minor_stop:jam\ufffdat\\ the\ufffdinfeed" in tags
    assert "minor_stop:" + "x" * 245 in tags  # cut to the longest name


def test_line_encoder_numbers_records_that_share_a_millisecond() -> None:
    records = run_log(until_s=600, seed=2)
    lines = LineEncoder("r", T0).lines(records)
    keys = [(ln.rsplit(" ", 2)[0], ln.rsplit(" ", 1)[1]) for ln in lines]
    assert len(set(keys)) == len(keys)  # every record its own point
    assert aligned_start(T0 + 14 * DAY_MS + 5 * HOUR_MS, 14) == T0


def _client(handler) -> InfluxQL:  # type: ignore[no-untyped-def]
    return InfluxQL(
        InfluxConfig("http://influx:8086", "twin", token="tok"),
        transport=httpx.MockTransport(handler),
    )


def test_influxql_reads_chunked_answers_and_sends_the_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Token tok"
        assert request.url.params["db"] == "twin" and request.url.params["epoch"] == "ns"
        chunk = {
            "results": [
                {
                    "statement_id": 0,
                    "series": [
                        {
                            "name": "m",
                            "tags": {"line": "l1"},
                            "columns": ["time", "v"],
                            "values": [[1, 2]],
                        }
                    ],
                }
            ]
        }
        return httpx.Response(200, content=(json.dumps(chunk) + "\n") * 2)

    rows = list(_client(handler).rows("SELECT v FROM m"))
    assert rows == [("m", {"time": 1, "v": 2, "line": "l1"})] * 2


@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (401, "unauthorized", "HTTP 401"),
        (
            200,
            json.dumps({"results": [{"error": "database not found: twin"}]}),
            "database not found",
        ),
    ],
)
def test_influxql_errors_name_the_endpoint(status: int, body: str, needle: str) -> None:
    client = _client(lambda _r: httpx.Response(status, content=body))
    with pytest.raises(InfluxError, match=needle) as info:
        client.query("SELECT 1")
    assert "http://influx:8086/query" in str(info.value)


def test_ensure_dbrp_creates_the_mapping_once() -> None:
    created = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dbrps" and request.method == "GET":
            return httpx.Response(200, json={"content": created})
        if request.url.path == "/api/v2/buckets":
            return httpx.Response(200, json={"buckets": [{"id": "b1", "name": "twin"}]})
        body = json.loads(request.content)
        created.append(body)
        return httpx.Response(201, json=body)

    config = InfluxConfig("http://influx:8086", "twin", token="tok", org="acme")
    transport = httpx.MockTransport(handler)
    assert ensure_dbrp(config, transport=transport) is True
    assert created[0]["bucketID"] == "b1" and created[0]["retention_policy"] == "autogen"
    assert ensure_dbrp(config, transport=transport) is False


def test_cli_errors_exit_with_their_codes() -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["backfill", "scenarios/plant_3lines.yaml", "--days", "0"])
    assert bad.exit_code == 2
    bad_end = runner.invoke(app, ["backfill", "scenarios/plant_3lines.yaml", "--end", "soon"])
    assert bad_end.exit_code == 2
    down = runner.invoke(
        app, ["analytics", "--once", "--wait", "0", "--influx-url", "http://127.0.0.1:9"]
    )
    assert down.exit_code == 1 and "127.0.0.1:9" in down.output


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        (["--days", "nan"], "--days"),
        (["--days", "inf"], "--days"),
        (["--days", "1e9"], "--days"),
        (["--end", "9999-12-31T00:00Z"], "--end"),
        (["--end", "0001-01-01T00:00Z"], "--end"),
        (["--seed", str(2**64)], "--seed"),
        (["--run-id", "a\\b"], "--run-id"),
        (["--run-id", "x" * 300], "--run-id"),
        (["--wait", "nan"], "--wait"),  # never gave up on the unreachable server
        (["--wait", "-1"], "--wait"),
        (["--influx-url", "ftp://influx:8086"], "--influx-url"),
        (["--influx-url", "localhost:8086"], "--influx-url"),
        (["--influx-database", " "], "--influx-database"),
    ],
)
@pytest.mark.timeout(30)
def test_backfill_options_out_of_range_exit_2_naming_the_option(
    options: list[str], hint: str
) -> None:
    """Checked before InfluxDB is asked: none of these reaches the (unreachable) server."""
    argv = ["backfill", "scenarios/tandem_mm1.yaml", "--influx-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, [*argv, "--wait", "0", *options])
    assert result.exit_code == 2, result.output
    assert hint in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        (["--interval", "nan"], "--interval"),  # cycled without a pause, hammering InfluxDB
        (["--interval", "inf"], "--interval"),  # OverflowError traceback after the first cycle
        (["--settle", "nan"], "--settle"),  # ValueError traceback
        (["--settle", "-5"], "--settle"),  # windows final before their data was in
        (["--run-id", ""], "--run-id"),  # followed a run that cannot exist
        (["--health-file", "/nonexistent-dir/health"], "--health-file"),  # traceback per cycle
        (["--influx-url", "http://127.0.0.1:70000"], "--influx-url"),  # exit 1, 'refused'
    ],
)
@pytest.mark.timeout(30)
def test_analytics_options_out_of_range_exit_2_naming_the_option(
    options: list[str], hint: str
) -> None:
    """Checked before InfluxDB is asked: none of these reaches the (unreachable) server."""
    argv = ["analytics", "--once", "--wait", "0", "--influx-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, [*argv, *options])
    assert result.exit_code == 2, result.output
    assert hint in result.output and "Traceback" not in result.output


def test_backfill_never_shows_the_password_of_the_influxdb_url() -> None:
    url = "http://bob:s3cr3t-pw@127.0.0.1:9"
    argv = ["backfill", "scenarios/tandem_mm1.yaml", "--days", "1", "--wait", "0"]
    result = CliRunner().invoke(app, [*argv, "--influx-url", url])
    assert result.exit_code == 1
    assert "s3cr3t-pw" not in result.output
    assert "http://bob:***@127.0.0.1:9/ping" in result.output
