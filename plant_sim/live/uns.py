"""Extra UNS fields for MQTT payloads: the state in every standard's numbering, value and unit.

They travel in one ``"uns"`` object beside the ``payloads.encode`` fields, e.g. for a state::

    "uns": {"value": "processing", "state_num": 1, "machinery_state": "Executing",
            "machinery_state_num": 3, "mode": "Processing", "mode_num": 3,
            "packml": "Execute", "packml_num": 6}

and for a sample ``{"values": {"temperature": {"v": 71.2, "unit": "CEL"}, ...}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plant_sim.records import BufferLevel, PartDone, ProcessSample, Record, StateChange
from plant_sim.states import STATE_INFO, StationState


def uns_fields(record: Record) -> dict[str, Any] | None:
    """Return the extra ``uns`` object of ``record`` (``None`` if it has none).

    The object of a state is shared between calls (one per state): do not change it.
    """
    make = _MAKERS.get(type(record))
    return make(record) if make is not None else None


def _state(record: StateChange) -> dict[str, Any]:
    return _STATE_UNS[record.state]


def _sample(record: ProcessSample) -> dict[str, Any]:
    return {
        "values": {
            "temperature": {"v": record.temperature_c, "unit": "CEL"},
            "power": {"v": record.power_kw, "unit": "KWT"},
            "energy_total": {"v": record.energy_kwh, "unit": "KWH"},
            "speed_factor": {"v": record.speed_factor, "unit": "C62"},
        }
    }


def _part(record: PartDone) -> dict[str, Any]:
    return {"value": record.cycle_time_s, "unit": "SEC"}


def _buffer(record: BufferLevel) -> dict[str, Any]:
    return {"value": record.level, "unit": "H87"}


_STATE_UNS: dict[StationState, dict[str, Any]] = {
    state: {
        "value": state.value,
        "state_num": info.number,
        "machinery_state": info.machinery_item_state_name,
        "machinery_state_num": info.machinery_item_state,
        "mode": info.operation_mode_name,
        "mode_num": info.operation_mode,
        "packml": info.packml_name,
        "packml_num": info.packml,
    }
    for state, info in STATE_INFO.items()
}

# by exact type: the records are slotted dataclasses, not subclassed
_MAKERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    StateChange: _state,
    ProcessSample: _sample,
    PartDone: _part,
    BufferLevel: _buffer,
}
