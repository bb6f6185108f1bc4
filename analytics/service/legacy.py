"""Databases written before ``shift`` became a tag of ``kpi``: found, and what to do said.

Older versions stored the shift name as a *field* of ``kpi``; now it is a tag (so InfluxQL can
group by it) and ``kpi_slice`` holds the minute elements. InfluxDB 3 refuses a tag and a field
of one name, and on 1.x the old points would sit beside the new ones without the tag (by-shift
panels would leave them out). Such a database needs a fresh start.
"""

from __future__ import annotations

from twin_io.influx import InfluxError, InfluxQL


def legacy_problem(ql: InfluxQL) -> str | None:
    """Return what is wrong with the database and what to do, or None when it can be used
    (a database that does not exist yet is new)."""
    try:
        docs = ql.query('SHOW FIELD KEYS FROM "kpi"')
    except InfluxError as exc:
        if "not found" in str(exc):
            return None
        raise
    for doc in docs:
        for result in doc.get("results", []):
            for series in result.get("series", []) or []:
                if any(row[0] == "shift" for row in series.get("values", [])):
                    return (
                        f"database {ql.config.database!r} at {ql.config.url} holds kpi points "
                        "written by an older version (shift as a field; it is a tag now): "
                        "start with a fresh database, e.g. `docker compose down -v` for the "
                        "demo, or another --influx-database, then backfill again"
                    )
    return None
