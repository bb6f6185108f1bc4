"""Station states and their meaning in every standard this project speaks: the one state contract.

Each simulator state maps to an ISO 22400 time element, an OPC 40001-1 MachineryItemState and
MachineryOperationMode, a PackML (PackTags v3) state and an active-period class. The OPC UA
server, the MQTT publisher, the gateway and the analytics all take these numbers from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StationState(StrEnum):
    """What a station is doing; the values are what appear in payloads and InfluxDB."""

    PROCESSING = "processing"
    SETUP = "setup"
    MINOR_STOP = "minor_stop"
    DOWN = "down"
    STARVED = "starved"
    BLOCKED = "blocked"
    IDLE = "idle"
    PLANNED_DOWNTIME = "planned_downtime"
    OFF_SHIFT = "off_shift"


class IsoElement(StrEnum):
    """ISO 22400-2 time element a state's time is booked to."""

    APT = "apt"  # actual production time
    AUST = "aust"  # actual unit setup time
    ADET = "adet"  # actual unit delay time
    ADOT = "adot"  # actual unit down time (idle, starved, blocked) inside PBT
    PDOT = "pdot"  # planned down time: inside POT, outside PBT
    OUTSIDE = "outside"  # outside planned operation time


@dataclass(frozen=True, slots=True)
class StateInfo:
    """How one simulator state is expressed in each standard."""

    iso: IsoElement
    machinery_item_state: int
    machinery_item_state_name: str
    operation_mode: int
    operation_mode_name: str
    packml: int
    packml_name: str
    active: bool | None  # active-period class; None = excluded (not planned for work)
    number: int  # stable number of the simulator state itself


STATE_INFO: dict[StationState, StateInfo] = {
    StationState.PROCESSING: StateInfo(
        IsoElement.APT, 3, "Executing", 3, "Processing", 6, "Execute", True, 1
    ),
    StationState.SETUP: StateInfo(IsoElement.AUST, 3, "Executing", 2, "Setup", 11, "Held", True, 2),
    StationState.MINOR_STOP: StateInfo(
        IsoElement.ADET, 1, "OutOfService", 3, "Processing", 11, "Held", True, 3
    ),
    StationState.DOWN: StateInfo(
        IsoElement.ADET, 1, "OutOfService", 3, "Processing", 9, "Aborted", True, 4
    ),
    StationState.STARVED: StateInfo(
        IsoElement.ADOT, 2, "NotExecuting", 3, "Processing", 5, "Suspended", False, 5
    ),
    StationState.BLOCKED: StateInfo(
        IsoElement.ADOT, 2, "NotExecuting", 3, "Processing", 5, "Suspended", False, 6
    ),
    StationState.IDLE: StateInfo(
        IsoElement.ADOT, 2, "NotExecuting", 0, "None", 4, "Idle", False, 7
    ),
    StationState.PLANNED_DOWNTIME: StateInfo(
        IsoElement.PDOT, 1, "OutOfService", 1, "Maintenance", 2, "Stopped", None, 8
    ),
    StationState.OFF_SHIFT: StateInfo(
        IsoElement.OUTSIDE, 0, "NotAvailable", 0, "None", 2, "Stopped", None, 9
    ),
}

STATE_BY_NUMBER: dict[int, StationState] = {info.number: s for s, info in STATE_INFO.items()}

#: States during which the operating-time clock (for time between failures) runs.
OPERATING_STATES = frozenset({StationState.PROCESSING, StationState.SETUP})

#: States that pause whatever the station was doing without ending it.
PAUSE_STATES = frozenset({StationState.OFF_SHIFT, StationState.PLANNED_DOWNTIME})


def starts_new_stop(previous: StationState | None, new: StationState) -> bool:
    """Tell whether entering ``new`` begins a new failure or minor stop.

    A DOWN or MINOR_STOP interval that follows a pause (off shift, planned downtime) continues
    the stop that the pause interrupted; failures only strike while operating. Counting failure
    events (FE) from a state stream uses this rule.
    """
    if new not in (StationState.DOWN, StationState.MINOR_STOP):
        return False
    return previous not in PAUSE_STATES and previous != new
