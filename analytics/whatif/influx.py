"""Study results to InfluxDB as line protocol, over the v1 ``/write`` endpoint (``twin_io.influx``).

Two measurements, tagged by study and variant (bounded: one study has a handful of variants):

- ``whatif_kpi`` tags ``study, variant, kpi, scope``; fields ``mean, low, high, half_width, n``
  and, for variants, ``diff_mean, diff_low, diff_high, diff_relative, significant, verdict``;
- ``whatif_replication`` tags ``study, variant, kpi, scope, replication``; fields ``value,
  seed, warmup_s``.

Every point of one study carries the same time stamp (``at_ms``, given by the caller: the
finishing time of the study), so a dashboard can pick the latest run of a study. Undefined
values are left out of the field set. InfluxDB 2.x answers ``/write`` too (v1 compatibility,
token in ``Authorization: Token ...``).
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from analytics.whatif.errors import InfluxWriteError
from analytics.whatif.results import StudyResult
from plant_sim.telemetry_schema import encode_point
from twin_io.influx import InfluxError, write_lines

KPI_MEASUREMENT = "whatif_kpi"
REPLICATION_MEASUREMENT = "whatif_replication"


def _line(measurement: str, tags: dict[str, str], fields: dict[str, Any], at_ms: int) -> str | None:
    return encode_point(measurement, tags, fields, at_ms)


def to_line_protocol(result: StudyResult, at_ms: int) -> list[str]:
    """Return the study's points as line-protocol lines with millisecond time stamps."""
    study = result.study.name
    lines = []
    comparisons = {(c.variant, c.kpi.key): c for c in result.comparisons}
    for s in result.summaries:
        i = s.interval
        fields: dict[str, Any] = {
            "mean": i.mean,
            "low": i.low,
            "high": i.high,
            "half_width": i.half_width,
            "n": i.n,
        }
        c = comparisons.get((s.variant, s.kpi.key))
        if c is not None:
            fields.update(
                diff_mean=c.difference.mean,
                diff_low=c.difference.low,
                diff_high=c.difference.high,
                diff_relative=c.relative,
                significant=c.significant,
                verdict=c.verdict,
            )
        tags = {"study": study, "variant": s.variant, "kpi": s.kpi.kpi, "scope": s.kpi.scope}
        line = _line(KPI_MEASUREMENT, tags, fields, at_ms)
        if line is not None:  # no defined field: no point
            lines.append(line)
    names = result.variant_names
    selectors = {sel.key: sel for sel in result.study.kpis}
    for r in result.runs:
        for key, value in r.kpis.items():
            if value is None or not math.isfinite(value):
                continue
            sel = selectors[key]
            tags = {
                "study": study,
                "variant": names[r.variant],
                "kpi": sel.kpi,
                "scope": sel.scope,
                "replication": str(r.replication),
            }
            line = _line(
                REPLICATION_MEASUREMENT,
                tags,
                {"value": value, "seed": r.seed, "warmup_s": r.warmup_s},
                at_ms,
            )
            if line is not None:
                lines.append(line)
    return lines


def write_influx(
    lines: list[str],
    url: str,
    database: str,
    *,
    token: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 10.0,
    batch: int = 5000,
) -> int:
    """POST ``lines`` to ``{url}/write?db=...&precision=ms`` in batches; return lines written.

    Raises ``InfluxWriteError`` naming the endpoint when the server refuses or cannot be reached.
    """
    try:
        return write_lines(
            lines,
            url,
            database,
            precision="ms",
            token=token,
            transport=transport,
            timeout_s=timeout_s,
            batch=batch,
        )
    except InfluxError as exc:
        raise InfluxWriteError(str(exc)) from exc
