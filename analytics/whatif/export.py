"""Study results as long rows, and as CSV or Parquet files.

Two tables: ``summary_rows`` (one row per variant and KPI: mean, interval, paired difference with
the base, verdict) and ``replication_rows`` (one row per variant, replication and KPI).
``write_csv(result, path)`` and ``write_parquet(result, path)`` write the summary to ``path`` and
the replications beside it, as ``<stem>.replications<suffix>``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from analytics.whatif.results import StudyResult

SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("study", "string"),
    ("scenario", "string"),
    ("variant", "string"),
    ("description", "string"),
    ("kpi", "string"),
    ("kpi_id", "string"),
    ("scope", "string"),
    ("name", "string"),
    ("unit", "string"),
    ("better", "string"),
    ("n", "int64"),
    ("mean", "float64"),
    ("sd", "float64"),
    ("low", "float64"),
    ("high", "float64"),
    ("half_width", "float64"),
    ("level", "float64"),
    ("diff_mean", "float64"),
    ("diff_low", "float64"),
    ("diff_high", "float64"),
    ("diff_relative", "float64"),
    ("diff_level", "float64"),
    ("significant", "bool"),
    ("verdict", "string"),
    ("warmup_s", "float64"),
)
REPLICATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("study", "string"),
    ("variant", "string"),
    ("replication", "int64"),
    ("seed", "int64"),
    ("warmup_s", "float64"),
    ("warmup_limited", "bool"),
    ("kpi", "string"),
    ("value", "float64"),
)


def summary_rows(result: StudyResult) -> list[dict[str, Any]]:
    """Return one row per variant and KPI (see ``SUMMARY_COLUMNS``)."""
    study = result.study
    descriptions = {v.name: v.description for v in study.variants}
    warmups = {p.variant: p.warmup_s for p in result.profiles}
    comparisons = {(c.variant, c.kpi.key): c for c in result.comparisons}
    rows = []
    for s in result.summaries:
        i, c = s.interval, comparisons.get((s.variant, s.kpi.key))
        spec = s.kpi.spec
        rows.append(
            {
                "study": study.name,
                "scenario": study.base.scenario.name,
                "variant": s.variant,
                "description": descriptions[s.variant],
                "kpi": s.kpi.key,
                "kpi_id": s.kpi.kpi,
                "scope": s.kpi.scope,
                "name": spec.name,
                "unit": spec.unit,
                "better": spec.better,
                "n": i.n,
                "mean": i.mean,
                "sd": i.sd,
                "low": i.low,
                "high": i.high,
                "half_width": i.half_width,
                "level": i.level,
                "diff_mean": c.difference.mean if c else None,
                "diff_low": c.difference.low if c else None,
                "diff_high": c.difference.high if c else None,
                "diff_relative": c.relative if c else None,
                "diff_level": c.difference.level if c else None,
                "significant": c.significant if c else None,
                "verdict": c.verdict if c else None,
                "warmup_s": warmups[s.variant],
            }
        )
    return rows


def replication_rows(result: StudyResult) -> list[dict[str, Any]]:
    """Return one row per variant, replication and KPI (see ``REPLICATION_COLUMNS``)."""
    names = result.variant_names
    return [
        {
            "study": result.study.name,
            "variant": names[r.variant],
            "replication": r.replication,
            "seed": r.seed,
            "warmup_s": r.warmup_s,
            "warmup_limited": r.warmup_limited,
            "kpi": key,
            "value": value,
        }
        for r in result.runs
        for key, value in r.kpis.items()
    ]


def sibling(path: Path, part: str) -> Path:
    """Return ``<stem>.<part><suffix>`` beside ``path`` (``a.csv`` -> ``a.replications.csv``)."""
    return path.with_name(f"{path.stem}.{part}{path.suffix}")


def _write_csv_rows(
    path: Path, columns: tuple[tuple[str, str], ...], rows: list[dict[str, Any]]
) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[c for c, _ in columns], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def write_csv(result: StudyResult, path: str | Path) -> list[Path]:
    """Write the summary to ``path`` and the replications beside it; return both paths."""
    path = Path(path)
    reps = sibling(path, "replications")
    _write_csv_rows(path, SUMMARY_COLUMNS, summary_rows(result))
    _write_csv_rows(reps, REPLICATION_COLUMNS, replication_rows(result))
    return [path, reps]


def _table(columns: tuple[tuple[str, str], ...], rows: list[dict[str, Any]]):
    import pyarrow as pa

    schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in columns])
    return pa.Table.from_pylist(rows, schema=schema)


def write_parquet(result: StudyResult, path: str | Path) -> list[Path]:
    """Write the summary to ``path`` (Parquet) and the replications beside it."""
    import pyarrow.parquet as pq

    path = Path(path)
    reps = sibling(path, "replications")
    pq.write_table(_table(SUMMARY_COLUMNS, summary_rows(result)), path)
    pq.write_table(_table(REPLICATION_COLUMNS, replication_rows(result)), reps)
    return [path, reps]
