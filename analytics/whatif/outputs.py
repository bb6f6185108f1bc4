"""Checks of a study's output options before it runs, so no finished study is lost to a typo.

``check_output_paths`` looks at every file a study would write (``--csv`` and ``--parquet``
write a ``.replications`` file beside the summary): its folder must exist and be writable, and
the path must not be a folder, nor a file another option writes or the study reads (one
output would overwrite the other, or the study file). ``check_influx`` checks ``--influx-url``
(an http(s) URL with a host), ``--influx-database`` and that the server answers ``/ping``. Each
problem names its option.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from analytics.whatif.export import sibling
from twin_io.influx import settings_problem
from twin_io.urls import hide_passwords


def _path_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"{path} is a folder, not a file"
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        return f"folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} exists and is not writable"
    return None


def check_output_paths(
    options: dict[str, Path | None], inputs: dict[str, Path] | None = None
) -> list[tuple[str, str]]:
    """Return ``(option, problem)`` for each output path that cannot be written.

    ``options`` maps an option name (``--csv``) to its path or ``None`` (not given); ``inputs``
    names files that are read (``{"the study file": path}``), which no output may replace.
    """
    problems = []
    taken = {p.resolve(): name for name, p in (inputs or {}).items()}
    for option, path in options.items():
        if path is None:
            continue
        paths = [path]
        if option in ("--csv", "--parquet"):
            paths.append(sibling(path, "replications"))
        for p in paths:
            problem = _path_problem(p)
            special = p.exists() and not p.is_file()  # /dev/null, a pipe: nothing to overwrite
            if problem is None and not special and p.resolve() in taken:
                problem = f"{p} is also {taken[p.resolve()]}"
            if problem is not None:
                problems.append((option, problem))
                break
            if not special:
                taken[p.resolve()] = f"written by {option}"
    return problems


def check_influx(
    url: str, database: str, *, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None
) -> list[tuple[str, str]]:
    """Return ``(option, problem)`` for a bad InfluxDB URL or database, or a silent server."""
    if (problem := settings_problem(url, database)) is not None:
        return [problem]
    endpoint = f"{url.rstrip('/')}/ping"
    try:
        with httpx.Client(transport=transport, timeout=timeout_s) as client:
            resp = client.get(endpoint)
    except httpx.HTTPError as exc:
        problem = f"{endpoint} does not answer ({exc.__class__.__name__}: {exc})"
        return [("--influx-url", hide_passwords(problem))]
    if resp.status_code >= 300:
        return [("--influx-url", f"{hide_passwords(endpoint)} answered {resp.status_code}")]
    return []
