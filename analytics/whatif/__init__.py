"""What-if studies: variants of a scenario x replications, with confidence intervals.

::

    study.yaml ─► load_study ─► Study (base + variants, each a validated Scenario)
                                  │ make_tasks: (variant, replication r, seed = seed + r)
                                  ▼
        mser5 only: run_pilot in the workers ─► WIP series ─► pooled_warmup (one cut)
        executor (serial | local processes | Dask) ─► run_replication in the worker:
            simulate ─► KPIs after the study's warm-up (compute_report) ─► small KPI dict
                                  │ results in task order
                                  ▼
        aggregate ─► StudyResult: t intervals, paired differences with the base, verdicts
                                  │   headline, findings, warnings
                                  ├─► tables (terminal), CSV / Parquet / JSON, HTML with plots
                                  └─► InfluxDB line protocol (optional)

Python use::

    from analytics.whatif import LocalExecutor, load_study, run_study, write_html
    study = load_study("studies/buffer_sizing.yaml")
    result = run_study(study, LocalExecutor(workers=2))
    write_html(result, "buffer_sizing.html")

Local workers are spawned processes: a script that runs a study must guard its entry point
with ``if __name__ == "__main__":``. Names are imported on first use, so worker processes load
only what a replication needs (no matplotlib, no scipy).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "StudyError": "errors",
    "OverrideError": "errors",
    "InfluxWriteError": "errors",
    "ExecutorError": "errors",
    "apply_overrides": "overrides",
    "parse_path": "overrides",
    "StudySpec": "spec",
    "VariantSpec": "spec",
    "GridSpec": "spec",
    "RangeSpec": "spec",
    "MserSpec": "spec",
    "Study": "study",
    "Variant": "study",
    "load_study": "study",
    "build_study": "study",
    "KpiSelector": "selectors",
    "parse_selector": "selectors",
    "mser": "warmup",
    "MserResult": "warmup",
    "WarmupChoice": "warmup",
    "pooled_warmup": "warmup",
    "Interval": "intervals",
    "mean_interval": "intervals",
    "paired_interval": "intervals",
    "ReplicationTask": "replication",
    "ReplicationResult": "replication",
    "run_replication": "replication",
    "Executor": "executors",
    "SerialExecutor": "executors",
    "LocalExecutor": "executors",
    "DaskExecutor": "executors",
    "make_executor": "executors",
    "make_tasks": "runner",
    "run_study": "runner",
    "run_studies": "runner",
    "StudyResult": "results",
    "KpiSummary": "results",
    "Comparison": "results",
    "VariantProfile": "results",
    "StudyWarning": "results",
    "significant_statements": "wording",
    "findings": "wording",
    "headline": "wording",
    "summary_rows": "export",
    "replication_rows": "export",
    "write_csv": "export",
    "write_parquet": "export",
    "write_json": "export",
    "print_result": "tables",
    "render_html": "html_report",
    "write_html": "html_report",
    "to_line_protocol": "influx",
    "write_influx": "influx",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analytics.whatif' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"analytics.whatif.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
