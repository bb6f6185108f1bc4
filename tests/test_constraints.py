"""constraints.txt is current: every requirement of pyproject.toml is pinned within its range."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not NAME==VERSION"
            out[canonicalize_name(name)] = version
    return out


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    reqs = [Requirement(s) for s in specs]
    return [r for r in reqs if canonicalize_name(r.name) != canonicalize_name(project["name"])]


def test_every_requirement_is_pinned_within_its_range() -> None:
    pinned = pins()
    stale = []
    for req in requirements():
        version = pinned.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            stale.append(f"{req} (pinned: {version})")
    assert not stale, f"run scripts/lock.sh: constraints.txt is stale for {stale}"


def test_the_docker_image_installs_with_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install -c constraints\.txt ", dockerfile)
    assert "[live,influx]" in dockerfile  # what the services of docker-compose.yml run
    assert "constraints.txt" not in (ROOT / ".dockerignore").read_text()


def test_every_extra_module_has_its_install_hint() -> None:
    from twin.extras import EXTRA_OF, install_hint

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    assert set(EXTRA_OF.values()) <= extras
    hint = install_hint(ModuleNotFoundError("No module named 'asyncua'", name="asyncua"))
    assert hint is not None and "smart-factory-twin[live]" in hint
    assert install_hint(ModuleNotFoundError("x", name="not_ours")) is None
