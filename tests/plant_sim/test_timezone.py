"""Scenario time zones: shifts and breaks in local time across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from plant_sim.calendar import LocalDays
from plant_sim.records import ShiftChange, StateChange
from plant_sim.scenario import ScenarioError, parse_scenario
from plant_sim.simulation import run_batch
from plant_sim.states import StationState

BERLIN = ZoneInfo("Europe/Berlin")


def _scenario(start: str, timezone: str | None = "Europe/Berlin") -> dict:
    data = {
        "name": "tz",
        "start_time": start,
        "products": [{"id": "p"}],
        "lines": [
            {
                "id": "l1",
                "stations": [{"id": "s1", "cycle_time": {"kind": "constant", "value": 60}}],
            }
        ],
        "calendar": {
            "shifts": [
                {"name": "early", "start": "06:00", "end": "14:00"},
                {"name": "night", "start": "22:00", "end": "06:00"},
            ],
            "breaks": [{"start": "10:00", "duration": "30m"}],
        },
    }
    if timezone:
        data["timezone"] = timezone
    return data


def _shifts(data: dict, days: float) -> list[tuple[datetime, str | None]]:
    scenario = parse_scenario(data)
    log = run_batch(scenario, days * 86400.0)
    start = scenario.start_time
    return [
        (start + timedelta(seconds=r.t), r.shift) for r in log.records if isinstance(r, ShiftChange)
    ]


def _local(moment: datetime) -> str:
    return moment.astimezone(BERLIN).strftime("%m-%d %H:%M")


def test_shifts_follow_local_time_into_summer_time() -> None:
    # 2026-03-29 02:00 CET the clocks jump to 03:00 CEST: the night shift of the 28th is 7 h.
    changes = _shifts(_scenario("2026-03-28T00:00:00+01:00"), 3)
    starts = [(_local(t), name) for t, name in changes if name]
    assert starts[:7] == [
        ("03-28 00:00", "night"),  # the night shift of the 27th, running at the start
        ("03-28 06:00", "early"),
        ("03-28 22:00", "night"),
        ("03-29 06:00", "early"),
        ("03-29 22:00", "night"),
        ("03-30 06:00", "early"),
        ("03-30 22:00", "night"),
    ]
    utc = {(_local(t), name): t.astimezone(UTC).strftime("%H:%M") for t, name in changes if name}
    assert utc[("03-28 06:00", "early")] == "05:00"  # CET, UTC+1
    assert utc[("03-29 06:00", "early")] == "04:00"  # CEST, UTC+2
    night = next(t for t, name in changes if name == "night" and _local(t) == "03-28 22:00")
    ended = next(t for t, name in changes if t > night)
    assert ended - night == timedelta(hours=7)


def test_the_night_shift_is_nine_hours_when_winter_time_returns() -> None:
    # 2026-10-25 03:00 CEST the clocks go back to 02:00 CET.
    changes = _shifts(_scenario("2026-10-24T00:00:00+02:00"), 2)
    night = next(t for t, name in changes if name == "night" and _local(t) == "10-24 22:00")
    ended = next(t for t, name in changes if t > night)
    assert (_local(night), _local(ended)) == ("10-24 22:00", "10-25 06:00")
    assert ended - night == timedelta(hours=9)


def test_breaks_are_local_times_after_the_change() -> None:
    scenario = parse_scenario(_scenario("2026-03-28T00:00:00+01:00"))
    log = run_batch(scenario, 3 * 86400.0)
    breaks = [
        _local(scenario.start_time + timedelta(seconds=r.t))
        for r in log.records
        if isinstance(r, StateChange)
        and r.state == StationState.PLANNED_DOWNTIME
        and r.reason == "break"
    ]
    assert breaks[:3] == ["03-28 10:00", "03-29 10:00", "03-30 10:00"]


def test_without_a_time_zone_times_of_day_are_utc() -> None:
    changes = _shifts(_scenario("2026-03-28T00:00:00Z", timezone=None), 2)
    first = next(t for t, name in changes if name == "early")
    assert first == datetime(2026, 3, 28, 6, tzinfo=UTC)


def test_start_now_is_read_in_the_plants_zone() -> None:
    # `twin sim --start-now` starts at the current instant; the calendar reads it in the zone.
    now = datetime(2026, 7, 1, 3, 30, tzinfo=UTC)  # 05:30 in Berlin (CEST)
    days = LocalDays(now, "Europe/Berlin")
    assert days.at(0, 6 * 3600.0) == 30 * 60.0  # the early shift starts in 30 minutes
    assert days.weekday0 == 2  # Wednesday


def test_an_unknown_time_zone_is_an_error_naming_the_field() -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(_scenario("2026-03-28T00:00:00Z", timezone="Mars/Olympus"))
    assert "timezone" in str(err.value)
    assert "Mars/Olympus" in str(err.value)
