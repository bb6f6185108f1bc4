"""A small API for notebooks and scripts: load a scenario, run it, KPIs as a DataFrame.

    from twin.api import load, simulate
    scenario = load("scenarios/bottling_line.yaml")
    kpis = simulate(scenario, until="2d").kpis()      # pandas DataFrame, one row per scope

``simulate`` runs headless (the same model and seed streams as ``twin run``); ``Run.kpis()``
gives the ISO 22400 KPIs (registry ids as columns, ``None``/NaN where undefined) per plant, line
and station, optionally over a window; ``Run.frame(kind)`` the records of one kind. pandas is an
optional extra: ``pip install 'smart-factory-twin[notebook]'``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plant_sim.durations import parse_duration
from plant_sim.records import RECORD_TYPES, Record
from plant_sim.scenario import SEED_RANGE, Scenario, load_scenario

if TYPE_CHECKING:
    import pandas as pd

    from analytics.report import KpiReport

__all__ = ["Run", "load", "simulate"]


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file (raises ``ScenarioError`` naming every problem)."""
    return load_scenario(path)


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError(
            "pandas is needed for DataFrames: pip install 'smart-factory-twin[notebook]'"
        ) from None
    return pd


def _seconds(value: str | float, name: str) -> float:
    """``value`` in seconds; ``ValueError`` naming ``name`` for what is not a finite duration
    of at most 100 years (``nan``, ``inf``, a boolean, ``"abc"``), as ``twin run`` refuses it."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _window(window: tuple[str | float, str | float] | None) -> tuple[float, float] | None:
    if window is None:
        return None
    if isinstance(window, str | bytes) or not isinstance(window, tuple | list) or len(window) != 2:
        raise ValueError(f"window: expected (start, end), got {window!r}"[:200])
    return _seconds(window[0], "window"), _seconds(window[1], "window")


def _seed(seed: int | None) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed: expected an integer, got {type(seed).__name__} {seed!r}"[:200])
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise ValueError(f"seed: {seed} is outside the 64-bit integers the event log stores")
    return int(seed)


@dataclass
class Run:
    """The records of one headless run, with KPIs on demand."""

    scenario: Scenario
    records: list[Record]
    _reports: dict[Any, KpiReport] = field(default_factory=dict, repr=False)

    def report(self, window: tuple[str | float, str | float] | None = None) -> KpiReport:
        """The full KPI report (``analytics.report.KpiReport``) over ``window`` (default: run)."""
        from analytics.report import compute_report

        span = _window(window)
        if span not in self._reports:
            self._reports[span] = compute_report(self.records, span, shifts=False)
        return self._reports[span]

    def kpis(self, window: tuple[str | float, str | float] | None = None) -> pd.DataFrame:
        """KPIs per scope: index (level, line, scope), one column per KPI id, NaN = undefined.

        ``window``: ``("8h", "16h")`` or seconds, in simulation time.
        """
        pd = _pandas()
        report = self.report(window)
        rows = [
            {"level": s.level, "line": s.line or "", "scope": s.scope, **s.kpis.as_dict()}
            for s in [report.plant, *report.lines, *report.stations]
        ]
        frame = pd.DataFrame(rows).set_index(["level", "line", "scope"])
        return frame.drop(columns=["effectiveness_over_100"]).astype(float)

    def frame(self, kind: str) -> pd.DataFrame:
        """The records of one kind (``state``, ``part``, ``order``, ...) as a DataFrame."""
        from dataclasses import asdict

        if kind not in RECORD_TYPES:
            raise ValueError(f"kind: {kind!r} is not one of {', '.join(RECORD_TYPES)}"[:300])
        pd = _pandas()
        return pd.DataFrame([asdict(r) for r in self.records if r.kind == kind])


def simulate(
    scenario: Scenario | str | Path, until: str | float | None = None, seed: int | None = None
) -> Run:
    """Run ``scenario`` (or the file) headless to ``until`` (``"2d"``, seconds; default: its
    horizon) with ``seed`` (default: the scenario's)."""
    from plant_sim.simulation import run_batch

    if not isinstance(scenario, Scenario | str | Path):
        kind = type(scenario).__name__
        raise TypeError(f"scenario: expected a Scenario or a file path, got {kind}")
    until_s = None if until is None else _seconds(until, "until")
    if until_s is not None and until_s <= 0:
        raise ValueError(f"until: must be a positive duration, got {until!r}")
    seed = _seed(seed)
    sc = scenario if isinstance(scenario, Scenario) else load(scenario)
    return Run(sc, run_batch(sc, until_s, seed).records)
