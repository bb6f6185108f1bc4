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


SEEDED_FACTORIES = {"Random", "default_rng", "Generator", "PCG64"}


def _module_path(node: ast.expr) -> str:
    """``np.random`` for the expression ``np.random``; '' for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _module_path(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def global_random_calls(source: str, allow_unseeded: bool = False) -> list[int]:
    """Lines that draw from a global generator or (unless allowed) make an unseeded one."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = _module_path(node.func.value)
        if owner not in ("random", "np.random", "numpy.random"):
            continue
        unseeded = not node.args and not node.keywords and not allow_unseeded
        if node.func.attr not in SEEDED_FACTORIES or unseeded:
            lines.append(node.lineno)
    return lines


def test_the_random_check_catches_global_and_unseeded_generators() -> None:
    bad = "random.random()\nnp.random.normal(0, 1)\nrandom.Random()\nnp.random.default_rng()\n"
    good = "random.Random('1:s')\nnp.random.default_rng(stream.getrandbits(128))\nrng.random()\n"
    assert global_random_calls(bad) == [1, 2, 3, 4]
    assert global_random_calls(good) == []
    assert global_random_calls(bad, allow_unseeded=True) == [1, 2]


def test_no_module_uses_the_global_random_generator() -> None:
    """Model and analytics draw only from seeded named streams; the gateway's retry jitter may
    use an unseeded generator of its own (nothing it stores depends on it)."""
    root = Path(__file__).resolve().parents[2]
    problems = [
        f"{path}:{line}"
        for pkg in ("plant_sim", "gateway", "analytics")
        for path in (root / pkg).rglob("*.py")
        for line in global_random_calls(path.read_text(), allow_unseeded=pkg == "gateway")
    ]
    assert problems == []
