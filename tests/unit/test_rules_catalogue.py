"""The per-vessel rules of the catalogue (DESIGN.md §9) as pure functions, at their thresholds.

Each test puts a value just below and just above a threshold (or checks a closing condition or
a severity escalation) through ``mda.track.step`` / ``check_silence`` with real geography.
Positions: Lake Michigan mid-lake (43.3 N, 87.3 W: US waters, monitored, > 100 km from the
boundary) unless a rule needs the boundary (Lake Ontario at 78 W, the line at 43.63474 N).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mda.alerts import Finding
from mda.geo import Geography
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.model import Report
from mda.rules.context import RuleContext
from mda.state import VesselTrack
from mda.thresholds import Thresholds
from mda.track import check_silence, silence_deadline_ms, step
from replay.scenarios import square_zone
from tests.unit.builders import T0_MS, make_context, make_report, make_static

MIN_MS = 60_000
LM = {"lat": 43.30, "lon": -87.30, "mmsi": 366100001}
CTX = make_context()


def run(reports: list[Report], ctx: RuleContext = CTX) -> tuple[VesselTrack | None, list[Finding]]:
    track: VesselTrack | None = None
    findings: list[Finding] = []
    for r in reports:
        res = step(track, r, ctx)
        track = res.track
        findings += res.findings
    return track, findings


def rules_of(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.status) for f in findings]


def moving(minutes: range, sog: float = 10.0, **kw: Any) -> list[Report]:
    """Reports every minute, moving north ~ at ``sog`` kn (no jumps)."""
    fields = {**LM, **kw}
    lat0 = fields.pop("lat")
    return [
        make_report(T0_MS + m * MIN_MS, lat=lat0 + m * sog / 60 / 60, sog_kn=sog, **fields)
        for m in minutes
    ]


# --- AIS_GAP -----


@pytest.mark.parametrize(
    ("kw", "threshold_min"),
    [
        ({"sog_kn": 10.0}, 30),  # Class A under way
        ({"sog_kn": 10.0, "ais_class": "B", "msg_type": 18}, 60),
        ({"sog_kn": 0.0, "nav_status": 5}, 180),  # moored
        ({"sog_kn": 0.4}, 180),  # SOG < 0.5 kn
    ],
)
def test_gap_threshold_by_class_and_state(kw: dict[str, Any], threshold_min: int) -> None:
    track, _ = run([make_report(T0_MS, **{**LM, **kw})])
    assert track is not None
    due = silence_deadline_ms(track, CTX)
    assert due == T0_MS + threshold_min * MIN_MS
    # Just before the threshold: nothing. At it: an AIS_GAP dated at the crossing.
    assert check_silence(track, due - 1, station_heard_ms=due - 1, ctx=CTX).findings == []
    result = check_silence(track, due, station_heard_ms=due, ctx=CTX)
    (f,) = result.findings
    assert (f.rule, f.status, f.event_ms, f.severity) == ("AIS_GAP", "open", due, "medium")
    assert f.evidence["silence_s"] == threshold_min * 60


def test_gap_not_raised_while_the_station_is_silent() -> None:
    track, _ = run([make_report(T0_MS, **LM)])
    assert track is not None
    due = T0_MS + 30 * MIN_MS
    # The station was last heard 10 min + 1 ms before the crossing: it is silent.
    silent = check_silence(track, due, station_heard_ms=due - 10 * MIN_MS - 1, ctx=CTX)
    assert silent.findings == [] and silent.retry_ms is not None
    alive = check_silence(track, due, station_heard_ms=due - 10 * MIN_MS, ctx=CTX)
    assert rules_of(alive.findings) == [("AIS_GAP", "open")]


def test_gap_only_for_vessels_last_heard_in_the_monitored_area() -> None:
    track, _ = run([make_report(T0_MS, **{**LM, "lat": 40.0, "lon": -45.0})])  # mid-Atlantic
    assert track is not None and silence_deadline_ms(track, CTX) is None


def test_gap_closes_on_the_next_report_with_distance_and_speed() -> None:
    track, _ = run([make_report(T0_MS, **LM)])
    assert track is not None
    opened = check_silence(track, T0_MS + 30 * MIN_MS, T0_MS + 30 * MIN_MS, CTX)
    back = make_report(T0_MS + 60 * MIN_MS, **{**LM, "lat": LM["lat"] + 0.1})
    res = step(opened.track, back, CTX)
    (f,) = [f for f in res.findings if f.rule == "AIS_GAP"]
    assert f.status == "closed" and f.opened_ms == T0_MS + 30 * MIN_MS
    assert f.evidence["gap_s"] == 3600
    assert f.evidence["distance_m"] == pytest.approx(11_119.5, rel=1e-3)
    assert f.evidence["implied_speed_kn"] == pytest.approx(6.0, rel=1e-2)


def test_gap_is_high_near_the_boundary() -> None:
    track, _ = run([make_report(T0_MS, lat=43.60, lon=-78.0)])  # 3.8 km south of the line
    assert track is not None
    (f,) = check_silence(track, T0_MS + 30 * MIN_MS, T0_MS + 30 * MIN_MS, CTX).findings
    assert f.severity == "high"


# --- IDENTITY_CHANGE -----


def test_identity_change_ignores_empty_values_and_first_static() -> None:
    _, f = run([make_static(T0_MS, **LM), make_static(T0_MS + MIN_MS, **LM, callsign=None)])
    assert f == []


def test_identity_change_low_for_a_name_high_for_an_imo() -> None:
    _, f = run([make_static(T0_MS, **LM), make_static(T0_MS + MIN_MS, **LM, name="OTHER")])
    assert [(x.rule, x.severity) for x in f] == [("IDENTITY_CHANGE", "low")]
    _, f = run([make_static(T0_MS, **LM), make_static(T0_MS + MIN_MS, **LM, imo=9111111)])
    assert [(x.rule, x.severity) for x in f] == [("IDENTITY_CHANGE", "high")]
    assert f[0].evidence["changes"] == {"imo": {"from": 9234567, "to": 9111111}}


# --- IDENTITY_CONFLICT -----


def alternating(n_positions: int) -> list[Report]:
    lats = [43.0 if i % 2 == 0 else 43.3 for i in range(n_positions)]  # 33 km apart
    return [
        make_report(T0_MS + i * 2 * MIN_MS, **{**LM, "lat": lat, "sog_kn": 5.0})
        for i, lat in enumerate(lats)
    ]


def test_out_and_back_is_two_jumps_not_a_conflict() -> None:
    _, f = run(alternating(3))  # A B A
    assert rules_of(f) == [("POSITION_JUMP", "open")] * 2


def test_third_alternating_jump_is_a_conflict() -> None:
    _, f = run(alternating(4))  # A B A B
    assert rules_of(f)[-1] == ("IDENTITY_CONFLICT", "open")
    assert f[-1].severity == "high"


def test_conflict_closes_after_30_min_without_jumps() -> None:
    reports = alternating(4)
    last = reports[-1].event_ms
    stay = [
        make_report(last + m * MIN_MS, **{**LM, "lat": 43.3 + m * 0.0001, "sog_kn": 5.0})
        for m in (10, 30, 31)
    ]
    _, f = run(reports + stay)
    closes = [x for x in f if x.rule == "IDENTITY_CONFLICT" and x.status == "closed"]
    assert [x.event_ms for x in closes] == [last + 31 * MIN_MS]


# --- POSITION_ON_LAND -----


def test_on_land_opens_and_closes_back_on_water() -> None:
    lake = make_report(T0_MS, **{**LM, "lat": 41.95, "lon": -87.55})  # off Chicago
    land = make_report(T0_MS + 60 * MIN_MS, **{**LM, "lat": 41.85, "lon": -87.75})  # Cicero
    back = make_report(T0_MS + 120 * MIN_MS, **{**LM, "lat": 41.95, "lon": -87.55})
    _, f = run([lake, land, back])
    assert [x for x in rules_of(f) if x[0] == "POSITION_ON_LAND"] == [
        ("POSITION_ON_LAND", "open"),
        ("POSITION_ON_LAND", "closed"),
    ]


def test_on_land_margin_is_configurable() -> None:
    ctx = make_context(land_margin_m=20_000.0)  # Cicero is ~10 km from water
    land = make_report(T0_MS, **{**LM, "lat": 41.85, "lon": -87.75})
    assert [x for x in run([land], ctx)[1] if x.rule == "POSITION_ON_LAND"] == []


# --- zones: LOITERING, ZONE_ENTRY, SPEEDING -----


def zone_ctx(tmp_path: Path, kind: str, **props: Any) -> RuleContext:
    feature = square_zone("z", kind, LM["lat"], LM["lon"], 0.05, name="Z", **props)
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return RuleContext(
        Geography.load(path), MidTable.load_default(), Thresholds(), LandMask.load_default()
    )


@pytest.mark.parametrize(("minutes", "opens"), [(59, False), (60, True)])
def test_loitering_after_60_min_slow_in_an_approach(
    tmp_path: Path, minutes: int, opens: bool
) -> None:
    ctx = zone_ctx(tmp_path, "approach", inbound_bearing_deg=270)
    reports = [make_report(T0_MS + m * MIN_MS, **LM, sog_kn=1.0) for m in range(minutes + 1)]
    assert (("LOITERING", "open") in rules_of(run(reports, ctx)[1])) is opens


def test_loitering_not_in_a_port_zone(tmp_path: Path) -> None:
    ctx = zone_ctx(tmp_path, "port")
    reports = [make_report(T0_MS + m * MIN_MS, **LM, sog_kn=1.0) for m in range(90)]
    assert run(reports, ctx)[1] == []


@pytest.mark.parametrize(("fast_minutes", "closes"), [(4, False), (5, True)])
def test_loitering_closes_after_5_min_above_4_kn(
    tmp_path: Path, fast_minutes: int, closes: bool
) -> None:
    ctx = zone_ctx(tmp_path, "approach")
    slow = [make_report(T0_MS + m * MIN_MS, **LM, sog_kn=1.0) for m in range(61)]
    fast = [
        make_report(T0_MS + (61 + m) * MIN_MS, **{**LM, "lat": LM["lat"] + m * 0.001}, sog_kn=5.0)
        for m in range(fast_minutes + 1)
    ]
    assert (("LOITERING", "closed") in rules_of(run(slow + fast, ctx)[1])) is closes


@pytest.mark.parametrize(("kind", "severity"), [("security", "high"), ("restricted", "medium")])
def test_zone_entry_and_exit(tmp_path: Path, kind: str, severity: str) -> None:
    ctx = zone_ctx(tmp_path, kind)
    outside = {**LM, "lat": LM["lat"] - 0.1}
    reports = [
        make_report(T0_MS, **outside),
        make_report(T0_MS + 10 * MIN_MS, **LM),
        make_report(T0_MS + 20 * MIN_MS, **LM),
        make_report(T0_MS + 30 * MIN_MS, **outside),
    ]
    _, f = run(reports, ctx)
    assert [(x.rule, x.status, x.severity, x.event_ms) for x in f] == [
        ("ZONE_ENTRY", "open", severity, T0_MS + 10 * MIN_MS),
        ("ZONE_ENTRY", "closed", severity, T0_MS + 30 * MIN_MS),
    ]
    assert f[0].zone_id == "z"
    closed = f[1]
    assert (closed.zone_id, closed.key, closed.opened_ms) == ("z", "z", T0_MS + 10 * MIN_MS)
    assert closed.evidence == {"inside_s": 20 * 60.0}
    assert closed.summary.endswith(" left zone Z.")


def test_zone_entry_when_first_seen_inside(tmp_path: Path) -> None:
    _, f = run([make_report(T0_MS, **LM)], zone_ctx(tmp_path, "security"))
    assert rules_of(f) == [("ZONE_ENTRY", "open")]


@pytest.mark.parametrize(
    ("sog", "count", "every_s", "opens"),
    [
        (11.1, 3, 60, True),  # limit 10 + 1: over, 3 reports spanning 2 min
        (11.0, 3, 60, False),  # not over limit + 1
        (12.0, 2, 120, False),  # 2 reports only
        (12.0, 3, 59, False),  # 3 reports spanning 1 min 58 s
    ],
)
def test_speeding_thresholds(
    tmp_path: Path, sog: float, count: int, every_s: int, opens: bool
) -> None:
    ctx = zone_ctx(tmp_path, "monitored", speed_limit_kn=10)
    reports = [
        make_report(T0_MS + i * every_s * 1000, **{**LM, "lat": LM["lat"] + i * 1e-4}, sog_kn=sog)
        for i in range(count)
    ]
    assert (("SPEEDING", "open") in rules_of(run(reports, ctx)[1])) is opens


# --- BORDER_CROSSING escalation and port calls -----


def crossing_round_trip(back_after_min: int, slow_kn: float) -> list[Finding]:
    ontario = {"mmsi": 316400001, "lon": -78.0}
    reports = [make_static(T0_MS - 1000, **ontario)]
    reports += [make_report(T0_MS, lat=43.70, sog_kn=10.0, **ontario)]
    reports += [make_report(T0_MS + 20 * MIN_MS, lat=43.58, sog_kn=slow_kn, **ontario)]
    reports += [make_report(T0_MS + back_after_min * MIN_MS, lat=43.70, sog_kn=10.0, **ontario)]
    return [f for f in run(reports)[1] if f.rule == "BORDER_CROSSING"]


def test_round_trip_within_2h_after_slowing_is_high() -> None:
    assert [f.severity for f in crossing_round_trip(60, 1.0)] == ["info", "high"]


def test_round_trip_without_slowing_or_after_2h_is_not_high() -> None:
    assert [f.severity for f in crossing_round_trip(60, 8.0)] == ["info", "info"]
    assert [f.severity for f in crossing_round_trip(141, 1.0)] == ["info", "info"]


@pytest.mark.parametrize(("slow_min", "counted"), [(119, False), (120, True)])
def test_port_call_needs_2h_slow_inside_a_port(
    tmp_path: Path, slow_min: int, counted: bool
) -> None:
    ctx = zone_ctx(tmp_path, "port")
    inside = [make_report(T0_MS + m * MIN_MS, **LM, sog_kn=0.1) for m in range(slow_min + 1)]
    leave = make_report(
        T0_MS + (slow_min + 10) * MIN_MS, **{**LM, "lat": LM["lat"] + 0.2}, sog_kn=8.0
    )
    track, _ = run([*inside, leave], ctx)
    assert track is not None
    calls = [(c.place_id, c.arrival_ms, c.departure_ms) for c in track.port_calls]
    assert calls == ([("z", T0_MS, leave.event_ms)] if counted else [])
