"""Properties over random logs: time partitions the window, KPIs in range, windows add up."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import Elements, compute_kpis, compute_report
from analytics.registry import KPI_BY_ID
from plant_sim.states import StationState
from tests.analytics.builders import LogBuilder

STATES = list(StationState)
LINES = {"l1": ["a", "b"], "l2": ["c"]}
RESULTS = ("good", "good", "good", "scrap", "rework")


@st.composite
def logs(draw):
    """A random run: per station a state sequence, parts during processing, run end."""
    b = LogBuilder(LINES)
    end = 0.0
    for station in ("a", "b", "c"):
        t = draw(st.floats(0, 50))
        n = draw(st.integers(0, 12))
        for _ in range(n):
            state = draw(st.sampled_from(STATES))
            dur = draw(st.floats(1, 500))
            b.state(
                t,
                station,
                state,
                draw(st.sampled_from([None, "material", "x"])),
                draw(st.floats(0, 20)),
            )
            if state == StationState.PROCESSING:
                k = draw(st.integers(0, 4))
                for i in range(k):
                    # PRI no longer than the real cycle, so effectiveness stays <= 1.
                    b.part(
                        t + dur * (i + 1) / (k + 1),
                        station,
                        f"{station}{t}{i}",
                        draw(st.sampled_from(RESULTS)),
                        dur / (k + 1),
                    )
            t += dur
        end = max(end, t)
    end = draw(st.floats(end, end + 200))
    return b.build(end)


def _close(a: Elements, b: Elements) -> bool:
    return all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6)
        for x, y in zip(a.as_fields().values(), b.as_fields().values(), strict=True)
    )


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(logs(), st.floats(0, 1), st.floats(0, 1))
def test_time_elements_sum_to_the_window(records, u, v):
    """APT + AUST + ADET + ADOT + PDOT + outside + unobserved = window, per station."""
    end = records[-1].t
    t0, t1 = sorted((u * end, v * end))
    r = compute_report(records, window=(t0, t1))
    for s in r.stations:
        e = s.elements
        parts = e.pbt_s + e.pdot_s + e.outside_s + e.unobserved_s
        assert math.isclose(parts, t1 - t0, abs_tol=1e-6)
        assert e.calendar_s == t1 - t0
    n = {ln.scope: len(LINES[ln.scope]) for ln in r.lines}
    for ln in r.lines:
        e = ln.elements
        total = e.pbt_s + e.pdot_s + e.outside_s + e.unobserved_s
        assert math.isclose(total, n[ln.scope] * (t1 - t0), abs_tol=1e-6)
        assert e.pq == e.gq + e.sq + e.rq


def _in_range(name: str, value) -> bool:
    spec = KPI_BY_ID[name]
    if value is None:
        return True
    if spec.low is not None and value < spec.low - 1e-9:
        return False
    return spec.high is None or value <= spec.high + 1e-9


@_SETTINGS
@given(logs())
def test_kpis_stay_in_range(records):
    """Every KPI lies in its registry range; OEE ≤ each of its factors when E ≤ 1."""
    r = compute_report(records)
    for s in [r.plant, *r.lines, *r.stations]:
        k = s.kpis
        for name, value in k.as_dict().items():
            if name != "effectiveness_over_100":
                assert _in_range(name, value), (s.scope, name, value)
        if k.effectiveness is not None:
            assert k.effectiveness <= 1 + 1e-9
        if k.oee is not None and k.availability is not None:
            assert k.oee <= k.availability + 1e-9
    for b in r.bottlenecks:
        total = sum((x.sole_bottleneck_ratio or 0) for x in b.stations)
        assert total <= 1 + 1e-9


@_SETTINGS
@given(logs(), st.floats(0.01, 0.99))
def test_union_of_adjacent_windows_equals_summed_elements(records, u):
    """KPIs over [t0, t2) equal KPIs of the elements of [t0, t1) plus [t1, t2)."""
    t0, t2 = records[0].t, records[-1].t
    t1 = t0 + u * (t2 - t0)
    whole = compute_report(records, window=(t0, t2), shifts=False)
    first = compute_report(records, window=(t0, t1), shifts=False)
    second = compute_report(records, window=(t1, t2), shifts=False)
    for w, a, b in zip(
        [whole.plant, *whole.lines, *whole.stations],
        [first.plant, *first.lines, *first.stations],
        [second.plant, *second.lines, *second.stations],
        strict=True,
    ):
        summed = a.elements + b.elements
        assert _close(summed, w.elements), w.scope
        kw, ks = w.kpis.as_dict(), compute_kpis(summed).as_dict()
        for name, value in kw.items():
            if value is None or ks[name] is None:
                assert value is None and ks[name] is None, (w.scope, name)
            else:
                assert math.isclose(value, ks[name], rel_tol=1e-9, abs_tol=1e-9), name


@_SETTINGS
@given(logs(), st.lists(st.floats(0.01, 0.99), min_size=1, max_size=4, unique=True))
def test_shift_bins_add_up_to_the_window(records, cuts):
    """Per-shift elements, summed over all shifts and gaps, equal the window's elements."""
    end = records[-1].t
    from plant_sim.records import ShiftChange

    changes = [ShiftChange(c * end, f"s{i % 2}") for i, c in enumerate(sorted(cuts))]
    recs = sorted([*records[1:-1], *changes], key=lambda r: r.t)
    recs = [records[0], *recs, records[-1]]
    r = compute_report(recs)
    shift_sum = Elements()
    for sh in r.shift_totals:
        shift_sum = shift_sum + sh.plant.elements
    first = compute_report(recs, window=(records[0].t, sorted(cuts)[0] * end), shifts=False)
    assert _close(shift_sum + first.plant.elements, r.plant.elements)


def test_running_sum_does_not_depend_on_the_chunks() -> None:
    """Folded chunk by chunk, ``running_sum`` gives the left-to-right sum of every value,
    to the bit; numpy's pairwise sum of the same values differs (why it is not used)."""
    from analytics.timeline import running_sum

    rng = np.random.default_rng(7)
    x = rng.random(50_000) * rng.choice([1e-3, 1.0, 1e6], 50_000)
    by_hand = 0.0
    for v in x.tolist():
        by_hand += v
    folded = 0.0
    for chunk in np.array_split(x, 37):
        folded = running_sum(chunk, folded)
    assert running_sum(x) == by_hand == folded
    assert float(x.sum()) != by_hand
    assert running_sum(np.empty(0), 2.5) == 2.5
