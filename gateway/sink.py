"""Build the gateway's InfluxDB sink (``twin_io.influx``) from its settings."""

from __future__ import annotations

from gateway.errors import SettingsError
from gateway.settings import GatewaySettings
from twin_io.influx import InfluxV1Sink, InfluxV2Sink, Sink


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
