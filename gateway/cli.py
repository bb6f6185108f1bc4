"""``twin gateway``: run the gateway from the command line, environment and a config file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from gateway.errors import GatewayError, SettingsError
from gateway.settings import ENV_PREFIX, GatewaySettings, load_settings
from plant_sim.gc_pause import tune_for_streaming
from twin_io.stop_signals import install_process_stop

logger = logging.getLogger(__name__)


def _settings_table() -> str:
    rows = []
    for name, info in GatewaySettings.model_fields.items():
        rows.append(f"{ENV_PREFIX}{name.upper()}: {info.description}")
    return "\n\n".join(rows)


EPILOG = (
    "Every setting is also read from the environment (TWIN_<NAME>) and from the --config file "
    '(TOML, YAML or JSON with the same names in lower case, e.g. influx_url = "..."); the '
    "command line wins over the environment, which wins over the file. Secrets (passwords, "
    "tokens) are best given in the environment.\n\nAll settings:\n\n" + _settings_table()
)

_HELP = {name: info.description for name, info in GatewaySettings.model_fields.items()}


def gateway(
    influx_url: str = typer.Option(None, help=_HELP["influx_url"]),
    influx_api: str = typer.Option(None, help=_HELP["influx_api"]),
    influx_database: str = typer.Option(None, help=_HELP["influx_database"]),
    influx_retention_policy: str = typer.Option(None, help=_HELP["influx_retention_policy"]),
    influx_username: str = typer.Option(None, help=_HELP["influx_username"]),
    influx_org: str = typer.Option(None, help=_HELP["influx_org"]),
    influx_bucket: str = typer.Option(None, help=_HELP["influx_bucket"]),
    mqtt_url: str = typer.Option(None, help=_HELP["mqtt_url"]),
    mqtt_topic: list[str] = typer.Option(None, help=_HELP["mqtt_topics"] + " (repeat)."),
    mqtt_client_id: str = typer.Option(None, help=_HELP["mqtt_client_id"]),
    mqtt_username: str = typer.Option(None, help=_HELP["mqtt_username"]),
    mqtt_password: str = typer.Option(
        None, help=_HELP["mqtt_password"] + " Better from TWIN_MQTT_PASSWORD.", show_default=False
    ),
    mqtt_ca_file: Path = typer.Option(None, help=_HELP["mqtt_ca_file"]),
    mqtt_cert_file: Path = typer.Option(None, help=_HELP["mqtt_cert_file"]),
    mqtt_key_file: Path = typer.Option(None, help=_HELP["mqtt_key_file"]),
    mqtt_partition: list[str] = typer.Option(None, help=_HELP["mqtt_partitions"] + " (repeat)."),
    mqtt_mapping: Path = typer.Option(None, help=_HELP["mqtt_mapping"]),
    mqtt_format: str = typer.Option(None, help=_HELP["mqtt_format"]),
    sparkplug_host_id: str = typer.Option(None, help=_HELP["sparkplug_host_id"]),
    sparkplug_mapping: Path = typer.Option(None, help=_HELP["sparkplug_mapping"]),
    opcua_endpoint: str = typer.Option(None, help=_HELP["opcua_endpoint"]),
    opcua_event_scope: str = typer.Option(None, help=_HELP["opcua_event_scope"]),
    opcua_mapping: Path = typer.Option(None, help=_HELP["opcua_mapping"]),
    data_dir: Path = typer.Option(None, help=_HELP["data_dir"]),
    batch_size: int = typer.Option(None, help=_HELP["batch_size"]),
    flush_interval_s: float = typer.Option(None, help=_HELP["flush_interval_s"]),
    buffer_max_records: int = typer.Option(None, help=_HELP["buffer_max_records"]),
    buffer_full_policy: str = typer.Option(None, help=_HELP["buffer_full_policy"]),
    metrics_interval_s: float = typer.Option(None, help=_HELP["metrics_interval_s"]),
    require_endpoints: bool = typer.Option(
        None, "--require-endpoints/--no-require-endpoints", help=_HELP["require_endpoints"]
    ),
    config: Path = typer.Option(None, help="Settings file (.toml, .yaml, .json)."),
) -> None:
    """Subscribe to OPC UA and MQTT and store every record in InfluxDB, losing nothing."""
    install_process_stop()  # a signal from here on is a clean stop, also during start-up
    from gateway.app import Gateway
    from gateway.partitions import PartitionedGateway, partition_settings

    try:
        settings = load_settings(
            config,
            influx_url=influx_url,
            influx_api=influx_api,
            influx_database=influx_database,
            influx_retention_policy=influx_retention_policy,
            influx_username=influx_username,
            influx_org=influx_org,
            influx_bucket=influx_bucket,
            mqtt_url=mqtt_url,
            mqtt_topics=mqtt_topic or None,
            mqtt_client_id=mqtt_client_id,
            mqtt_username=mqtt_username,
            mqtt_password=mqtt_password,
            mqtt_ca_file=mqtt_ca_file,
            mqtt_cert_file=mqtt_cert_file,
            mqtt_key_file=mqtt_key_file,
            mqtt_partitions=mqtt_partition or None,
            mqtt_mapping=mqtt_mapping,
            mqtt_format=mqtt_format,
            sparkplug_host_id=sparkplug_host_id,
            sparkplug_mapping=sparkplug_mapping,
            opcua_endpoint=opcua_endpoint,
            opcua_event_scope=opcua_event_scope,
            opcua_mapping=opcua_mapping,
            data_dir=data_dir,
            batch_size=batch_size,
            flush_interval_s=flush_interval_s,
            buffer_max_records=buffer_max_records,
            buffer_full_policy=buffer_full_policy,
            metrics_interval_s=metrics_interval_s,
            require_endpoints=require_endpoints,
        )
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    try:
        if settings.mqtt_partitions:
            PartitionedGateway(partition_settings(settings)).run_forever()
        else:
            tune_for_streaming()
            Gateway(settings).run_forever()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


def register(app: typer.Typer) -> None:
    """Add ``twin gateway`` to the ``twin`` command."""
    app.command("gateway", epilog=EPILOG)(gateway)


def main() -> None:
    """Run ``gateway`` alone (``python -m gateway``)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    from plant_sim.logs import configure

    configure(logging.INFO)
    app()
