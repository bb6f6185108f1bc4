"""Gateway settings: command line > environment (``TWIN_*``) > config file > defaults.

The config file (TOML, YAML or JSON, chosen by its suffix) is named by ``--config`` or
``TWIN_GATEWAY_CONFIG`` and uses the same keys as the fields below (``influx_url = "..."``).
Secrets are ``SecretStr``: they never appear in logs or ``repr``.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.errors import SettingsError
from gateway.topic_filters import filter_problem
from plant_sim.input_files import InputFileError, decode_text, parse_yaml
from twin_io.mqtt import PLAIN_SCHEMES, TLS_SCHEMES, MqttOptions
from twin_io.urls import bad_port, hide_passwords

ENV_PREFIX = "TWIN_"
CONFIG_ENV = "TWIN_GATEWAY_CONFIG"
_config_path: ContextVar[Path | None] = ContextVar("gateway_config_path", default=None)


def _check_filters(filters: list[str], where: str = "") -> None:
    """Raise ``ValueError`` (prefixed by ``where``) at the first invalid MQTT topic filter."""
    for f in filters:
        problem = filter_problem(f)
        if problem is not None:
            raise ValueError(where + problem)


def _check_port(url: str) -> None:
    """Raise ``ValueError`` for a port outside 1..65535 (``bad_port``)."""
    if bad_port(url):
        raise ValueError(f"{hide_passwords(url)!r}: the port must be 1..65535")


class GatewaySettings(BaseSettings):
    """Every setting of ``twin gateway``; each maps to ``TWIN_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, allow_inf_nan=False
    )

    # InfluxDB
    influx_url: str = Field(description="InfluxDB base URL, e.g. http://localhost:8086.")
    influx_api: Literal["auto", "v1", "v2"] = Field(
        "auto",
        description="Write API: v1 (/write, InfluxDB 1.x), v2 (influxdb-client, 2.x/3.x), "
        "or auto (from the /ping version header).",
    )
    influx_database: str = Field("twin", description="v1: database (created on 1.x).")
    influx_retention_policy: str | None = Field(None, description="v1: retention policy.")
    influx_username: str | None = Field(None, description="v1: user name.")
    influx_password: SecretStr | None = Field(None, description="v1: password.")
    influx_token: SecretStr | None = Field(None, description="v2/3.x: API token.")
    influx_org: str = Field("-", description="v2: organisation (ignored by 3.x).")
    influx_bucket: str | None = Field(None, description="v2: bucket (default: influx_database).")
    influx_timeout_s: float = Field(10.0, gt=0, description="Timeout of one write request.")
    # Sources
    mqtt_url: str | None = Field(
        None, description="MQTT broker, mqtt://[user[:pass]@]host[:port] (mqtts:// for TLS)."
    )
    mqtt_topics: list[str] = Field(["#"], description="Topic filters to subscribe to (UNS tree).")
    mqtt_client_id: str = Field(
        "twin-gateway", min_length=1, description="MQTT client id: the persistent session's name."
    )
    mqtt_username: str | None = Field(None, description="MQTT user name.")
    mqtt_password: SecretStr | None = Field(None, description="MQTT password.")
    mqtt_ca_file: Path | None = Field(
        None, description="mqtts://: CA certificate(s) that sign the broker's (default: system)."
    )
    mqtt_cert_file: Path | None = Field(None, description="mqtts://: client certificate (PEM).")
    mqtt_key_file: Path | None = Field(None, description="mqtts://: client private key (PEM).")
    mqtt_keepalive_s: int = Field(30, gt=0, description="MQTT keep-alive.")
    mqtt_mapping: Path | None = Field(
        None,
        description="Ingest other producers' JSON (Node-RED, UMH _historian, ...) under this "
        "mapping file (topic pattern -> line/station, JSON fields -> state, counts, timestamp) "
        "instead of the twin's payloads; see docs/mqtt_json.md.",
    )
    mqtt_format: Literal["uns", "sparkplug"] = Field(
        "uns",
        description="What the MQTT source reads: uns (the twin's JSON records on the UNS topics) "
        "or sparkplug (Sparkplug B 3.0 under spBv1.0/#, as a host application: births, deaths, "
        "aliases, seq checks with rebirth requests; see docs/gateway.md).",
    )
    sparkplug_host_id: str | None = Field(
        None,
        description="mqtt_format=sparkplug: the host application id; the gateway then publishes "
        "its STATE on spBv1.0/STATE/<id> (retained; offline as its will). Edge nodes started with "
        "twin sim --sparkplug-primary-host <id> wait for it.",
    )
    sparkplug_mapping: Path | None = Field(
        None,
        description="mqtt_format=sparkplug: also turn the metrics of other edge nodes (Ignition, "
        "a PLC gateway) into records under this mapping file (group/edge node/device -> "
        "line/station, metrics -> state, good/scrap counts, planned cycle time); see "
        "docs/gateway.md.",
    )
    mqtt_partitions: list[list[str]] = Field(
        [],
        description="Run one gateway process per group of topic filters (instead of "
        "mqtt_topics), to use more cores: each group a comma-separated list, e.g. "
        "'+/+/+/line1/#,+/+/+/_plant/#' '+/+/+/line2/#'. MQTT only; each partition has "
        "its own session (<mqtt_client_id>-p<k>) and buffer (<data_dir>/p<k>).",
    )
    opcua_endpoint: str | None = Field(None, description="OPC UA server, opc.tcp://host:port/path.")
    opcua_event_type: str = Field(
        "TwinRecordEventType", description="Browse name of the record event type."
    )
    opcua_machines_folder: str = Field(
        "Machines", description="Browse name of the machines folder."
    )
    opcua_event_scope: Literal["server", "machines"] = Field(
        "server",
        description="Subscribe to record events at the Server object (server), or at every "
        "event notifier found by browsing the plant's objects (machines).",
    )
    opcua_mapping: Path | None = Field(
        None,
        description="Read any OPC 40001-1 (Machinery) server at opcua_endpoint under this "
        "mapping file (YAML/JSON: machine -> line/station, counters -> good/scrap, planned "
        "cycle time) instead of the twin's record events; see docs/machinery.md.",
    )
    opcua_timeout_s: float = Field(
        10.0,
        gt=0,
        description="OPC UA request timeout and keep-alive probe period (a busy "
        "server that answers slower than this counts as lost).",
    )
    opcua_publishing_interval_ms: int = Field(100, gt=0, description="Subscription interval.")
    opcua_queue_size: int = Field(10_000, gt=0, description="Server-side event queue per item.")
    # Pipeline
    data_dir: Path = Field(Path("gateway-data"), description="Buffer, dead letters, state.")
    batch_size: int = Field(5_000, gt=0, le=100_000, description="Lines per write request.")
    flush_interval_s: float = Field(
        1.0, gt=0, le=3600, description="Longest wait before a partial batch."
    )
    buffer_max_records: int = Field(2_000_000, gt=0, description="Bound of the disk buffer.")
    buffer_full_policy: Literal["drop_oldest", "block"] = Field(
        "drop_oldest",
        description="When the buffer is full: drop the oldest records (counted), "
        "or block the sources (MQTT then queues in the broker).",
    )
    buffer_fsync: bool = Field(
        False, description="fsync every buffer commit (power-loss safe; slower)."
    )
    retry_initial_s: float = Field(0.5, gt=0, description="First retry delay of a failed write.")
    retry_max_s: float = Field(30.0, gt=0, description="Longest retry delay.")
    metrics_interval_s: float = Field(10.0, gt=0, description="Period of the gateway's metrics.")
    gateway_name: str = Field(
        default_factory=socket.gethostname, description="Tag of the gateway's own metrics."
    )
    dead_letter_max_bytes: int = Field(
        100_000_000, gt=0, description="Size at which the dead-letter file is rotated."
    )
    require_endpoints: bool = Field(
        True, description="Exit at start when an endpoint is unreachable (else wait and retry)."
    )

    @field_validator("influx_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http(s)://host[:port], got {hide_passwords(value)!r}")
        _check_port(value)
        return value.rstrip("/")

    @field_validator("influx_database")
    @classmethod
    def _database_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the database name is empty")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in PLAIN_SCHEMES + TLS_SCHEMES or not parts.hostname:
            raise ValueError(
                f"expected mqtt://host[:port] or mqtts://..., got {hide_passwords(value)!r}"
            )
        return value

    @field_validator("mqtt_partitions", mode="before")
    @classmethod
    def _split_groups(cls, value: object) -> object:
        if isinstance(value, list):
            return [g.split(",") if isinstance(g, str) else g for g in value]
        return value

    @field_validator("mqtt_partitions")
    @classmethod
    def _valid_groups(cls, value: list[list[str]]) -> list[list[str]]:
        groups = [[f.strip() for f in group] for group in value]
        for k, group in enumerate(groups):
            _check_filters(group, f"group {k + 1}: ")
        return groups

    @field_validator("mqtt_topics")
    @classmethod
    def _valid_topics(cls, value: list[str]) -> list[str]:
        _check_filters(value)
        return value

    @field_validator("sparkplug_host_id")
    @classmethod
    def _valid_host_id(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c in value for c in "/+#")):
            raise ValueError(f"{value!r}: a host id is one topic level (no /, + or #, not empty)")
        return value

    @field_validator("data_dir")
    @classmethod
    def _usable_dir(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} exists and is not a directory")
        return value

    @field_validator("opcua_endpoint")
    @classmethod
    def _opcua_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("opc.tcp://") or not urlsplit(value).hostname:
            raise ValueError(f"expected opc.tcp://host:port[/path], got {value!r}")
        _check_port(value)
        return value

    @field_validator("mqtt_mapping")
    @classmethod
    def _json_mapping_loads(cls, value: Path | None) -> Path | None:
        if value is not None:
            from gateway.json_map import load_json_mapping

            load_json_mapping(value)  # MappingError is a ValueError naming the file and field
        return value

    @field_validator("sparkplug_mapping")
    @classmethod
    def _sparkplug_mapping_loads(cls, value: Path | None) -> Path | None:
        if value is not None:
            from gateway.sparkplug_map import load_sparkplug_mapping

            load_sparkplug_mapping(value)  # MappingError is a ValueError naming file and field
        return value

    @field_validator("opcua_mapping")
    @classmethod
    def _mapping_loads(cls, value: Path | None) -> Path | None:
        if value is not None:
            from gateway.machinery_map import load_mapping

            load_mapping(value)  # MappingError is a ValueError naming the file and field
        return value

    @model_validator(mode="after")
    def _one_source(self) -> GatewaySettings:
        if self.mqtt_url is None and self.opcua_endpoint is None:
            raise ValueError("give at least one source: mqtt_url or opcua_endpoint")
        if self.mqtt_mapping is not None and (self.mqtt_url is None or self.mqtt_partitions):
            raise ValueError("mqtt_mapping needs mqtt_url, and one process (no mqtt_partitions)")
        if self.mqtt_format == "sparkplug" and (
            self.mqtt_url is None or self.mqtt_mapping is not None or self.mqtt_partitions
        ):
            raise ValueError(
                "mqtt_format sparkplug needs mqtt_url, and no mqtt_mapping nor mqtt_partitions"
            )
        if self.sparkplug_host_id is not None and self.mqtt_format != "sparkplug":
            raise ValueError("sparkplug_host_id needs mqtt_format sparkplug")
        if self.sparkplug_mapping is not None and self.mqtt_format != "sparkplug":
            raise ValueError("sparkplug_mapping needs mqtt_format sparkplug")
        if self.opcua_mapping is not None and self.opcua_endpoint is None:
            raise ValueError("opcua_mapping needs opcua_endpoint (the Machinery server)")
        if self.mqtt_url is not None:
            self.mqtt_options()  # raises MqttConfigError (a ValueError) naming the option
        return self

    def mqtt_options(self) -> MqttOptions:
        """The MQTT connection options (URL, credentials, TLS files) of ``twin_io.mqtt``."""
        return MqttOptions(
            url=self.mqtt_url or "",
            username=self.mqtt_username,
            password=self.mqtt_password.get_secret_value() if self.mqtt_password else None,
            ca_file=self.mqtt_ca_file,
            cert_file=self.mqtt_cert_file,
            key_file=self.mqtt_key_file,
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command line (init), then environment, then the config file."""
        return init_settings, env_settings, _ConfigFileSource(settings_cls)


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Reads the file named by ``TWIN_GATEWAY_CONFIG`` (set by ``--config`` too)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_path.get() or os.environ.get(CONFIG_ENV)
        return read_config_file(Path(path)) if path else {}


def read_config_file(path: Path) -> dict[str, Any]:
    """Return the settings in a TOML, YAML or JSON file; raises ``SettingsError``."""
    try:
        text = decode_text(path.read_bytes(), str(path))
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = parse_yaml(text, str(path)) or {}
        elif path.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        else:
            raise SettingsError(f"config file {path}: use a .toml, .yaml or .json file")
    except OSError as exc:
        raise SettingsError(f"config file {path}: cannot read ({exc.strerror})") from exc
    except InputFileError as exc:
        raise SettingsError(f"config file {exc}") from exc
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise SettingsError(f"config file {path}: not valid ({exc})") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path}: expected a table of settings")
    return data.get("gateway", data) if isinstance(data.get("gateway"), dict) else data


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"duplicate key {key!r}")
    return dict(pairs)


def load_settings(config: Path | None = None, **overrides: Any) -> GatewaySettings:
    """Build the settings; raises ``SettingsError`` naming the setting and its env variable."""
    given = {k: v for k, v in overrides.items() if v is not None}
    token = _config_path.set(config)
    try:
        return GatewaySettings(**given)
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from exc
    finally:
        _config_path.reset(token)


def _explain(exc: ValidationError) -> str:
    """One ``setting NAME (TWIN_NAME): problem`` per error; a check of several settings
    (``loc`` empty) names its setting in its message."""
    lines = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")  # pydantic's prefix for a ValueError
        if not err["loc"]:
            lines.append(f"settings: {msg}")
            continue
        name = ".".join(str(p) for p in err["loc"])
        lines.append(f"setting {name} ({ENV_PREFIX}{name.upper()}): {msg}")
    return "; ".join(lines)
