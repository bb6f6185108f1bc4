"""The gateway: OPC UA and MQTT telemetry into InfluxDB, with store-and-forward.

    sources (mqtt, opcua) ─► intake queue ─► ingest: normalize, sequence, dead-letter
        ─► disk buffer (sqlite, acked to MQTT after commit) ─► writer: batches, retries ─► InfluxDB

``Gateway(settings)`` runs it; ``GatewaySettings`` holds every setting (env prefix ``TWIN_``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.errors import (
    GatewayError,
    SettingsError,
    SinkError,
    SinkRejectedError,
    SinkUnavailableError,
    SourceError,
)

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.settings import GatewaySettings, load_settings

__all__ = [
    "Gateway",
    "GatewayError",
    "GatewaySettings",
    "SettingsError",
    "SinkError",
    "SinkRejectedError",
    "SinkUnavailableError",
    "SourceError",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    if name == "Gateway":  # imported lazily: it pulls in asyncua, paho and influxdb-client
        from gateway.app import Gateway

        return Gateway
    if name in ("GatewaySettings", "load_settings"):  # lazily: ``python -m gateway`` installs
        from gateway import settings  # its signal handlers before anything slow is imported

        return getattr(settings, name)
    raise AttributeError(name)
