"""The demo's docker-compose.yml, checked without a Docker engine.

``docker-compose config -q`` (Debian's Compose 1.29) validates the file; our own checks add what
it does not: every depends_on target has a healthcheck, bind-mounted files exist, images are
pinned, secrets have no defaults, .env.example names every variable, the project services are
built from the one Dockerfile and run twin commands that exist.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from twin.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOC = yaml.safe_load(COMPOSE.read_text())
SERVICES: dict[str, dict] = DOC["services"]
SECRETS = ("INFLUX_TOKEN", "INFLUX_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD")
PROJECT = ("simulator", "gateway", "analytics", "backfill")
_VAR = re.compile(r"\$\{(\w+)(:?[-?])?([^}]*)\}")


def _compose(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose not installed (apt-get install docker-compose)")
        pytest.skip("docker-compose not installed")
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [
            binary,
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        check=False,
    )


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    result = _compose(tmp_path, dict.fromkeys(SECRETS, "test-secret"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", SECRETS)
def test_docker_compose_refuses_a_missing_secret(tmp_path: Path, missing: str) -> None:
    env = {k: "test-secret" for k in SECRETS if k != missing}
    result = _compose(tmp_path, env)
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


def test_depends_on_targets_exist_and_are_healthchecked() -> None:
    for name, svc in SERVICES.items():
        for target, cond in (svc.get("depends_on") or {}).items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            assert cond["condition"] == "service_healthy", f"{name} -> {target}"
            assert "healthcheck" in SERVICES[target], f"{target} has no healthcheck"


def test_long_running_services_have_healthchecks() -> None:
    for name, svc in SERVICES.items():
        if name != "backfill":  # one-shot: exits when done
            assert svc.get("healthcheck", {}).get("test"), name


def test_bind_mounts_exist() -> None:
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"


def test_images_are_pinned() -> None:
    """Every image to its patch release (or a digest); the Dockerfile's base to a minor
    release of a named Debian, so a rebuild gets security fixes but no new Python or Debian."""
    for name, svc in SERVICES.items():
        image = svc.get("image", "")
        assert re.fullmatch(r"[\w./-]+(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})", image), (
            f"{name}: {image} is not pinned to a patch release or digest"
        )
    assert SERVICES["influxdb"]["image"].split(":")[1].startswith("2.")  # not 3 Core
    bases = re.findall(r"^FROM\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert bases and all(
        re.fullmatch(r"[\w./-]+:\d+\.\d+[\w.-]*-(bookworm|trixie)", b) for b in bases
    ), bases


def test_secrets_have_no_default_and_env_example_names_every_variable() -> None:
    text = COMPOSE.read_text()
    occurrences = [(m.group(1), m.group(2)) for m in _VAR.finditer(text)]
    used = {name for name, _ in occurrences}
    assert set(SECRETS) <= used
    for name, operator in occurrences:
        if name in SECRETS:
            assert operator == ":?", f"every use of {name} must be required (${{{name}:?...}})"
    for name, svc in SERVICES.items():
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET", key) and value is not None:
                assert "${" in str(value), f"{name}: {key} holds a literal value"
    example = (ROOT / ".env.example").read_text()
    names = dict(re.findall(r"^(\w+)=(.*)$", example, re.MULTILINE))
    assert set(used) <= set(names), set(used) - set(names)
    for secret in SECRETS:
        assert names[secret] == "", f".env.example must not ship a value for {secret}"
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_project_services_share_one_dockerfile_and_run_twin_commands() -> None:
    commands = set(COMMANDS)
    images = {SERVICES[n]["image"] for n in PROJECT}
    assert len(images) == 1 and all(SERVICES[n]["build"] == "." for n in PROJECT)
    assert (ROOT / "Dockerfile").exists()
    for name in PROJECT:
        assert SERVICES[name]["command"][0] in commands, name
    assert SERVICES["backfill"]["restart"] == "no"


def test_grafana_is_an_anonymous_viewer_on_localhost_with_the_plant_overview_home() -> None:
    env = SERVICES["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == "/var/lib/grafana/dashboards/plant_overview.json"
    assert (ROOT / "dashboards" / "json" / Path(home).name).exists()
    assert "127.0.0.1:3000:3000" in SERVICES["grafana"]["ports"]
    for svc in SERVICES.values():
        assert all(str(p).startswith("127.0.0.1:") for p in svc.get("ports", []))
