"""The dashboards, one module each: ``BOARDS`` maps a JSON file name to its builder."""

from __future__ import annotations

from collections.abc import Callable

from dashboards.boards import downtime, energy, gateway, line, plant, station, supply, whatif

#: Each builder takes the plant's time zone (``None``: UTC).
BOARDS: dict[str, Callable[[str | None], dict]] = {
    "plant_overview.json": plant.build,
    "line.json": line.build,
    "station.json": station.build,
    "downtime.json": downtime.build,
    "energy.json": energy.build,
    "supply.json": supply.build,
    "gateway_health.json": gateway.build,
    "whatif.json": whatif.build,
}
HOME = "plant_overview.json"
