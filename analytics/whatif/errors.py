"""Errors of what-if studies, each naming where the problem is.

::

    ValueError
    ├── StudyError          a study file or API spec that cannot run; ``problems`` holds
    │                       ``(path, message)`` pairs, e.g. ``("variants[1].overrides", ...)``
    └── OverrideError       one override path that does not resolve in the scenario
    RuntimeError
    ├── ExecutorError       the Dask scheduler cannot be reached
    └── InfluxWriteError    the InfluxDB endpoint refused the results or did not answer

``OverrideError`` is raised by ``apply_overrides`` on its own; a study wraps it into a
``StudyError`` whose path names the variant and the override.
"""

from __future__ import annotations


class StudyError(ValueError):
    """A study that cannot be used; ``problems`` holds ``(path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path}: {msg}" for path, msg in problems)
        super().__init__(f"{source}: invalid study\n{lines}")


class OverrideError(ValueError):
    """An override whose path does not resolve; ``path`` is the override path as written."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class ExecutorError(RuntimeError):
    """An executor that cannot run tasks (for example an unreachable Dask scheduler)."""


class InfluxWriteError(RuntimeError):
    """Writing study results to InfluxDB failed; the message names the endpoint."""
