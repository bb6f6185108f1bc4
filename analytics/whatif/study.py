"""A study ready to run: the spec, the base scenario and every variant, validated.

``load_study(path)`` reads a study file; ``build_study(spec, base=...)`` does the same for a spec
given in Python. Each variant's scenario is the base scenario's data with the variant's
overrides applied, validated again by ``plant_sim.scenario.parse_scenario``, so every problem
comes back in one ``StudyError`` whose paths name the study key, the variant and the scenario
path, e.g. ``variants[1] 'big_b2': lines[0].buffers[1].capacity: Input should be ...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from analytics.whatif.errors import OverrideError, StudyError
from analytics.whatif.grids import expand_grid, grid_size
from analytics.whatif.overrides import apply_overrides
from analytics.whatif.selectors import KpiSelector, parse_selector
from analytics.whatif.spec import (
    MAX_GRID_POINTS,
    MAX_WARMUP_INTERVALS,
    MserSpec,
    StudySpec,
    VariantSpec,
)
from plant_sim.input_files import InputFileError, read_yaml
from plant_sim.scenario import SEED_RANGE, Scenario, ScenarioError, parse_scenario

BASE = "base"
Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class Variant:
    """One scenario of the study; the base is a variant with no overrides."""

    name: str
    description: str
    overrides: tuple[tuple[str, Any], ...]
    scenario: Scenario


@dataclass(frozen=True)
class Study:
    """A validated study: variants (base first), KPIs, seeds, run length and warm-up."""

    spec: StudySpec
    source: str
    variants: tuple[Variant, ...]
    kpis: tuple[KpiSelector, ...]
    seed: int
    run_length_s: float
    warmup: float | MserSpec

    @property
    def name(self) -> str:
        """The study name."""
        return self.spec.name

    @property
    def base(self) -> Variant:
        """The base variant."""
        return self.variants[0]

    @property
    def replications(self) -> int:
        """Replications per variant."""
        return self.spec.replications

    def seeds(self) -> list[int]:
        """Seed of each replication, the same in every variant (common random numbers)."""
        return [self.seed + r for r in range(self.replications)]


def load_study(path: str | Path, **changes: Any) -> Study:
    """Read, validate and expand a study file; ``changes`` replace top-level keys first.

    Raises ``StudyError`` naming the file and the path of every problem.
    """
    path = Path(path)
    try:
        data = read_yaml(path)
    except InputFileError as exc:
        raise StudyError(exc.source, exc.problems) from None
    if not isinstance(data, dict):
        raise StudyError(str(path), [("(top)", "expected a mapping of study keys")])
    data.update({k: v for k, v in changes.items() if v is not None})
    return build_study(data, base_dir=path.parent, source=str(path))


def build_study(
    spec: StudySpec | Mapping[str, Any],
    *,
    base: Mapping[str, Any] | None = None,
    base_dir: str | Path = ".",
    source: str = "<study>",
) -> Study:
    """Validate ``spec`` and expand its variants on ``base`` (scenario data; default: the file).

    ``base`` is a scenario as parsed YAML (a dict); without it, ``spec.scenario`` is read
    relative to ``base_dir``. Raises ``StudyError`` listing every problem with its path.
    """
    spec = _validate_spec(spec, source)
    base_data = dict(base) if base is not None else _read_scenario(spec, Path(base_dir), source)
    problems: Problems = []
    base_data = _apply(base_data, spec.base_overrides, "base_overrides, override", problems)
    base_scenario = _scenario(base_data, "scenario", problems) if not problems else None
    if base_scenario is None:
        raise StudyError(source, problems)
    kpis = _selectors(spec, base_scenario, problems)
    variants = [Variant(BASE, "the base scenario", (), base_scenario)]
    vspecs = _variant_specs(spec, problems)
    problems += _duplicate_names(vspecs)
    for where, vspec in vspecs:
        variant = _variant(base_data, vspec, where, problems)
        if variant is not None:
            variants.append(variant)
    if problems:
        raise StudyError(source, problems)
    run_length = spec.run_length if spec.run_length is not None else base_scenario.horizon
    _check_warmup(spec, run_length, source)
    seed = spec.seed if spec.seed is not None else base_scenario.seed
    _check_seeds(seed, spec.replications, "seed" if spec.seed is not None else "scenario", source)
    return Study(
        spec=spec,
        source=source,
        variants=tuple(variants),
        kpis=tuple(kpis),
        seed=seed,
        run_length_s=float(run_length),
        warmup=spec.warmup,
    )


def _validate_spec(spec: StudySpec | Mapping[str, Any], source: str) -> StudySpec:
    if isinstance(spec, StudySpec):
        return spec
    try:
        return StudySpec.model_validate(dict(spec))
    except ValidationError as exc:
        problems = [(_loc(err["loc"], dict(spec)), err["msg"]) for err in exc.errors()]
        raise StudyError(source, _dedupe(problems)) from None


def _loc(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic location as ``grids[0].parameters.<path>``, walking the input.

    Union members and validator names that pydantic puts in ``loc`` do not index the input,
    so they are dropped; a key missing from the input (required or unknown) is kept.
    """
    out, node = "", data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out, node = out + f"[{part}]", node[part]
        elif isinstance(node, dict) and part in node:
            out, node = (out + f".{part}" if out else str(part)), node[part]
        elif isinstance(node, dict) and isinstance(part, str) and node is data:
            out, node = part, None  # a missing top-level key
        elif isinstance(node, dict) and isinstance(part, str) and _is_key(part):
            out, node = out + f".{part}", None
    return out or "(top)"


def _is_key(part: str) -> bool:
    return not any(c in part for c in "[](),") and part not in {"RangeSpec", "MserSpec"}


def _dedupe(problems: Problems) -> Problems:
    return list(dict.fromkeys(problems))


def _read_scenario(spec: StudySpec, base_dir: Path, source: str) -> dict[str, Any]:
    path = Path(spec.scenario)
    path = path if path.is_absolute() else base_dir / path
    try:
        data = read_yaml(path)
    except InputFileError as exc:
        problems = [("scenario", f"{path}: {where}: {msg}") for where, msg in exc.problems]
        raise StudyError(source, problems) from None
    if not isinstance(data, dict):
        raise StudyError(source, [("scenario", f"{path}: expected a mapping of scenario keys")])
    return data


def _apply(
    data: dict[str, Any], overrides: Mapping[str, Any], where: str, problems: Problems
) -> dict[str, Any]:
    """Apply each override in turn; record every failing one under ``where``."""
    for path, value in overrides.items():
        try:
            data = apply_overrides(data, {path: value})
        except OverrideError as exc:
            problems.append((f"{where} {path}", exc.message))
    return data


def _scenario(data: dict[str, Any], where: str, problems: Problems) -> Scenario | None:
    try:
        return parse_scenario(data, where)
    except ScenarioError as exc:
        problems.extend((f"{where}: {p}", m) for p, m in exc.problems)
        return None


def _selectors(spec: StudySpec, scenario: Scenario, problems: Problems) -> list[KpiSelector]:
    out: list[KpiSelector] = []
    for i, text in enumerate(spec.kpis):
        try:
            sel = parse_selector(text, scenario)
        except ValueError as exc:
            problems.append((f"kpis[{i}]", str(exc)))
            continue
        if sel.key in {s.key for s in out}:
            problems.append((f"kpis[{i}]", f"{sel.key} is listed twice"))
        else:
            out.append(sel)
    return out


def _variant_specs(spec: StudySpec, problems: Problems) -> list[tuple[str, VariantSpec]]:
    """Return ``(where, variant spec)`` for explicit variants, then every grid point."""
    out = [(f"variants[{i}] {v.name!r}", v) for i, v in enumerate(spec.variants)]
    for gi, grid in enumerate(spec.grids):
        try:
            if grid_size(grid) > MAX_GRID_POINTS:
                problems.append((f"grids[{gi}]", f"more than {MAX_GRID_POINTS:,} combinations"))
                continue
            points = expand_grid(grid)
        except ValidationError as exc:
            problems.append((f"grids[{gi}]", exc.errors()[0]["msg"]))
            continue
        if not points:
            problems.append((f"grids[{gi}].parameters", "a parameter has no values"))
        out += [(f"grids[{gi}] {v.name!r}", v) for v in points]
    return out


def _variant(
    base: dict[str, Any], vspec: VariantSpec, where: str, problems: Problems
) -> Variant | None:
    before = len(problems)
    data = _apply(base, vspec.overrides, f"{where}, override", problems)
    if len(problems) > before:
        return None
    scenario = _scenario(data, where, problems)
    if scenario is None:
        return None
    return Variant(vspec.name, vspec.description, tuple(vspec.overrides.items()), scenario)


def _duplicate_names(vspecs: list[tuple[str, VariantSpec]]) -> Problems:
    seen = {BASE}
    out = []
    for where, v in vspecs:
        if v.name in seen:
            out.append((where, f"the name {v.name!r} is taken (by 'base' or another variant)"))
        seen.add(v.name)
    return out


def _check_warmup(spec: StudySpec, run_length: float, source: str) -> None:
    warmup = spec.warmup
    interval = warmup.interval if isinstance(warmup, MserSpec) else None
    if interval is not None and run_length / interval > MAX_WARMUP_INTERVALS + 1e-6:
        problem = (
            f"{interval:g} s cuts the run length ({run_length:g} s) into more than "
            f"{MAX_WARMUP_INTERVALS:,} intervals"
        )
        raise StudyError(source, [("warmup.interval", problem)])
    if isinstance(spec.warmup, float | int) and spec.warmup >= run_length:
        raise StudyError(
            source,
            [
                (
                    "warmup",
                    f"{spec.warmup:g} s is not shorter than the run length ({run_length:g} s)",
                )
            ],
        )


def _check_seeds(seed: int, replications: int, where: str, source: str) -> None:
    """Seeds ``seed .. seed + replications - 1`` are stored as 64-bit integers (Parquet, Influx)."""
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1] + 1 - replications:
        raise StudyError(
            source,
            [
                (
                    where,
                    f"seed {seed} with {replications} replications goes beyond the 64-bit "
                    "integers the results store",
                )
            ],
        )
