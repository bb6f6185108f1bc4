"""Choose and build the sink: from the ``influx_api`` setting or the server's ``/ping`` version."""

from __future__ import annotations

import logging

import httpx

from gateway.errors import SettingsError, SinkUnavailableError
from gateway.settings import GatewaySettings
from gateway.sinks.base import Sink
from gateway.sinks.influx_v1 import InfluxV1Sink
from gateway.sinks.influx_v2 import InfluxV2Sink

logger = logging.getLogger(__name__)


def detect_api(url: str, token: str | None = None, timeout_s: float = 5.0) -> tuple[str, str]:
    """Return ``(api, version)``: ``v1`` for InfluxDB 1.x, ``v2`` for 2.x and 3.x.

    Reads the ``X-Influxdb-Version`` header of ``/ping`` (3.x may need the token for it).
    Raises ``SinkUnavailableError`` naming the URL when the server does not answer.
    """
    headers = {"Authorization": f"Token {token}"} if token else {}
    try:
        resp = httpx.get(f"{url}/ping", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise SinkUnavailableError(f"InfluxDB {url}/ping: {type(exc).__name__}: {exc}") from exc
    version = resp.headers.get("X-Influxdb-Version", "")
    if not version and resp.headers.get("content-type", "").startswith("application/json"):
        try:
            version = str(resp.json().get("version", ""))
        except ValueError:
            version = ""
    if resp.status_code >= 400 and not version:
        raise SinkUnavailableError(f"InfluxDB {url}/ping: HTTP {resp.status_code}")
    major = version.lstrip("vV")[:1]
    if major == "1":
        return "v1", version
    if major in ("2", "3"):
        return "v2", version
    raise SettingsError(
        f"setting influx_api (TWIN_INFLUX_API): cannot tell the InfluxDB version at {url} "
        f"(X-Influxdb-Version {version!r}); set it to v1 or v2"
    )


def make_sink(settings: GatewaySettings, api: str) -> Sink:
    """Build the sink for ``api`` (``v1`` or ``v2``); raises ``SettingsError`` if incomplete."""
    token = settings.influx_token.get_secret_value() if settings.influx_token else None
    if api == "v1":
        password = settings.influx_password.get_secret_value() if settings.influx_password else None
        return InfluxV1Sink(
            settings.influx_url,
            settings.influx_database,
            settings.influx_retention_policy,
            settings.influx_username,
            password,
            token,
            settings.influx_timeout_s,
        )
    if token is None:
        raise SettingsError(
            "setting influx_token (TWIN_INFLUX_TOKEN): the v2 write API needs a token"
        )
    bucket = settings.influx_bucket or settings.influx_database
    return InfluxV2Sink(
        settings.influx_url, token, settings.influx_org, bucket, settings.influx_timeout_s
    )
