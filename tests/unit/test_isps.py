"""ISPS reference data (loading, validation, wire form) and the ISPS rules at their edges."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from mda.alerts import Finding
from mda.errors import ReferenceDataError, ReferenceFileError
from mda.geo import Geography, zones_from_geojson
from mda.isps import (
    Advisory,
    ArrivalNotice,
    Facility,
    ReferenceData,
    VesselRecord,
    geography_with,
    load_reference_dir,
    record_from_json,
    record_to_json,
)
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.rules import isps as rules
from mda.rules.context import RuleContext
from mda.state import PortCall, VesselTrack
from mda.track import step
from replay.scenarios import DATA_DIR, imo_number, square_zone
from streams.pipeline import TrackStage
from streams.settings import Settings
from streams.topics import TopicNames, partition_for_mmsi
from tests.unit.builders import T0_MS, make_report

H_MS = 3600_000
MIN_MS = 60_000
FAC_LAT, FAC_LON = 43.30, -87.30
FOREIGN = 636000001  # Liberia
NAMES = TopicNames.from_settings(Settings())

FACILITY_HEADER = "facility_id,name,locode,country,lat,lon,radius_m,marsec_level,isps_compliant"
NOTICE_HEADER = "notice_id,regime,mmsi,imo,destination,eta,submitted_at,last_ports"


def _square(zone_id: str, kind: str, half: float, jurisdiction: str = "US", **props: object):  # type: ignore[no-untyped-def]
    return square_zone(zone_id, kind, FAC_LAT, FAC_LON, half, jurisdiction, **props)


def facility(level: int = 2, country: str = "US") -> Facility:
    code = f"{country}TST"
    return Facility(
        f"{code}-0001", "Test Terminal", code, country, FAC_LAT, FAC_LON, 2000, level, True
    )


#: A vessel that never appears in the tests: its notice only says a notice feed exists.
OTHER_VESSEL = 538000999


def notice(
    nid: str = "N1",
    *,
    eta_ms: int = T0_MS + 6 * H_MS,
    lead_h: float = 100,
    regime: str = "NOA",
    mmsi: int = FOREIGN,
    last_ports: tuple[str, ...] = ("CATOR",),
    destination: str = "USTST-0001",
) -> ArrivalNotice:
    return ArrivalNotice(
        nid,
        regime,
        mmsi,
        None,
        destination,
        eta_ms,
        eta_ms - int(lead_h * H_MS),
        last_ports,  # type: ignore[arg-type]
    )


def context(
    *,
    facilities: tuple[Facility, ...] = (),
    notices: tuple[ArrivalNotice, ...] = (),
    vessels: tuple[VesselRecord, ...] = (),
    advisories: tuple[Advisory, ...] = (),
    approach: dict[str, object] | None = None,
) -> RuleContext:
    feature = approach or _square("appr", "approach", 0.15, facility_id="USTST-0001")
    zones = zones_from_geojson({"type": "FeatureCollection", "features": [feature]})
    # A notice feed is configured (NO_PREARRIVAL is only evaluated with one): another vessel's
    # notice, which never matches the vessels under test.
    feed = (notice("N-OTHER", mmsi=OTHER_VESSEL),)
    ref = ReferenceData.build(facilities, vessels, notices + feed, advisories, zones)
    return RuleContext(
        geography_with(Geography.load(), ref),
        MidTable.load_default(),
        landmask=LandMask.load_default(),
        reference=ref,
    )


def track_through(
    ctx: RuleContext,
    points: list[tuple[float, float, float]],
    mmsi: int = FOREIGN,
    start: int = T0_MS,
    every_ms: int = MIN_MS,
    track: VesselTrack | None = None,
) -> tuple[VesselTrack | None, list[Finding]]:
    """Step (lat, lon, cog) reports through the track; returns the track and every finding."""
    findings: list[Finding] = []
    for i, (lat, lon, cog) in enumerate(points):
        at = start + i * every_ms
        r = make_report(at, mmsi=mmsi, lat=lat, lon=lon, cog_deg=cog, sog_kn=12.0)
        result = step(track, r, ctx)
        track = result.track
        findings += result.findings
    return track, findings


def opened(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule and f.status == "open"]


# Outside the approach (south), then inside it heading north toward the facility.
INBOUND = [(FAC_LAT - 0.20, FAC_LON, 0.0), (FAC_LAT - 0.10, FAC_LON, 0.0)]


# ----------------------------------------------------------------------------- loading


def write(tmp: Path, name: str, text: str) -> None:
    (tmp / name).write_text(text)


def test_the_sample_set_and_the_scenario_set_load() -> None:
    sample = load_reference_dir(DATA_DIR / "reference_sample")
    assert "CAMTR-0001" in sample.facilities and sample.advisory("CM") is not None
    assert sample.vessel(316012345, None) is not None
    scenario = load_reference_dir(DATA_DIR / "rules_isps.reference")
    assert [z.zone_id for z in scenario.zones] == ["test-appr-tst"]


def test_every_file_is_optional(tmp_path: Path) -> None:
    ref = load_reference_dir(tmp_path)
    assert not ref.facilities and not ref.vessels and not ref.notices and not ref.advisories


def test_wrong_columns_are_rejected_with_the_expected_header(tmp_path: Path) -> None:
    write(tmp_path, "port_facilities.csv", "facility_id,name,locode,country,lat,lon,extra\n")
    with pytest.raises(ReferenceFileError) as exc:
        load_reference_dir(tmp_path)
    text = str(exc.value)
    assert "port_facilities.csv line 1: missing column(s): radius_m, marsec_level" in text
    assert "unexpected column(s): extra" in text
    assert f"expected header: {FACILITY_HEADER}" in text


def test_every_problem_of_every_file_is_reported_and_nothing_loads(tmp_path: Path) -> None:
    write(
        tmp_path,
        "port_facilities.csv",
        FACILITY_HEADER
        + "\nCAMTR-0001,Montreal,CAMTR,CA,45.5,-73.55,2500,1,true"  # good row
        + "\nCA MTR-0002,Montreal 2,CA MTR,CA,45.5,-73.55,2500,1,true"  # bad LOCODE
        + "\nCAMTR-0001,Montreal again,CAMTR,CA,45.5,-73.55,2500,4,yes"  # dup, level, bool
        + "\nCAMTR-0003,Montreal 3,CAMTR,CA,95,-73.55,0,1,true\n",  # lat, radius
    )
    write(
        tmp_path,
        "arrival_notices.csv",
        NOTICE_HEADER
        + "\nN1,NOA,636000001,,USTST-0001,2026-06-01 12:00,2026-05-28T12:00:00Z,CATOR"
        + "\nN2,XYZ,636000001,,USTST-0001,2026-06-01T12:00:00+02:00,2026-05-28T12:00:00Z,CA TOR"
        + "\nN1,NOA,,,USTST-0001,2026-06-01T12:00:00Z,2026-05-28T12:00:00Z,\n",
    )
    write(
        tmp_path,
        "vessels.csv",
        "mmsi,imo,name,flag,issc_status,issc_expires,trusted\n"
        f"636000001,{imo_number(930001)},A,LR,valid,2026-02-30,false\n"
        "636000002,9300014,B,LR,lapsed,,maybe\n",
    )
    with pytest.raises(ReferenceFileError) as exc:
        load_reference_dir(tmp_path)
    problems = exc.value.problems
    expected = [
        "port_facilities.csv line 3: facility_id 'CA MTR-0002' is not a facility id",
        "port_facilities.csv line 4: marsec_level '4' is not 1, 2 or 3",
        "port_facilities.csv line 5: radius_m '0' must be > 0",
        "arrival_notices.csv line 2: eta '2026-06-01 12:00' is not an ISO-8601 UTC time",
        "arrival_notices.csv line 3: regime 'XYZ' is not NOA or PAIR",
        "arrival_notices.csv line 4: mmsi and imo are both empty",
        "vessels.csv line 2: issc_expires '2026-02-30' is not a date YYYY-MM-DD",
        "vessels.csv line 3: imo '9300014' fails the IMO check digit",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in problems), (want, problems)
    assert isinstance(exc.value, ReferenceDataError)


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    row = "CAMTR-0001,Montreal,CAMTR,CA,45.5,-73.55,2500,1,true"
    write(tmp_path, "port_facilities.csv", f"{FACILITY_HEADER}\n{row}\n{row}\n")
    write(
        tmp_path,
        "port_security_advisory.csv",
        "country,advisory_id,effective,exceptions\nCM,A1,2020-01-01,CMDLA-0001\n"
        "CM,A2,2020-01-01,CMDLA-0002\nGQ,A3,2020-01-01,CMDLA\n",
    )
    with pytest.raises(ReferenceFileError) as exc:
        load_reference_dir(tmp_path)
    problems = exc.value.problems
    assert (
        "port_facilities.csv line 3: duplicate facility_id 'CAMTR-0001' (first on line 2)"
        in problems
    )
    assert any(
        p.startswith("port_security_advisory.csv line 3: duplicate country 'CM'") for p in problems
    )
    assert any("exceptions 'CMDLA' is not a facility id" in p for p in problems)


def test_bad_last_ports_and_inconsistent_locode(tmp_path: Path) -> None:
    write(
        tmp_path,
        "port_facilities.csv",
        f"{FACILITY_HEADER}\nCAMTR-0001,Montreal,CAQUE,CA,45.5,-73.55,2500,1,true\n",
    )
    write(
        tmp_path,
        "arrival_notices.csv",
        f"{NOTICE_HEADER}\nN1,NOA,636000001,,USTST,2026-06-01T12:00:00Z,"
        "2026-05-28T12:00:00Z,CATOR;Toronto\n",
    )
    with pytest.raises(ReferenceFileError) as exc:
        load_reference_dir(tmp_path)
    assert exc.value.problems == (
        "port_facilities.csv line 2: facility_id 'CAMTR-0001' does not start with its locode "
        "'CAQUE'",
        "arrival_notices.csv line 2: last_ports entry 'Toronto' is neither a UN/LOCODE nor a "
        "facility id",
    )


def test_wire_records_round_trip_and_are_validated() -> None:
    ref = load_reference_dir(DATA_DIR / "reference_sample")
    records = [
        *ref.facilities.values(),
        *ref.vessels.values(),
        *ref.notices.values(),
        *ref.advisories.values(),
    ]
    kinds = {
        Facility: "facility",
        VesselRecord: "vessel",
        ArrivalNotice: "notice",
        Advisory: "advisory",
    }
    for record in records:
        wire = orjson.loads(orjson.dumps(record_to_json(record)))
        assert record_from_json(kinds[type(record)], wire) == record  # type: ignore[arg-type]
    bad = record_to_json(facility())
    with pytest.raises(ReferenceFileError, match="marsec_level '5'"):
        record_from_json("facility", {**bad, "marsec_level": 5})
    with pytest.raises(ReferenceFileError, match="missing column"):
        record_from_json("facility", {"facility_id": "USTST-0001"})


def test_facility_radius_is_a_port_zone_of_its_facility() -> None:
    ctx = context(facilities=(facility(),))
    inside = ctx.geography.zones_at(FAC_LAT + 0.017, FAC_LON)  # 1.9 km north
    assert ("facility-USTST-0001", "port", "USTST-0001") in [
        (z.zone_id, z.kind, z.facility_id) for z in inside
    ]
    assert not any(
        z.facility_id for z in ctx.geography.zones_at(FAC_LAT + 0.0185, FAC_LON) if z.kind == "port"
    )
    assert ctx.geography.jurisdiction(FAC_LAT, FAC_LON) == "US"


# ----------------------------------------------------------------------------- NO_PREARRIVAL


@pytest.mark.parametrize(("lead_h", "severity"), [(95, "medium"), (97, None), (96, None)])
def test_notice_lead_time_edges(lead_h: float, severity: str | None) -> None:
    ctx = context(notices=(notice(lead_h=lead_h),))
    _, findings = track_through(ctx, INBOUND)
    got = opened(findings, rules.NO_PREARRIVAL)
    assert [f.severity for f in got] == ([severity] if severity else [])
    if got:
        ev = got[0].evidence
        assert ev["notice_id"] == "N1" and ev["late_notice"] and ev["regime"] == "NOA"
        assert ev["jurisdiction"] == "US" and ev["facility_id"] == "USTST-0001"


@pytest.mark.parametrize(
    ("eta_offset_ms", "alert"),
    [
        (48 * H_MS - MIN_MS, False),
        (48 * H_MS + 2 * MIN_MS, True),
        (-48 * H_MS + 2 * MIN_MS, False),
        (-48 * H_MS - MIN_MS, True),
    ],
)
def test_eta_window_edges(eta_offset_ms: int, alert: bool) -> None:
    entry_ms = T0_MS + MIN_MS  # the second report enters the approach
    ctx = context(notices=(notice(eta_ms=entry_ms + eta_offset_ms),))
    _, findings = track_through(ctx, INBOUND)
    got = opened(findings, rules.NO_PREARRIVAL)
    assert [f.severity for f in got] == (["high"] if alert else [])


def test_no_notice_high_and_the_alert_names_its_absence() -> None:
    ctx = context(notices=(notice(regime="PAIR"),))  # the wrong regime for a US zone
    _, findings = track_through(ctx, INBOUND)
    (f,) = opened(findings, rules.NO_PREARRIVAL)
    assert f.severity == "high" and f.evidence["notice_id"] is None
    assert f.zone_id == "appr" and f.facility_id == "USTST-0001"
    assert f.thresholds["notice_lead_h"] == 96 and f.thresholds["notice_window_h"] == 48


def test_inbound_by_bearing_to_facility_and_by_zone_bearing() -> None:
    ctx = context(facilities=(facility(level=1),))
    outbound = [(FAC_LAT - 0.20, FAC_LON, 180.0), (FAC_LAT - 0.10, FAC_LON, 180.0)]
    _, findings = track_through(ctx, outbound)
    assert not opened(findings, rules.NO_PREARRIVAL)
    # A zone bearing of 270 (heading west): north (0) is 90 off, inbound; 179 (91 off) is not.
    west = _square("appr-w", "approach", 0.15, inbound_bearing_deg=270)
    for cog, alert in [(0.0, True), (179.0, False)]:
        ctx = context(approach=west)
        points = [(FAC_LAT - 0.20, FAC_LON, cog), (FAC_LAT - 0.10, FAC_LON, cog)]
        _, findings = track_through(ctx, points)
        assert bool(opened(findings, rules.NO_PREARRIVAL)) is alert, cog


def test_a_zone_without_bearing_or_facility_counts_every_entry() -> None:
    ctx = context(approach=_square("appr-x", "seaway_entry", 0.15))
    _, findings = track_through(
        ctx, [(FAC_LAT - 0.20, FAC_LON, 180.0), (FAC_LAT - 0.10, FAC_LON, 180.0)]
    )
    assert len(opened(findings, rules.NO_PREARRIVAL)) == 1


@pytest.mark.parametrize("mmsi", [316000001, 366000001])
def test_canadian_and_us_flags_are_exempt(mmsi: int) -> None:
    _, findings = track_through(context(), INBOUND, mmsi=mmsi)
    assert not opened(findings, rules.NO_PREARRIVAL)


def test_bi_zone_accepts_either_regime() -> None:
    bi = _square("appr-bi", "approach", 0.15, jurisdiction="BI")
    for regime in ("NOA", "PAIR"):
        _, findings = track_through(context(approach=bi, notices=(notice(regime=regime),)), INBOUND)
        assert not opened(findings, rules.NO_PREARRIVAL)
    _, findings = track_through(context(approach=bi), INBOUND)
    (f,) = opened(findings, rules.NO_PREARRIVAL)
    assert f.evidence["regime"] == "NOA/PAIR"


def test_pair_for_a_canadian_facility_radius() -> None:
    ca = facility(level=1, country="CA")
    inside = [(FAC_LAT - 0.05, FAC_LON, 0.0), (FAC_LAT, FAC_LON, 0.0)]
    far = _square("appr-far", "approach", 0.01, jurisdiction="CA")
    ctx = context(
        facilities=(ca,),
        approach={
            **far,
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-80, 40], [-79.9, 40], [-79.9, 40.1], [-80, 40]]],
            },
        },
    )
    _, findings = track_through(ctx, inside)
    (f,) = opened(findings, rules.NO_PREARRIVAL)
    assert f.evidence["regime"] == "PAIR" and f.facility_id == "CATST-0001"
    assert f.zone_id == "facility-CATST-0001"


def test_one_alert_per_visit_closed_on_leaving() -> None:
    ctx = context(facilities=(facility(level=1),))
    points = [(FAC_LAT - 0.20 + i * 0.05, FAC_LON, 0.0) for i in range(10)]  # through and out
    _, findings = track_through(ctx, points)
    got = [f for f in findings if f.rule == rules.NO_PREARRIVAL]
    assert [(f.status, f.zone_id) for f in got] == [("open", "appr"), ("closed", "appr")]
    opened_at, closed = got[0].event_ms, got[1]
    assert closed.opened_ms == opened_at and closed.key == "appr"
    assert closed.evidence == {"inside_s": (closed.event_ms - opened_at) / 1000}
    assert closed.summary.endswith(" left the port area of appr.")


# ----------------------------------------------------------------------------- ISSC


@pytest.mark.parametrize(
    ("status", "expires", "alert"),
    [
        ("valid", "2026-05-31", True),  # expired the day before the event (2026-06-01)
        ("valid", "2026-06-01", False),  # expires on the day: still valid
        ("valid", "2026-06-02", False),
        ("valid", None, False),
        ("suspended", None, True),
        ("none", "2027-01-01", True),
    ],
)
def test_issc_edges(status: str, expires: str | None, alert: bool) -> None:
    day = datetime.fromisoformat(expires).date() if expires else None
    record = VesselRecord(FOREIGN, None, "X", "LR", status, day)  # type: ignore[arg-type]
    ctx = context(vessels=(record,), notices=(notice(),))
    _, findings = track_through(ctx, INBOUND)
    got = opened(findings, rules.ISSC_INVALID)
    assert [f.severity for f in got] == (["high"] if alert else [])


def test_issc_unknown_vessel_is_not_invalid_and_imo_matches() -> None:
    _, findings = track_through(context(), INBOUND)
    assert not opened(findings, rules.ISSC_INVALID)
    imo = imo_number(930001)
    record = VesselRecord(None, imo, "X", "LR", "expired", None)
    ctx = context(vessels=(record,))
    track = VesselTrack(mmsi=FOREIGN, last_ms=T0_MS - MIN_MS, imo=imo)
    _, findings = track_through(ctx, INBOUND, track=track)
    assert len(opened(findings, rules.ISSC_INVALID)) == 1


def test_register_trusted_flag_reaches_the_track() -> None:
    record = VesselRecord(316000001, None, "X", "CA", "valid", None, trusted=True)
    track, _ = track_through(context(vessels=(record,)), INBOUND, mmsi=316000001)
    assert track is not None and track.trusted


# ----------------------------------------------------------------------------- MARSEC


def test_entering_a_marsec_3_facility_is_high_and_leaving_closes() -> None:
    ctx = context(facilities=(facility(level=3),))
    points = [
        (FAC_LAT - 0.05, FAC_LON, 0.0),
        (FAC_LAT, FAC_LON, 0.0),
        (FAC_LAT + 0.05, FAC_LON, 0.0),
    ]
    _, findings = track_through(ctx, points, mmsi=366000001)
    got = [(f.status, f.severity) for f in findings if f.rule == rules.SECURITY_LEVEL]
    assert got == [("open", "high"), ("closed", "high")]


def test_marsec_changes_while_inside_open_update_and_close() -> None:
    ctx1 = context(facilities=(facility(level=1),))
    track, findings = track_through(ctx1, [(FAC_LAT, FAC_LON, 0.0)], mmsi=366000001)
    assert track is not None and not opened(findings, rules.SECURITY_LEVEL)
    at = T0_MS + 10 * MIN_MS
    steps = []
    for level in (2, 2, 3, 1):
        ctx = dataclasses.replace(
            ctx1,
            reference=ctx1.reference.with_record("facility", "USTST-0001", facility(level)),  # type: ignore[union-attr]
        )
        track, found = rules.facility_event(track, "USTST-0001", ctx, at)
        steps.append([(f.status, f.severity, f.evidence["trigger"]) for f in found])
    assert steps == [
        [("open", "medium", "level raised while inside")],
        [],  # the same record again (replay, or a second partition's copy): nothing
        [("update", "high", "level changed while inside")],
        [("closed", "high", "level lowered")],
    ]


def test_marsec_raise_ignores_vessels_outside_or_long_silent() -> None:
    ctx = context(facilities=(facility(level=3),))
    outside = VesselTrack(mmsi=366000001, last_ms=T0_MS, lat=FAC_LAT + 0.1, lon=FAC_LON)
    assert rules.facility_event(outside, "USTST-0001", ctx, T0_MS)[1] == []
    silent = VesselTrack(mmsi=366000001, last_ms=T0_MS, lat=FAC_LAT, lon=FAC_LON)
    assert rules.facility_event(silent, "USTST-0001", ctx, T0_MS + 7 * H_MS)[1] == []
    assert len(rules.facility_event(silent, "USTST-0001", ctx, T0_MS + H_MS)[1]) == 1


def test_track_stage_raises_marsec_alerts_for_its_partition_only() -> None:
    """A forwarded facility record through the track stage (no Kafka): the vessels inside of
    the partition that handles it are alerted, once, and the table is written."""
    ctx = context(facilities=(facility(level=1),))
    tracks: dict[int, VesselTrack] = {}
    stage = TrackStage(NAMES, 2, ctx, tracks)
    a, b = 366000002, 366000003  # partitions 0 and 1
    assert partition_for_mmsi(a, 2) == 0 and partition_for_mmsi(b, 2) == 1
    for mmsi in (a, b):
        r = make_report(T0_MS, mmsi=mmsi, lat=FAC_LAT, lon=FAC_LON, sog_kn=0.0)
        stage.handle(orjson.dumps({"reports": [r.to_dict()]}), partition_for_mmsi(mmsi, 2))
    assert "facility-USTST-0001" in tracks[a].zones
    raised = record_to_json(facility(level=2))
    ctl = {
        "ctl": "reference",
        "kind": "facility",
        "key": "USTST-0001",
        "value": raised,
        "offset": 7,
    }
    outs = stage.handle(orjson.dumps(ctl), 0)
    alerts = [orjson.loads(o.value) for o in outs if o.topic == NAMES.alerts]
    assert [(x["rule"], x["mmsi"], x["severity"], x["status"]) for x in alerts] == [
        ("ISPS_SECURITY_LEVEL", a, "medium", "open")
    ]
    assert alerts[0]["facility_id"] == "USTST-0001" and alerts[0]["jurisdiction"] == "US"
    assert tracks[a].open_alert(rules.SECURITY_LEVEL, "USTST-0001") is not None
    assert stage.ctx.reference is not None
    assert stage.ctx.reference.facilities["USTST-0001"].marsec_level == 2
    # The copy for partition 1 alerts b; a second copy for partition 0 changes nothing.
    outs = stage.handle(orjson.dumps(ctl), 1)
    assert [orjson.loads(o.value)["mmsi"] for o in outs] == [b]
    assert stage.handle(orjson.dumps(ctl), 0) == []
    # An older record (lower offset) does not undo the newer one; a bad one is counted.
    stage.handle(orjson.dumps({**ctl, "value": record_to_json(facility(1)), "offset": 3}), 0)
    assert stage.ctx.reference.facilities["USTST-0001"].marsec_level == 2
    stage.handle(orjson.dumps({**ctl, "value": {**raised, "lat": 123}, "offset": 8}), 0)
    assert stage.reference_rejects == 1


def test_a_new_facility_rebuilds_the_geography() -> None:
    stage = TrackStage(NAMES, 1, context(), {})
    assert not any(
        z.facility_id == "USTST-0001" and z.kind == "port" for z in stage.ctx.geography.zones
    )
    stage.apply_references([("facility", "USTST-0001", record_to_json(facility()), 0)])
    assert "facility-USTST-0001" in [z.zone_id for z in stage.ctx.geography.zones]
    stage.apply_references([("facility", "USTST-0001", None, 1)])  # tombstone
    assert "facility-USTST-0001" not in [z.zone_id for z in stage.ctx.geography.zones]


# ----------------------------------------------------------------------------- PSA

CM = Advisory("CM", "PSA-CM", datetime(2020, 1, 1, tzinfo=UTC).date(), ("CMDLA-0001",))


@pytest.mark.parametrize(
    ("last_ports", "alert"),
    [
        (("CMDLA", "CATOR"), True),
        (("CATOR", "CAHAM", "USCLE", "USCHI", "CMDLA"), True),  # 5th-last counts
        (("CATOR", "CAHAM", "USCLE", "USCHI", "CATHU", "CMDLA"), False),  # 6th-last does not
        (("CMDLA-0001",), False),  # the excepted facility
        (("CMDLA-0002",), True),  # another facility of the same port is not excepted
        (("GQSSG",), False),  # no advisory for that country
    ],
)
def test_psa_last_ports(last_ports: tuple[str, ...], alert: bool) -> None:
    ctx = context(notices=(notice(last_ports=last_ports),), advisories=(CM,))
    _, findings = track_through(ctx, INBOUND)
    got = opened(findings, rules.PSA_PORT_CALL)
    assert [f.severity for f in got] == (["high"] if alert else [])
    if got:
        assert got[0].evidence["notice_id"] == "N1" and got[0].evidence["jurisdiction"] == "US"


def test_psa_observed_calls_push_declared_ones_out_of_the_last_five() -> None:
    n = notice(last_ports=("CATOR", "CAHAM", "USCLE", "CMDLA"))  # 4th-last: counts alone
    since = n.submitted_at_ms
    calls = tuple(
        PortCall(f"CA{c}-0001", f"CA{c}", since + i * H_MS, since + i * H_MS + 1)
        for i, c in enumerate(("QUE", "MTR"))
    )
    ctx = context(notices=(n,), advisories=(CM,))
    track = VesselTrack(mmsi=FOREIGN, last_ms=T0_MS - MIN_MS, port_calls=calls)
    _, findings = track_through(ctx, INBOUND, track=track)
    assert not opened(findings, rules.PSA_PORT_CALL)  # now the 6th-last
    _, findings = track_through(
        ctx, INBOUND, track=dataclasses.replace(track, port_calls=calls[:1])
    )
    assert len(opened(findings, rules.PSA_PORT_CALL)) == 1
    # An observed call at the excepted facility does not count; at another berth it does.
    for place, alert in [("CMDLA-0001", False), ("CMDLA-0003", True)]:
        observed = (PortCall(place, "CMDLA", since + H_MS, since + 2 * H_MS),)
        ctx = context(notices=(notice(last_ports=()),), advisories=(CM,))
        track = VesselTrack(mmsi=FOREIGN, last_ms=T0_MS - MIN_MS, port_calls=observed)
        _, findings = track_through(ctx, INBOUND, track=track)
        assert bool(opened(findings, rules.PSA_PORT_CALL)) is alert, place


def test_psa_only_for_us_facilities() -> None:
    ca = _square("appr-ca", "approach", 0.15, jurisdiction="CA")
    ctx = context(
        approach=ca, notices=(notice(last_ports=("CMDLA",), regime="PAIR"),), advisories=(CM,)
    )
    _, findings = track_through(ctx, INBOUND)
    assert not opened(findings, rules.PSA_PORT_CALL)


# ----------------------------------------------------------------------------- mismatch


def _moored_then_leave(ctx: RuleContext, fac_lat: float) -> list[Finding]:
    findings: list[Finding] = []
    track = None
    times = [T0_MS + i * 10 * MIN_MS for i in range(14)]  # 130 min moored
    for at in times:
        r = make_report(at, mmsi=FOREIGN, lat=fac_lat, lon=FAC_LON, sog_kn=0.0, cog_deg=0.0)
        res = step(track, r, ctx)
        track, findings = res.track, findings + list(res.findings)
    for i in range(1, 4):  # leaves south at 18 kn
        at = times[-1] + i * MIN_MS
        r = make_report(
            at, mmsi=FOREIGN, lat=fac_lat - i * 0.01, lon=FAC_LON, sog_kn=18.0, cog_deg=180.0
        )
        res = step(track, r, ctx)
        track, findings = res.track, findings + list(res.findings)
    return findings


@pytest.mark.parametrize(
    ("declared", "alert"),
    [(("CATOR",), True), (("USTSU",), False), (("USTSU-0001",), False), ((), False)],
)
def test_last_port_mismatch_on_a_completed_call(declared: tuple[str, ...], alert: bool) -> None:
    other = Facility("USTSU-0001", "Two", "USTSU", "US", FAC_LAT + 0.4, FAC_LON, 2000, 1, True)
    ctx = context(facilities=(other,), notices=(notice(last_ports=declared),))
    findings = _moored_then_leave(ctx, FAC_LAT + 0.4)
    got = opened(findings, rules.LAST_PORT_MISMATCH)
    assert [f.severity for f in got] == (["medium"] if alert else [])
    if got:
        assert got[0].evidence["declared_last_port"] == "CATOR"
        assert got[0].evidence["observed_last_port"]["locode"] == "USTSU"


def test_last_port_mismatch_on_entering_the_destination_once_per_notice() -> None:
    n = notice(last_ports=("CATOR",))
    call = PortCall("CAHAM-0001", "CAHAM", T0_MS - 30 * H_MS, T0_MS - 20 * H_MS)
    ctx = context(notices=(n,))
    track = VesselTrack(mmsi=FOREIGN, last_ms=T0_MS - MIN_MS, port_calls=(call,))
    track2, findings = track_through(ctx, INBOUND, track=track)
    (f,) = opened(findings, rules.LAST_PORT_MISMATCH)
    assert f.key == "N1" and f.zone_id == "appr"
    assert track2 is not None and track2.isps_mismatch_notices == ("N1",)
    # Out and in again: the same notice is not raised twice.
    again = [(FAC_LAT - 0.20, FAC_LON, 0.0), (FAC_LAT - 0.10, FAC_LON, 0.0)]
    _, findings = track_through(ctx, again, start=T0_MS + 10 * MIN_MS, track=track2)
    assert not opened(findings, rules.LAST_PORT_MISMATCH)
    # A call older than 30 days is not the vessel's known last port.
    old = dataclasses.replace(call, departure_ms=T0_MS - 31 * 24 * H_MS)
    _, findings = track_through(ctx, INBOUND, track=dataclasses.replace(track, port_calls=(old,)))
    assert not opened(findings, rules.LAST_PORT_MISMATCH)


def test_current_notice_is_the_latest_submitted_with_eta_not_older_than_48h() -> None:
    old = notice("OLD", eta_ms=T0_MS - 49 * H_MS, lead_h=10)  # submitted last, but past
    a = notice("A", eta_ms=T0_MS + H_MS, lead_h=100)
    b = notice("B", eta_ms=T0_MS + 50 * H_MS, lead_h=110)  # submitted later than A
    ref = ReferenceData.build(notices=(old, a, b))
    current = ref.current_notice(FOREIGN, None, T0_MS, 48 * 3600)
    assert current is not None and current.notice_id == "B"


def test_no_prearrival_is_not_evaluated_without_a_notice_feed() -> None:
    """No notices at all (no feed configured): the absence of one says nothing."""
    feature = _square("appr", "approach", 0.15, facility_id="USTST-0001")
    zones = zones_from_geojson({"type": "FeatureCollection", "features": [feature]})
    ref = ReferenceData.build((), (), (), (), zones)
    ctx = RuleContext(
        geography_with(Geography.load(), ref),
        MidTable.load_default(),
        landmask=LandMask.load_default(),
        reference=ref,
    )
    _, findings = track_through(ctx, INBOUND)
    assert opened(findings, rules.NO_PREARRIVAL) == []
