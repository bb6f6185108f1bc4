"""A database written before ``shift`` became a tag of ``kpi`` is refused with what to do."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from tests.servers.influxdb import InfluxServer
from twin.cli import app

pytestmark = pytest.mark.integration
OLD_POINT = (
    "kpi,level=plant,line=plant,run_id=r1,scope=plant,site=plant1,window=shift "
    'shift="early",oee=0.61 1767600000000000000'
)


def _args(influxd: InfluxServer, db: str) -> list[str]:
    return ["--influx-url", influxd.url, "--influx-database", db, "--wait", "0"]


def test_analytics_and_backfill_refuse_an_old_database_and_say_what_to_do(
    influxd: InfluxServer,
) -> None:
    db = influxd.create_database()
    httpx.post(f"{influxd.url}/write", params={"db": db}, content=OLD_POINT).raise_for_status()
    runner = CliRunner()
    for command in (["analytics", "--once"], ["backfill", "scenarios/tandem_mm1.yaml"]):
        result = runner.invoke(app, [*command, *_args(influxd, db)])
        assert result.exit_code == 1, result.output
        assert "older version" in result.output and "fresh database" in result.output
        assert db in result.output


def test_a_new_or_current_database_is_used(influxd: InfluxServer) -> None:
    runner = CliRunner()
    fresh = f"new_{influxd.create_database()}"  # not created yet: analytics creates it
    result = runner.invoke(app, ["analytics", "--once", *_args(influxd, fresh)])
    assert result.exit_code == 0, result.output
    current = influxd.create_database()
    point = OLD_POINT.replace(",window=shift ", ",shift=early,window=shift ").replace(
        'shift="early",', ""
    )
    httpx.post(f"{influxd.url}/write", params={"db": current}, content=point).raise_for_status()
    result = runner.invoke(app, ["analytics", "--once", *_args(influxd, current)])
    assert result.exit_code == 0, result.output
