"""``twin demo``'s pipeline: servers, twin services, health checks, endpoints, clean stop.

Start order (each waits for the one before to be healthy): Mosquitto and InfluxDB (unless URLs
are given), the gateway (subscribed before the plant publishes a thing), the live plant (OPC UA
and MQTT, starting at now), a short backfill of history ending now, the analytics service, then
Grafana when it is installed. ``stop()`` ends them in the reverse order: the plant first (it
publishes its end), then the gateway (it stores what it received), the rest after.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from twin.demo import servers
from twin.demo.procs import Child, StartError, free_port, port_open, twin_argv

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
START_TIMEOUT_S = 90.0


class MissingToolError(RuntimeError):
    """A server the demo needs is not installed; the message holds the install hint."""


@dataclass
class DemoOptions:
    """What ``twin demo`` was asked to start."""

    scenario: Path
    data_dir: Path
    speed: float = 1.0
    seed: int | None = None
    until: str | None = None
    mqtt_url: str | None = field(default=None, repr=False)  # may hold a password
    influx_url: str | None = None
    influx_database: str = "twin"
    influx_token: str | None = field(default=None, repr=False)
    influx_org: str | None = None
    backfill_days: float = 1.0
    analytics_interval: float = 30.0
    grafana: bool = True
    opcua_port: int = 4840
    run_id: str = "demo"


@dataclass
class Endpoints:
    """Where the running demo can be reached."""

    opcua: str = ""
    mqtt: str = ""
    influx: str = ""
    influx_database: str = ""
    grafana: str | None = None
    data_dir: str = ""
    logs: dict[str, str] = field(default_factory=dict)


def _log_says(child: Child, text: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return text in child.log_path.read_text(errors="replace")
        except OSError:
            return False

    return check


class Demo:
    """The running pipeline; ``start()`` then ``stop()`` (also after a failed start)."""

    def __init__(
        self,
        options: DemoOptions,
        say: Callable[[str], None],
        interrupted: threading.Event | None = None,
    ) -> None:
        self.o = options
        self.say = say
        self.interrupted = interrupted or threading.Event()
        self.children: list[Child] = []
        self.endpoints = Endpoints(data_dir=str(options.data_dir))
        self.influx: servers.InfluxAccess | None = None

    # -------------------------------------------------------------------------- start

    def check_tools(self) -> dict[str, str | None]:
        """Find the servers to start; raise ``MissingToolError`` with hints for what is missing."""
        found: dict[str, str | None] = {"mosquitto": None, "influxd": None}
        missing = []
        if self.o.mqtt_url is None:
            found["mosquitto"] = servers.find_binary("mosquitto", "MOSQUITTO")
            if found["mosquitto"] is None:
                missing.append(f"mosquitto not found: {servers.HINTS['mosquitto']}")
        if self.o.influx_url is None:
            found["influxd"] = servers.find_binary("influxd", "TWIN_INFLUXD")
            if found["influxd"] is None:
                missing.append(f"influxd not found: {servers.HINTS['influxd']}")
        if missing:
            raise MissingToolError("\n".join(missing))
        return found

    def start(self) -> Endpoints:
        """Start everything and wait until each part is healthy; return the endpoints."""
        tools = self.check_tools()
        self.o.data_dir.mkdir(parents=True, exist_ok=True)
        mqtt_url = self._broker(tools["mosquitto"])
        self.influx = self._influx(tools["influxd"])
        env = self.influx.env()
        self._start_gateway(mqtt_url, env)
        self._start_plant(mqtt_url)
        self._start_backfill(env)
        self._start(
            Child(
                "analytics",
                twin_argv("analytics", "--interval", str(self.o.analytics_interval)),
                self._log("analytics"),
                env=env,
            )
        )
        self._start_grafana()
        return self.endpoints

    def _log(self, name: str) -> Path:
        path = self.o.data_dir / "logs" / f"{name}.log"
        self.endpoints.logs[name] = str(path)
        return path

    def _start(self, child: Child, timeout_s: float = START_TIMEOUT_S) -> Child:
        if self.interrupted.is_set():
            raise StartError(f"interrupted before {child.name} started")
        self.children.append(child)
        child.start()
        child.wait_ready(timeout_s)
        self.say(f"{child.name} is up (pid {child.pid})")
        return child

    def _broker(self, binary: str | None) -> str:
        if binary is None:
            assert self.o.mqtt_url is not None
            self.endpoints.mqtt = self.o.mqtt_url
            return self.o.mqtt_url
        port = free_port(1883)
        child = servers.mosquitto_child(binary, self.o.data_dir / "mosquitto", port)
        child.log_path = self._log("mosquitto")
        self._start(child)
        self.endpoints.mqtt = f"mqtt://127.0.0.1:{port}"
        return self.endpoints.mqtt

    def _influx(self, binary: str | None) -> servers.InfluxAccess:
        o = self.o
        if binary is None:
            assert o.influx_url is not None
            url = o.influx_url.rstrip("/")
            if not servers.ping(url):
                raise StartError(f"InfluxDB {url} (--influx-url) does not answer /ping")
            access = servers.InfluxAccess(url, o.influx_database, o.influx_token, o.influx_org)
        else:
            port, rpc = free_port(8086), free_port()
            child = servers.influxd_child(binary, o.data_dir / "influxdb", port, rpc)
            child.log_path = self._log("influxd")
            self._start(child)
            token_file = o.data_dir / "influxdb" / "token"
            if not token_file.exists():
                token_file.write_text(secrets.token_urlsafe(32))
                token_file.chmod(0o600)
            url = f"http://127.0.0.1:{port}"
            try:
                access = servers.prepare_influx(url, o.influx_database, token_file.read_text())
            except httpx.HTTPError as exc:
                raise StartError(f"InfluxDB {url}: set-up failed: {exc}") from exc
        self.endpoints.influx, self.endpoints.influx_database = access.url, access.database
        return access

    def _start_gateway(self, mqtt_url: str, env: dict[str, str]) -> None:
        child = Child(
            "gateway",
            twin_argv(
                "gateway",
                "--mqtt-url",
                mqtt_url,
                "--data-dir",
                str(self.o.data_dir / "gateway"),
                "--require-endpoints",
            ),
            self._log("gateway"),
            env=env,
        )
        child.ready = _log_says(child, "gateway started")  # subscribed, so nothing is missed
        self._start(child)

    def _start_plant(self, mqtt_url: str) -> None:
        port = free_port(self.o.opcua_port)
        endpoint = f"opc.tcp://127.0.0.1:{port}/twin/"
        args = [
            "sim",
            str(self.o.scenario),
            "--start-now",
            "--speed",
            str(self.o.speed),
            "--mqtt-url",
            mqtt_url,
            "--mqtt-required",
            "--opcua-endpoint",
            endpoint,
            "--opcua-cert-dir",
            str(self.o.data_dir / "pki"),
            "--run-id",
            self.o.run_id,
        ]
        if self.o.seed is not None:
            args += ["--seed", str(self.o.seed)]
        if self.o.until:
            args += ["--until", self.o.until]
        child = Child("plant", twin_argv(*args), self._log("plant"))
        child.ready = lambda: port_open("127.0.0.1", port)
        self._start(child)
        self.endpoints.opcua = endpoint

    def _start_backfill(self, env: dict[str, str]) -> None:
        if self.o.backfill_days <= 0:
            return
        args = ["backfill", str(self.o.scenario), "--days", str(self.o.backfill_days)]
        args += ["--skip-existing"]
        if self.o.seed is not None:
            args += ["--seed", str(self.o.seed)]
        child = Child("backfill", twin_argv(*args), self._log("backfill"), env=env)
        self.children.append(child)
        child.start()
        self.say(f"backfill of {self.o.backfill_days:g} days started (pid {child.pid})")

    def _start_grafana(self) -> None:
        if not self.o.grafana:
            return
        command = servers.grafana_binary()
        if command is None:
            self.say(f"Grafana not found, skipped: {servers.HINTS['grafana']}")
            return
        assert self.influx is not None
        port = free_port(3000)
        folder = self.o.data_dir / "grafana"
        boards = self._boards_in_plant_time(folder / "dashboards")
        child = servers.grafana_child(command, folder, port, DASHBOARDS, self.influx, boards)
        child.log_path = self._log("grafana")
        self._start(child, timeout_s=120.0)
        self.endpoints.grafana = f"http://127.0.0.1:{port}"

    def _boards_in_plant_time(self, directory: Path) -> Path | None:
        """Write the dashboards for the scenario's time zone, if it has one (else the
        committed UTC boards are provisioned)."""
        from dashboards.files import write_all
        from plant_sim.scenario import load_scenario

        zone = load_scenario(self.o.scenario).timezone
        if zone is None:
            return None
        write_all(directory, zone)
        self.say(f"dashboards in the plant's time zone, {zone}")
        return directory

    # -------------------------------------------------------------------------- run, stop

    def failed(self) -> Child | None:
        """Return a long-running child that has died: the backfill may end, and so may the
        plant once its ``--until`` run is over (exit 0); the rest keeps serving its data."""
        for child in self.children:
            if child.name == "backfill" or child.running():
                continue
            if child.name == "plant" and child.proc is not None and child.proc.returncode == 0:
                continue
            return child
        return None

    def stop(self) -> None:
        """Stop every child, newest first, plant before gateway before servers."""
        order = sorted(self.children, key=lambda c: (c.name != "plant", -self.children.index(c)))
        for child in order:
            if child.running():
                self.say(f"stopping {child.name} (pid {child.pid})")
                child.stop()
        self.children.clear()


def wait_for_data(
    influx: servers.InfluxAccess, run_id: str, timeout_s: float, stop: threading.Event | None = None
) -> int:
    """Wait until the live run's state records are stored; return how many there are."""
    from plant_sim.telemetry_schema import quote_literal
    from twin_io.influx import InfluxConfig, InfluxError, InfluxQL

    ql = InfluxQL(InfluxConfig(influx.url, influx.database, influx.token))
    run = quote_literal(run_id)
    statement = f'SELECT count("state") FROM "machine_state" WHERE "run_id" = {run}'
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            docs = ql.query(statement)
            series = docs[0]["results"][0].get("series") or []
            if series and series[0]["values"][0][1]:
                return int(series[0]["values"][0][1])
        except (InfluxError, KeyError, IndexError):
            pass
        if stop is not None and stop.is_set():
            return 0
        if time.monotonic() > deadline:
            raise StartError(f"no records reached InfluxDB {influx.url} in {timeout_s:.0f} s")
        time.sleep(0.5)


def remove_data(folder: Path) -> None:
    """Delete the demo's data folder (``--fresh``)."""
    shutil.rmtree(folder, ignore_errors=True)
