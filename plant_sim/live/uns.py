"""Extra UNS fields for MQTT payloads: the state in every standard's numbering, value and unit.

They travel in one ``"uns"`` object beside the ``payloads.encode`` fields, e.g. for a state::

    "uns": {"value": "processing", "state_num": 1, "machinery_state": "Executing",
            "machinery_state_num": 3, "mode": "Processing", "mode_num": 3,
            "packml": "Execute", "packml_num": 6}

and for a sample ``{"values": {"temperature": {"v": 71.2, "unit": "CEL"}, ...}}``.
"""

from __future__ import annotations

from typing import Any

from plant_sim.records import BufferLevel, PartDone, ProcessSample, Record, StateChange
from plant_sim.states import STATE_INFO


def uns_fields(record: Record) -> dict[str, Any] | None:
    """Return the extra ``uns`` object of ``record`` (``None`` if it has none)."""
    if isinstance(record, StateChange):
        info = STATE_INFO[record.state]
        return {
            "value": record.state.value,
            "state_num": info.number,
            "machinery_state": info.machinery_item_state_name,
            "machinery_state_num": info.machinery_item_state,
            "mode": info.operation_mode_name,
            "mode_num": info.operation_mode,
            "packml": info.packml_name,
            "packml_num": info.packml,
        }
    if isinstance(record, ProcessSample):
        return {
            "values": {
                "temperature": {"v": record.temperature_c, "unit": "CEL"},
                "power": {"v": record.power_kw, "unit": "KWT"},
                "energy_total": {"v": record.energy_kwh, "unit": "KWH"},
                "speed_factor": {"v": record.speed_factor, "unit": "C62"},
            }
        }
    if isinstance(record, PartDone):
        return {"value": record.cycle_time_s, "unit": "SEC"}
    if isinstance(record, BufferLevel):
        return {"value": record.level, "unit": "H87"}
    return None
