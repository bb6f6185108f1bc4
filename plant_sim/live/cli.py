"""``twin sim``: run the live plant over OPC UA and MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from plant_sim.durations import parse_duration
from plant_sim.live.clock import check_speed
from plant_sim.naming import NAMESPACE_URI, name_problem

# the live stack (asyncua, paho: most of a second) is imported once SIGTERM is a clean stop
if TYPE_CHECKING:
    from plant_sim.live.service import LiveConfig

log = logging.getLogger(__name__)
err = Console(stderr=True)


def sim(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    speed: float = typer.Option(1.0, help="Speed factor: 1 = real time, 60 = a minute a second."),
    seed: int | None = typer.Option(None, help="Random seed (default: the scenario's)."),
    until: str | None = typer.Option(
        None, help="Stop at this simulation time (e.g. 8h); default: run until Ctrl-C."
    ),
    run_id: str | None = typer.Option(None, help="Run id (default: SCENARIO-sSEED)."),
    start_now: bool = typer.Option(
        True,
        "--start-now/--scenario-start",
        help="Start at the wall clock's now (timestamps and shift calendar, in the plant's "
        "time zone), or at the scenario's start_time.",
    ),
    opcua: bool = typer.Option(True, "--opcua/--no-opcua", help="Serve OPC UA."),
    opcua_endpoint: str = typer.Option(
        "opc.tcp://0.0.0.0:4840/twin/", envvar="TWIN_OPCUA_ENDPOINT", help="OPC UA endpoint."
    ),
    namespace_uri: str = typer.Option(NAMESPACE_URI, help="OPC UA namespace URI of the plant."),
    opcua_user: list[str] = typer.Option([], help="USER:PASSWORD allowed to log in (repeat)."),
    opcua_anonymous: bool = typer.Option(
        True, "--opcua-anonymous/--no-opcua-anonymous", help="Allow anonymous OPC UA sessions."
    ),
    opcua_encrypt: bool = typer.Option(
        False,
        "--opcua-encrypt",
        help="Offer Basic256Sha256 SignAndEncrypt with a generated certificate.",
    ),
    opcua_encrypt_only: bool = typer.Option(
        False, "--opcua-encrypt-only", help="With --opcua-encrypt: no NoSecurity endpoint."
    ),
    opcua_cert_dir: Path = typer.Option(Path(".twin-pki"), help="Where the certificate lives."),
    mqtt: bool = typer.Option(True, "--mqtt/--no-mqtt", help="Publish to MQTT."),
    mqtt_url: str = typer.Option(
        "mqtt://127.0.0.1:1883",
        envvar="TWIN_MQTT_URL",
        help="MQTT broker URL: mqtt://host:port (user:password@ before host; mqtts:// TLS).",
    ),
    mqtt_client_id: str = typer.Option(
        "smart-factory-twin-sim",
        help="MQTT client id; the Sparkplug edge node of a line connects as ID-spb-LINE. "
        "Give each twin on one broker its own (the broker drops a client whose id reconnects).",
    ),
    mqtt_username: str | None = typer.Option(None, help="MQTT user name."),
    mqtt_password: str | None = typer.Option(
        None,
        help="MQTT password. Better from TWIN_MQTT_PASSWORD.",
        envvar="TWIN_MQTT_PASSWORD",
        show_default=False,
        show_envvar=False,
    ),
    mqtt_ca_file: Path | None = typer.Option(
        None, help="mqtts://: CA certificate(s) that sign the broker's (default: system)."
    ),
    mqtt_cert_file: Path | None = typer.Option(None, help="mqtts://: client certificate (PEM)."),
    mqtt_key_file: Path | None = typer.Option(None, help="mqtts://: client private key (PEM)."),
    sparkplug_group: str | None = typer.Option(
        None,
        help="Sparkplug group id (default: {enterprise}_{site}_{area} of the scenario; no / + #). "
        "The edge node ids are the line ids, the device ids the station ids.",
    ),
    sparkplug_primary_host: str = typer.Option(
        None, help="Sparkplug: publish births only once this host application's STATE is online."
    ),
    mqtt_format: str = typer.Option(
        "uns",
        help="uns (the UNS JSON topics), sparkplug (Sparkplug B 3.0: one edge node per line, "
        "group {enterprise}_{site}_{area}, devices = stations; the same --mqtt-* broker, "
        "user and TLS options) or both.",
    ),
    qos_events: int = typer.Option(1, help="QoS of events (state changes, parts, ...)."),
    qos_samples: int = typer.Option(
        1, help="QoS of samples and buffer levels (0: dropped while a subscriber is away)."
    ),
    mqtt_max_queued: int = typer.Option(50_000, help="QoS 1 messages kept while disconnected."),
    mqtt_wait: float = typer.Option(10.0, help="Seconds to wait for the broker at start."),
    mqtt_drain_timeout: float = typer.Option(
        30.0,
        help="Seconds the shutdown waits for queued MQTT messages (UNS and Sparkplug) to be "
        "delivered.",
    ),
    mqtt_required: bool = typer.Option(
        False,
        "--mqtt-required",
        help="Exit if the broker is not reachable at start (default: run and retry).",
    ),
) -> None:
    """Run SCENARIO live: paced clock, OPC UA server and MQTT (UNS) publisher."""
    with _stop_while_starting():  # first thing: a signal while starting is a clean stop
        from plant_sim.cli import check_seed, load_or_exit
        from plant_sim.live.mqtt_publisher import MqttError, MqttSettings
        from plant_sim.live.opcua_server import OpcUaError, OpcUaSettings
        from plant_sim.live.service import LiveConfig, serve_live
        from plant_sim.live.sparkplug_sink import SparkplugError, SparkplugSettings

        check_seed(seed)
        sc = load_or_exit(scenario)
        if start_now:  # the calendar, and so the shifts, follow the clock from now on
            now = datetime.fromtimestamp(round(time.time() * 1000) / 1000.0, tz=UTC)
            sc = sc.model_copy(update={"start_time": now})
        try:
            check_speed(speed)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--speed") from None
        _check_mqtt_numbers(mqtt_wait, mqtt_drain_timeout, mqtt_max_queued, qos_events, qos_samples)
        if opcua:
            _check_opcua_options(
                opcua_endpoint,
                opcua_user,
                opcua_anonymous,
                opcua_cert_dir if opcua_encrypt else None,
                opcua_encrypt_only,
            )
        if run_id is not None and (problem := name_problem(run_id)) is not None:
            raise typer.BadParameter(problem, param_hint="--run-id")
        if mqtt_format not in ("uns", "sparkplug", "both"):
            raise typer.BadParameter("use uns, sparkplug or both", param_hint="--mqtt-format")
        if sparkplug_group is not None and (
            not sparkplug_group or set("/+#") & set(sparkplug_group)
        ):
            raise typer.BadParameter("a non-empty id without / + #", param_hint="--sparkplug-group")
        if not opcua and not mqtt:
            raise typer.BadParameter(
                "switch on at least one of OPC UA and MQTT", param_hint="--no-opcua/--no-mqtt"
            )
        broker = {  # the broker options both MQTT formats share
            "url": mqtt_url,
            "client_id": mqtt_client_id,
            "connect_timeout_s": mqtt_wait,
            "drain_timeout_s": mqtt_drain_timeout,
            "username": mqtt_username,
            "password": mqtt_password,
            "ca_file": mqtt_ca_file,
            "cert_file": mqtt_cert_file,
            "key_file": mqtt_key_file,
        }
        config = LiveConfig(
            speed=speed,
            seed=seed,
            run_id=run_id,
            start_epoch_ms=None,  # from the scenario's start_time (now, with --start-now)
            until_s=_until(until),
            opcua=OpcUaSettings(
                endpoint=opcua_endpoint,
                namespace_uri=namespace_uri,
                users=_users(opcua_user),
                allow_anonymous=opcua_anonymous,
                encrypt=opcua_encrypt,
                allow_unencrypted=not opcua_encrypt_only,
                cert_dir=opcua_cert_dir,
            )
            if opcua
            else None,
            mqtt=MqttSettings(
                **broker,
                qos_events=qos_events,
                qos_samples=qos_samples,
                max_queued=mqtt_max_queued,
                require_broker=mqtt_required,
            )
            if mqtt and mqtt_format != "sparkplug"
            else None,
            sparkplug=SparkplugSettings(
                **broker, group=sparkplug_group, primary_host=sparkplug_primary_host
            )
            if mqtt and mqtt_format != "uns"
            else None,
        )
        _check_mqtt_options(config)
        try:
            stats = asyncio.run(serve_live(sc, config))
        except (OpcUaError, MqttError, SparkplugError) as exc:
            err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        err.print(
            f"live run finished: {stats.records} records, max lag {stats.max_lag_s:.3f} s, "
            f"{stats.commands} commands",
            highlight=False,
        )
        broker = config.mqtt or config.sparkplug  # the same --mqtt-url for both
        if stats.undelivered and broker is not None:
            err.print(
                f"[red]error:[/red] {stats.undelivered} MQTT messages (the run's last records "
                f"among them) were not delivered to {broker.options().endpoint} "
                + (
                    "(the stop was requested again: not waited for)"
                    if stats.gave_up
                    else f"within {mqtt_drain_timeout:g} s of the shutdown"
                ),
                markup=True,
                highlight=False,
            )
            raise typer.Exit(1)


@contextlib.contextmanager
def _stop_while_starting() -> Iterator[None]:
    """Inside, until ``serve_live`` handles the signals itself, SIGTERM does what Ctrl-C does
    (``sigterm_as_interrupt``: the sinks started so far stop) instead of killing the process.
    Either ends ``twin sim`` with a log line: exit 130 for Ctrl-C, 0 for SIGTERM (as a
    SIGTERM once the run is going: a clean stop)."""
    from twin_io.stop_signals import sigterm_as_interrupt

    with sigterm_as_interrupt() as term:
        try:
            yield
        except KeyboardInterrupt:
            name = "SIGTERM" if term.seen else "SIGINT"
            log.warning("%s while starting: twin sim stopped before the run began", name)
            raise typer.Exit(0 if term.seen else 130) from None


def _check_mqtt_options(config: LiveConfig) -> None:
    """Bad ``--mqtt-*`` options (UNS and Sparkplug clients share them): exit 2 naming them."""
    from twin_io.mqtt import MqttConfigError

    for settings in (config.mqtt, config.sparkplug):
        try:
            if settings is not None:
                settings.options()
        except MqttConfigError as exc:
            raise typer.BadParameter(str(exc), param_hint="--mqtt-*") from None


def _check_mqtt_numbers(
    wait_s: float, drain_timeout_s: float, max_queued: int, qos_events: int, qos_samples: int
) -> None:
    """Out-of-range MQTT numbers: exit 2 naming the option."""
    from plant_sim.live.mqtt_publisher import MAX_QUEUED

    if not 0 <= drain_timeout_s <= 86_400:
        raise typer.BadParameter("must be 0..86400 seconds", param_hint="--mqtt-drain-timeout")
    if not 0 <= wait_s <= 86_400:  # nan waited not at all and called the broker unreachable
        raise typer.BadParameter("must be 0..86400 seconds", param_hint="--mqtt-wait")
    if not 1 <= max_queued <= MAX_QUEUED:
        raise typer.BadParameter(f"must be 1..{MAX_QUEUED}", param_hint="--mqtt-max-queued")
    if qos_events not in (0, 1, 2) or qos_samples not in (0, 1, 2):
        raise typer.BadParameter("QoS must be 0, 1 or 2", param_hint="--qos-events/--qos-samples")


def _check_opcua_options(
    endpoint: str, users: list[str], anonymous: bool, cert_dir: Path | None, encrypt_only: bool
) -> None:
    """Bad or conflicting OPC UA options: exit 2 naming them, before the plant starts
    (``cert_dir`` is given with --opcua-encrypt)."""
    from plant_sim.live.opcua_server import endpoint_problem

    if (problem := endpoint_problem(endpoint)) is not None:
        raise typer.BadParameter(problem, param_hint="--opcua-endpoint")
    if not anonymous and not users:
        raise typer.BadParameter(
            "no one could log in: give --opcua-user USER:PASSWORD",
            param_hint="--no-opcua-anonymous",
        )
    if encrypt_only and cert_dir is None:  # it served only the NoSecurity endpoint to drop
        raise typer.BadParameter("needs --opcua-encrypt", param_hint="--opcua-encrypt-only")
    if cert_dir is not None:
        try:
            cert_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise typer.BadParameter(
                f"{cert_dir}: cannot keep the certificate there ({exc.strerror})",
                param_hint="--opcua-cert-dir",
            ) from None


def _until(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--until") from None
    if seconds <= 0:
        raise typer.BadParameter("must be a positive duration", param_hint="--until")
    return seconds


def _users(values: list[str]) -> dict[str, str]:
    users: dict[str, str] = {}
    for value in values:
        name, sep, password = value.partition(":")
        if not sep or not name:
            raise typer.BadParameter(f"{value!r}: use USER:PASSWORD", param_hint="--opcua-user")
        users[name] = password
    return users


def register(app: typer.Typer) -> None:
    """Add ``twin sim`` to the root CLI."""
    app.command("sim")(sim)
