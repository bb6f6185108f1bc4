"""The third-party servers of ``twin demo``: Mosquitto, InfluxDB 1.x/2.x and Grafana.

Each is found on PATH (or in Debian's sbin), configured into the demo's data folder on
loopback ports, and checked for readiness. What is missing comes with an install hint. The
test fixtures (``tests/servers``) start the same servers from the same configuration texts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from twin.demo.procs import Child, port_open

HINTS = {
    "mosquitto": "install it (Debian/Ubuntu: sudo apt-get install mosquitto; macOS: brew install "
    "mosquitto) or give a broker with --mqtt-url",
    "influxd": "install InfluxDB 1.x or 2.x (Debian: sudo apt-get install influxdb; or "
    "https://docs.influxdata.com/influxdb/v2/install/) or give one with --influx-url",
    "grafana": "install Grafana (https://grafana.com/docs/grafana/latest/setup-grafana/"
    "installation/) to see the dashboards; meanwhile `twin top` shows the plant in the terminal",
}

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin")


def find_binary(name: str, env_var: str | None = None) -> str | None:
    """Return the executable ``name`` from ``$env_var``, PATH or an sbin folder, else None."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        path = Path(folder) / name
        if os.access(path, os.X_OK):
            return str(path)
    return None


# ------------------------------------------------------------------------------ Mosquitto


def mosquitto_conf(port: int, data_dir: Path, log_path: Path, host: str = "127.0.0.1") -> str:
    """A broker on ``host:port``: anonymous, persistent in ``data_dir``, queues big enough.

    As root, Mosquitto drops to the user "mosquitto", who could not write the persistence file
    into our folder: it then runs as root instead.
    """
    run_as = ["user root"] if os.geteuid() == 0 else []
    lines = [
        *run_as,
        f"listener {port} {host}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {data_dir}/",
        "autosave_interval 1",
        "max_queued_messages 0",
        f"log_dest file {log_path}",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    return "\n".join(lines) + "\n"


def mosquitto_child(binary: str, folder: Path, port: int) -> Child:
    """A Mosquitto child on 127.0.0.1:``port`` with its files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "mosquitto.conf"
    conf.write_text(mosquitto_conf(port, folder, folder / "mosquitto.log"))
    return Child(
        "mosquitto",
        [binary, "-c", str(conf)],
        folder / "stdout.log",
        ready=lambda: port_open("127.0.0.1", port),
    )


# ------------------------------------------------------------------------------ InfluxDB


def influx1_conf(root: Path, http_port: int, rpc_port: int) -> str:
    """An InfluxDB 1.x config: everything in ``root``, HTTP on loopback, no reporting/monitor."""
    off = ("graphite", "collectd", "opentsdb", "udp")
    plugins = "".join(f"\n[[{name}]]\n  enabled = false\n" for name in off)
    return f"""
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[admin]
  enabled = false
{plugins}
[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"""


def influxd_major(binary: str) -> int:
    """Return the major version of ``influxd`` (1 or 2) from ``influxd version``."""
    try:
        out = subprocess.run(
            [binary, "version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 1
    match = re.search(r"v?(\d+)\.\d+", out)
    return int(match.group(1)) if match else 1


def ping(url: str) -> bool:
    """Tell whether InfluxDB answers ``/ping`` with 204."""
    try:
        return httpx.get(f"{url}/ping", timeout=1.0).status_code == 204
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class InfluxAccess:
    """How the services reach the demo's InfluxDB."""

    url: str
    database: str
    token: str | None = field(default=None, repr=False)
    org: str | None = None

    def env(self) -> dict[str, str]:
        """The ``TWIN_*`` variables every twin service reads."""
        env = {"TWIN_INFLUX_URL": self.url, "TWIN_INFLUX_DATABASE": self.database}
        if self.token:
            env |= {
                "TWIN_INFLUX_TOKEN": self.token,
                "TWIN_INFLUX_ORG": self.org or "twin",
                "TWIN_INFLUX_BUCKET": self.database,
            }
        return env


def influxd_child(binary: str, folder: Path, http_port: int, rpc_port: int) -> Child:
    """An InfluxDB child (1.x or 2.x, whichever ``binary`` is) with its data in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{http_port}"
    if influxd_major(binary) >= 2:
        argv = [
            binary,
            "--bolt-path",
            str(folder / "influxd.bolt"),
            "--engine-path",
            str(folder / "engine"),
            "--http-bind-address",
            f"127.0.0.1:{http_port}",
            "--reporting-disabled",
        ]
    else:
        conf = folder / "influxdb.conf"
        conf.write_text(influx1_conf(folder, http_port, rpc_port))
        argv = [binary, "-config", str(conf)]
    return Child("influxd", argv, folder / "influxd.log", ready=lambda: ping(url))


def prepare_influx(url: str, database: str, token: str) -> InfluxAccess:
    """Create the database (1.x) or run the 2.x onboarding with ``token``; return the access."""
    version = httpx.get(f"{url}/ping", timeout=5.0).headers.get("X-Influxdb-Version", "")
    if version.lstrip("vV").startswith("1"):
        resp = httpx.post(f"{url}/query", params={"q": f'CREATE DATABASE "{database}"'}, timeout=30)
        resp.raise_for_status()
        return InfluxAccess(url, database)
    setup = httpx.get(f"{url}/api/v2/setup", timeout=10.0).json()
    if setup.get("allowed"):
        body = {
            "username": "twin",
            "password": token[:32],
            "org": "twin",
            "bucket": database,
            "token": token,
        }
        httpx.post(f"{url}/api/v2/setup", json=body, timeout=30.0).raise_for_status()
    return InfluxAccess(url, database, token=token, org="twin")


# ------------------------------------------------------------------------------ Grafana


def grafana_binary() -> list[str] | None:
    """The Grafana server command (``grafana server`` or the older ``grafana-server``)."""
    if found := find_binary("grafana"):
        return [found, "server"]
    if found := find_binary("grafana-server"):
        return [found]
    return None


def _grafana_home(command: list[str]) -> str | None:
    for home in ("/usr/share/grafana", "/usr/local/share/grafana", "/opt/homebrew/share/grafana"):
        if Path(home, "conf", "defaults.ini").exists():
            return home
    guess = Path(command[0]).resolve().parent.parent
    return str(guess) if (guess / "conf" / "defaults.ini").exists() else None


def grafana_child(
    command: list[str],
    folder: Path,
    port: int,
    dashboards: Path,
    influx: InfluxAccess,
    boards: Path | None = None,
) -> Child:
    """Grafana on 127.0.0.1:``port``, provisioned from ``dashboards/`` as docker compose does.

    The provisioning files are copied with the dashboard folder's path replaced by ``boards``
    (default: ``dashboards/json`` of this checkout); the datasource reads ``TWIN_INFLUX_URL``,
    ``TWIN_INFLUX_DATABASE`` and ``INFLUX_TOKEN`` from the environment, as in compose.
    Anonymous users may view.
    """
    provisioning = folder / "provisioning"
    shutil.rmtree(provisioning, ignore_errors=True)
    shutil.copytree(dashboards / "provisioning", provisioning)
    provider = provisioning / "dashboards" / "twin.yaml"
    json_dir = (boards or dashboards / "json").resolve()
    provider.write_text(provider.read_text().replace("/var/lib/grafana/dashboards", str(json_dir)))
    if not influx.token:  # InfluxDB 1.x without auth: no Authorization header at all
        source = provisioning / "datasources" / "influxdb.yaml"
        kept = [
            line
            for line in source.read_text().splitlines()
            if "httpHeader" not in line and "secureJsonData" not in line
        ]
        source.write_text("\n".join(kept) + "\n")
    argv = list(command)
    home = _grafana_home(command)
    if home:
        argv += ["--homepath", home]
    env = {
        "GF_PATHS_DATA": str(folder / "data"),
        "GF_PATHS_LOGS": str(folder / "logs"),
        "GF_PATHS_PLUGINS": str(folder / "plugins"),
        "GF_PATHS_PROVISIONING": str(provisioning),
        "GF_SERVER_HTTP_ADDR": "127.0.0.1",
        "GF_SERVER_HTTP_PORT": str(port),
        "GF_AUTH_ANONYMOUS_ENABLED": "true",
        "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        "GF_AUTH_ANONYMOUS_ORG_NAME": "Main Org.",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": str(json_dir / "plant_overview.json"),
        "TWIN_INFLUX_URL": influx.url,
        "TWIN_INFLUX_DATABASE": influx.database,
        "INFLUX_TOKEN": influx.token or "",
    }
    url = f"http://127.0.0.1:{port}"
    return Child("grafana", argv, folder / "grafana.log", ready=lambda: _grafana_up(url), env=env)


def _grafana_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
