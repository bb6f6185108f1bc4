"""Container healthcheck of the gateway: is it moving data into InfluxDB right now?

The gateway writes its own ``gateway_stats`` point every ``metrics_interval_s`` through the
same writer as the records. Healthy means: a point of the last ``--max-age`` seconds is stored
(the gateway runs and its path into InfluxDB works), and, when that point says records are
buffered, batches were written during that time (the buffer drains, it is not stuck). A gateway
with nothing to do (buffer empty) is healthy. Settings come from the same ``TWIN_*`` variables
as the gateway's. Exit 0 healthy, 1 not, with the reason on stderr.

    python -m gateway.health --max-age 60
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from plant_sim.telemetry_schema import METRICS_MEASUREMENT
from twin_io.influx import InfluxConfig, InfluxError, InfluxQL


@dataclass(frozen=True)
class InfluxAccess:
    """The gateway's InfluxDB settings, from the environment (the gateway's own variables)."""

    url: str = "http://localhost:8086"
    database: str = "twin"
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> InfluxAccess:
        """Read ``TWIN_INFLUX_URL``, ``_DATABASE``, ``_TOKEN``, ``_USERNAME``, ``_PASSWORD``."""
        values = {k: env.get(f"TWIN_INFLUX_{k.upper()}") for k in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if v})


def query(s: InfluxAccess, max_age_s: float) -> dict[str, float] | None:
    """Newest ``buffered``, batches written and point count of the last ``max_age_s``."""
    q = (
        f'SELECT last("buffered") AS "buffered", spread("batches") AS "batches", '
        f'count("buffered") AS "points" FROM "{METRICS_MEASUREMENT}" '
        f"WHERE \"source\" = 'gateway' AND time > now() - {int(max_age_s * 1000)}ms"
    )
    config = InfluxConfig(s.url, s.database, s.token, s.username, s.password, timeout_s=5.0)
    docs = InfluxQL(config).query(q)
    series = docs[0]["results"][0].get("series") or [] if docs else []
    if not series:
        return None
    row = dict(zip(series[0]["columns"], series[0]["values"][0], strict=True))
    return {k: float(row[k] or 0) for k in ("buffered", "batches", "points")}


def verdict(stats: dict[str, float] | None, max_age_s: float) -> str | None:
    """``None`` when healthy, else the reason."""
    if stats is None or stats["points"] == 0:
        return f"no gateway_stats point in the last {max_age_s:g} s: the gateway stores nothing"
    if stats["buffered"] > 0 and stats["points"] > 1 and stats["batches"] == 0:
        return (
            f"{stats['buffered']:.0f} records buffered and no batch written in the last "
            f"{max_age_s:g} s"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; print why it fails."""
    parser = argparse.ArgumentParser(prog="python -m gateway.health", description=__doc__)
    parser.add_argument("--max-age", type=float, default=60.0, help="Seconds (default 60).")
    args = parser.parse_args(argv)
    settings = InfluxAccess.from_env()
    try:
        reason = verdict(query(settings, args.max_age), args.max_age)
    except (InfluxError, KeyError, ValueError) as exc:
        reason = f"InfluxDB {settings.url}: {exc}"
    if reason:
        sys.stderr.write(f"unhealthy: {reason}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
