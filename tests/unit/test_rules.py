"""The three foundation rules as pure functions, at and around their thresholds."""

from __future__ import annotations

import pytest

from mda.hexgrid import distance_m
from mda.model import Report
from mda.rules.position_jump import implied_speed_kn
from mda.track import VesselTrack, step
from tests.unit.builders import T0_MS, make_context, make_report, make_static

CTX = make_context()
# 1° of latitude on the WGS84 sphere h3 uses: used to place points at exact distances.
M_PER_DEG_LAT = distance_m(43.0, -78.0, 44.0, -78.0)


def run(reports: list[Report]) -> tuple[VesselTrack | None, list[str]]:
    track: VesselTrack | None = None
    rules: list[str] = []
    for r in reports:
        result = step(track, r, CTX)
        track = result.track
        rules += [f.rule for f in result.findings]
    return track, rules


# --- POSITION_JUMP ---------------------------------------------------------------------------


def test_implied_speed() -> None:
    assert implied_speed_kn(1852.0, 3_600_000) == pytest.approx(1.0)
    assert implied_speed_kn(10.0, 0) == float("inf")


@pytest.mark.parametrize(
    ("distance_m_", "dt_s", "fires"),
    [
        (2_100.0, 60, True),  # 2.1 km in 60 s = 68 kn
        (1_900.0, 1, False),  # under 2 km: never a jump, however fast
        (2_100.0, 70, False),  # 2.1 km in 70 s = 58.3 kn: under 60 kn
        (3_000.0, 90, True),  # 64.8 kn
        (3_000.0, 98, False),  # 59.5 kn
    ],
)
def test_position_jump_thresholds(distance_m_: float, dt_s: int, fires: bool) -> None:
    a = make_report(T0_MS, lat=43.8)
    b = make_report(T0_MS + dt_s * 1000, lat=43.8 - distance_m_ / M_PER_DEG_LAT)
    _, rules = run([a, b])
    assert (rules == ["POSITION_JUMP"]) is fires


def test_position_jump_evidence_and_severity() -> None:
    a = make_report(T0_MS, lat=43.8)
    b = make_report(T0_MS + 60_000, lat=43.7)
    track = step(None, a, CTX).track
    (f,) = step(track, b, CTX).findings
    assert f.severity == "medium" and f.status == "open"
    assert f.evidence["distance_m"] == pytest.approx(M_PER_DEG_LAT * 0.1, rel=1e-3)
    assert f.evidence["implied_speed_kn"] == pytest.approx(
        M_PER_DEG_LAT * 0.1 / 1852 * 60, rel=1e-3
    )
    assert f.thresholds == {"speed_kn": 60.0, "distance_m": 2000.0}
    assert f.opened_ms == b.event_ms


def test_position_jump_summary_names_the_vessel_as_every_rule_does() -> None:
    """By name once the vessel has sent one (the alert's MMSI field still says which
    transmitter), by MMSI before."""
    a = make_report(T0_MS, lat=43.8)
    b = make_report(T0_MS + 60_000, lat=43.7)
    (unnamed,) = step(step(None, a, CTX).track, b, CTX).findings
    assert unnamed.summary == "MMSI 316012345 jumped 11.1 km in 60 s (360 kn implied speed)."
    named = step(step(None, make_static(T0_MS - 60_000), CTX).track, a, CTX).track
    (f,) = step(named, b, CTX).findings
    assert f.summary == "LAKE SPIRIT jumped 11.1 km in 60 s (360 kn implied speed)."
    assert f.mmsi == 316012345


def test_position_jump_not_evaluated_on_ingest_time() -> None:
    a = make_report(T0_MS, lat=43.8, time_source="ingest")
    b = make_report(T0_MS + 1, lat=43.75, time_source="ingest")
    assert run([a, b])[1] == []


def test_position_jump_threshold_is_configurable() -> None:
    ctx = make_context(jump_speed_kn=80.0)
    a = make_report(T0_MS, lat=43.8)
    b = make_report(T0_MS + 90_000, lat=43.8 - 3_000 / M_PER_DEG_LAT)  # 64.8 kn
    assert step(step(None, a, ctx).track, b, ctx).findings == ()


# --- INVALID_MMSI ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mmsi", "fires"),
    [
        (123456789, True),  # placeholder
        (111111111, True),  # placeholder
        (315000000, True),  # MID 315 is not allocated (ITU table)
        (1, True),  # not 9 digits
        (316012345, False),  # Canada
        (366123456, False),  # USA
        (993161234, False),  # AtoN (99 + MID 316): legitimate, not a ship
        (970123456, False),  # AIS-SART
    ],
)
def test_invalid_mmsi_classes(mmsi: int, fires: bool) -> None:
    assert (run([make_report(mmsi=mmsi)])[1] == ["INVALID_MMSI"]) is fires


def test_invalid_mmsi_only_in_monitored_area() -> None:
    # Mid-Atlantic, far beyond 40 nm from any coast.
    assert run([make_report(mmsi=123456789, lat=40.0, lon=-45.0)])[1] == []


def test_invalid_mmsi_once_per_24h() -> None:
    day_ms = 24 * 3600 * 1000
    reports = [
        make_report(T0_MS, mmsi=123456789),
        make_report(T0_MS + 60_000, mmsi=123456789),
        make_report(T0_MS + day_ms - 1, mmsi=123456789),
        make_report(T0_MS + day_ms, mmsi=123456789),
    ]
    assert run(reports)[1] == ["INVALID_MMSI", "INVALID_MMSI"]


# --- BORDER_CROSSING -------------------------------------------------------------------------

# The boundary crosses 78° W in Lake Ontario at 43.63474 N (NOAA line B0096).
LINE_LAT = 43.63474


def south_of_line(m: float) -> float:
    return LINE_LAT - m / M_PER_DEG_LAT


def test_crossing_needs_500m_past_the_line() -> None:
    start = make_report(T0_MS, lat=43.70)
    near = make_report(T0_MS + 600_000, lat=south_of_line(400))
    assert run([start, near])[1] == []
    past = make_report(T0_MS + 660_000, lat=south_of_line(600))
    assert run([start, near, past])[1] == ["BORDER_CROSSING"]


def test_mid_channel_flicker_is_no_crossing() -> None:
    reports = [make_report(T0_MS, lat=43.70)] + [
        make_report(T0_MS + 600_000 + i * 60_000, lat=south_of_line(300 if i % 2 else -300))
        for i in range(1, 10)
    ]
    assert run(reports)[1] == []


def test_each_crossing_is_its_own_alert() -> None:
    reports = [
        make_report(T0_MS, lat=43.70),
        make_report(T0_MS + 600_000, lat=43.55, sog_kn=12.0),
        make_report(T0_MS + 1_200_000, lat=43.70, sog_kn=12.0),
    ]
    track: VesselTrack | None = None
    ids = []
    for r in reports:
        res = step(track, r, CTX)
        track = res.track
        ids += [f.alert_id for f in res.findings]
    assert len(ids) == len(set(ids)) == 2


def test_first_fix_sets_the_side_without_alert() -> None:
    track, rules = run([make_report(T0_MS, lat=43.50)])
    assert rules == [] and track is not None and track.side == "US"


@pytest.mark.parametrize(
    ("with_static", "ais_class", "severity"),
    [(True, "A", "info"), (False, "A", "medium"), (True, "B", "medium")],
)
def test_crossing_severity(with_static: bool, ais_class: str, severity: str) -> None:
    reports = [make_static(T0_MS - 1000)] if with_static else []
    msg_type = 1 if ais_class == "A" else 18
    reports += [
        make_report(T0_MS, lat=43.70, ais_class=ais_class, msg_type=msg_type),
        make_report(T0_MS + 600_000, lat=43.55, ais_class=ais_class, msg_type=msg_type),
    ]
    track: VesselTrack | None = None
    findings = []
    for r in reports:
        res = step(track, r, CTX)
        track = res.track
        findings += list(res.findings)
    (f,) = findings
    assert f.severity == severity
    assert f.evidence["from_side"] == "CA" and f.evidence["to_side"] == "US"


# --- the track step ----------------------------------------------------------------------------


def test_same_transmission_from_another_station_is_a_duplicate() -> None:
    a = make_report(T0_MS, station="S1", dedup_key="X")
    b = make_report(T0_MS + 2000, station="S2", dedup_key="X")
    track = step(None, a, CTX).track
    res = step(track, b, CTX)
    assert res.duplicate and res.track == track


def test_same_payload_after_the_window_is_not_a_duplicate() -> None:
    a = make_report(T0_MS, dedup_key="X")
    b = make_report(T0_MS + 61_000, dedup_key="X")
    assert not step(step(None, a, CTX).track, b, CTX).duplicate


def test_late_report_beyond_lateness_is_refused() -> None:
    a = make_report(T0_MS)
    late = make_report(T0_MS - 301_000, lat=40.0)
    res = step(step(None, a, CTX).track, late, CTX)
    assert res.late


def test_static_report_fills_identity() -> None:
    track, _ = run([make_static(T0_MS), make_report(T0_MS + 1000)])
    assert track is not None
    assert (track.name, track.imo, track.callsign, track.ship_type) == (
        "LAKE SPIRIT",
        9234567,
        "CFK2345",
        70,
    )
    assert track.has_static


def test_track_round_trips_through_dict() -> None:
    track, _ = run([make_static(T0_MS), make_report(T0_MS + 1000)])
    assert track is not None
    assert VesselTrack.from_dict(track.to_dict()) == track
