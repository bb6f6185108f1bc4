"""Study results as long rows, and as CSV, Parquet or JSON files.

Two tables: ``summary_rows`` (one row per variant and KPI: mean, interval, paired difference with
the base, verdict, finding, warnings) and ``replication_rows`` (one row per variant, replication
and KPI). ``write_csv(result, path)`` and ``write_parquet(result, path)`` write the summary to
``path`` and the replications beside it, as ``<stem>.replications<suffix>``. ``write_json``
writes the summary for scripts: the study, its warm-up, headline, warnings and summary rows.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from analytics.whatif.results import StudyResult
from analytics.whatif.wording import headline, statement
from twin_io.files import written_whole

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
    ("finding", "string"),
    ("warmup_s", "float64"),
    ("warmup_method", "string"),
    ("warnings", "string"),
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
    comparisons = {(c.variant, c.kpi.key): c for c in result.comparisons}
    rows = []
    for s in result.summaries:
        i, c = s.interval, comparisons.get((s.variant, s.kpi.key))
        spec = s.kpi.spec
        warnings = [w.text for w in result.warnings if w.applies(s.variant, s.kpi.key)]
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
                "better": spec.compare_better,
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
                "finding": statement(c, result.comparison_level) if c else None,
                "warmup_s": result.warmup.seconds,
                "warmup_method": result.warmup.method,
                "warnings": " | ".join(warnings),
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
    with written_whole(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
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
    with written_whole(path) as tmp:
        pq.write_table(_table(SUMMARY_COLUMNS, summary_rows(result)), tmp)
    with written_whole(reps) as tmp:
        pq.write_table(_table(REPLICATION_COLUMNS, replication_rows(result)), tmp)
    return [path, reps]


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def summary_document(result: StudyResult) -> dict[str, Any]:
    """Return the summary as one JSON-ready mapping (the ``--json`` output)."""
    study, warm = result.study, result.warmup
    return {
        "study": study.name,
        "scenario": study.base.scenario.name,
        "source": study.source,
        "variants": [
            {"name": v.name, "description": v.description, "overrides": dict(v.overrides)}
            for v in study.variants
        ],
        "replications": study.replications,
        "seeds": study.seeds(),
        "run_length_s": study.run_length_s,
        "warmup": {
            "seconds": warm.seconds,
            "method": warm.method,
            "settled": not warm.limited,
            "per_variant_s": list(warm.per_variant),
        },
        "confidence": study.spec.confidence,
        "correction": study.spec.correction,
        "comparison_level": result.comparison_level,
        "headline": headline(result),
        "warnings": [
            {"kind": w.kind, "text": w.text, "variant": w.variant, "kpi": w.kpi}
            for w in result.warnings
        ],
        "summary": [{k: _finite(v) for k, v in row.items()} for row in summary_rows(result)],
    }


def write_json(result: StudyResult, path: str | Path) -> list[Path]:
    """Write ``summary_document`` to ``path`` as JSON (UTF-8, indented); return the path."""
    path = Path(path)
    text = json.dumps(summary_document(result), indent=2, ensure_ascii=False, default=str)
    with written_whole(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return [path]
