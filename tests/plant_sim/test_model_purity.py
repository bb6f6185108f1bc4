"""The model does no I/O and reads no clock: only adapters at the edges may."""

from __future__ import annotations

import ast
from pathlib import Path

MODEL_MODULES = [
    *sorted((Path(__file__).resolve().parents[2] / "plant_sim" / "model").glob("*.py")),
    *(
        Path(__file__).resolve().parents[2] / "plant_sim" / name
        for name in (
            "calendar.py",
            "distributions.py",
            "random_streams.py",
            "records.py",
            "states.py",
            "simulation.py",
            "scenario.py",
        )
    ),
]
BANNED_MODULES = {
    "socket",
    "asyncio",
    "threading",
    "time",
    "asyncua",
    "paho",
    "httpx",
    "influxdb_client",
    "requests",
    "urllib",
    "subprocess",
    "gateway",
    "analytics",
    "twin",
}
BANNED_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "open", "print"}


def test_model_modules_import_no_io_and_call_no_clock() -> None:
    problems = []
    for path in MODEL_MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                problems += [
                    f"{path.name}: import {n}" for n in names if n.split(".")[0] in BANNED_MODULES
                ]
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in BANNED_CALLS:
                    problems.append(f"{path.name}:{node.lineno}: calls {name}()")
    assert problems == []


def test_no_module_uses_the_global_random_generator() -> None:
    root = Path(__file__).resolve().parents[2]
    problems = []
    for pkg in ("plant_sim", "gateway", "analytics"):
        for path in (root / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("random", "np.random")
                    and node.func.attr not in ("Random",)
                ):
                    problems.append(f"{path}:{node.lineno}")
    assert problems == []
