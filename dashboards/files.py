"""Dashboard files: build the JSON from the builders, write it, load it back.

The JSON in ``dashboards/json/`` is generated (``twin dashboards build``) and committed, so that
Grafana provisions it from files; a test keeps it equal to what the builders give.
"""

from __future__ import annotations

import json
from pathlib import Path

from dashboards.boards import BOARDS

ROOT = Path(__file__).resolve().parent
JSON_DIR = ROOT / "json"
PROVISIONING_DIR = ROOT / "provisioning"


def build_all() -> dict[str, dict]:
    """Return every dashboard by file name."""
    return {name: build() for name, build in BOARDS.items()}


def render(board: dict) -> str:
    """Return the JSON text of a dashboard as it is committed."""
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def write_all(directory: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard's JSON file; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, board in build_all().items():
        path = directory / name
        path.write_text(render(board), encoding="utf-8")
        out.append(path)
    return out


def load_all(directory: Path = JSON_DIR) -> dict[str, dict]:
    """Load every ``*.json`` dashboard of a directory by file name (raises ``ValueError``)."""
    out = {}
    for path in sorted(directory.glob("*.json")):
        try:
            out[path.name] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    return out
