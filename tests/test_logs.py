"""Quiet logs: no line per HTTP request at INFO; everything at DEBUG (``twin -v``)."""

from __future__ import annotations

import logging

import httpx
import pytest

from plant_sim.logs import quiet_libraries


@pytest.fixture(autouse=True)
def _restore() -> None:
    yield
    quiet_libraries(logging.DEBUG)


def test_http_requests_are_not_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    quiet_libraries(logging.INFO)
    caplog.set_level(logging.INFO)
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with httpx.Client(transport=transport) as client:
        client.get("http://influx.invalid/ping")
    assert not [r for r in caplog.records if r.name.startswith("httpx")]


def test_verbose_shows_them(caplog: pytest.LogCaptureFixture) -> None:
    quiet_libraries(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with httpx.Client(transport=transport) as client:
        client.get("http://influx.invalid/ping")
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)
