"""Shared fixtures. Real servers (mosquitto, influxd, asyncua) come from tests/servers/."""

from __future__ import annotations

pytest_plugins = ["tests.servers.mosquitto", "tests.servers.influxdb"]
