"""Time zone names: one check for scenario files and the dashboards' ``--timezone``."""

from __future__ import annotations


def check_timezone(name: str | None) -> str | None:
    """Return ``name`` if this machine's time zone database knows it; raises ``ValueError``."""
    if name is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return name
