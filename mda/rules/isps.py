"""The ISPS port-security correlation (DESIGN.md §9): AIS tracks against the reference data.

- ISPS_NO_PREARRIVAL — a vessel not flagged CA/US (flag from the MID) enters a facility radius,
  or an approach/seaway_entry zone inbound, without an arrival notice of the zone's regime
  (NOA for US, PAIR for CA, either for a BI zone) with eta within 48 h of the event. high;
  medium when the only such notices were submitted < 96 h before their eta (late notice).
- ISPS_ISSC_INVALID — the register says the ISSC is expired/suspended/none, or it expired
  before the event date, and the vessel enters an approach/seaway_entry zone or a facility
  radius. high. Absent from the register: unknown, no alert.
- ISPS_SECURITY_LEVEL — inside the radius of a facility at MARSEC 2 (medium) or 3 (high): on
  entry, and when the level is raised while the vessel is inside (the track stage calls
  :func:`reconcile_security_level` for every vessel inside when a facility record changes).
  Updated when the level changes, closed when the vessel leaves or the level drops to 1.
- ISPS_PSA_PORT_CALL — one of the last 5 port calls (AIS-observed since the current notice was
  submitted, then the notice's declared last ports) is in a Port Security Advisory country,
  and the vessel enters the approach or radius of a US facility. Calls that name an excepted
  facility do not count. high.
- ISPS_LAST_PORT_MISMATCH — the vessel's real last port (an AIS-observed call) is not the first
  declared last port of its current notice. medium, once per notice.

NO_PREARRIVAL, ISSC_INVALID and PSA_PORT_CALL are one alert per port visit: opened on the first
qualifying entry, closed when the vessel is no longer in any approach, seaway_entry or facility
zone. Entry is old.zones vs new.zones, like ZONE_ENTRY (which runs first and sets the zones).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from mda.alerts import Finding, Severity
from mda.geo import Zone
from mda.isps import (
    ArrivalNotice,
    Facility,
    ReferenceData,
    angle_between_deg,
    bearing_deg,
    locode_of,
)
from mda.model import Report
from mda.rules.common import close_left, finding_at, label
from mda.rules.context import RuleContext
from mda.state import OpenAlert, PortCall, VesselTrack

NO_PREARRIVAL = "ISPS_NO_PREARRIVAL"
ISSC_INVALID = "ISPS_ISSC_INVALID"
SECURITY_LEVEL = "ISPS_SECURITY_LEVEL"
PSA_PORT_CALL = "ISPS_PSA_PORT_CALL"
LAST_PORT_MISMATCH = "ISPS_LAST_PORT_MISMATCH"

APPROACH_KINDS = frozenset({"approach", "seaway_entry"})
#: Which notice regime a zone's jurisdiction requires. A BI zone (a shared waterway port such as
#: Detroit–Windsor) serves both countries and we cannot tell which side the vessel is bound for,
#: so a notice of either regime satisfies it.
REGIMES: dict[str, tuple[str, ...]] = {"US": ("NOA",), "CA": ("PAIR",), "BI": ("NOA", "PAIR")}
DOMESTIC_FLAGS = frozenset({"CA", "US"})
MISMATCH_NOTICES_KEPT = 20


def is_radius(zone: Zone) -> bool:
    """A facility radius: a port zone naming a facility (reference circles, or a polygon a
    zones file gives for the facility)."""
    return zone.kind == "port" and zone.facility_id is not None


def is_isps_zone(zone: Zone) -> bool:
    return zone.kind in APPROACH_KINDS or is_radius(zone)


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def _is_ship(mmsi: int) -> bool:
    return 200_000_000 <= mmsi <= 799_999_999


def _isps_zones(track: VesselTrack, ctx: RuleContext) -> list[Zone]:
    if not track.zones:  # open water: most reports, asked by several ISPS rules each
        return []
    return [z for z in (ctx.find_zone(i) for i in track.zones) if z is not None and is_isps_zone(z)]


def entered_zones(old: VesselTrack | None, new: VesselTrack, ctx: RuleContext) -> list[Zone]:
    """ISPS zones the vessel is in now and was not at its previous report, innermost first."""
    before = set(old.zones) if old is not None else set()
    return [z for z in _isps_zones(new, ctx) if z.zone_id not in before]


def jurisdiction_of(zone: Zone, ref: ReferenceData) -> str:
    """The country whose rules apply in a zone: its facility's, else the zone's."""
    facility = ref.facility(zone.facility_id)
    if facility is not None and facility.country in DOMESTIC_FLAGS:
        return facility.country
    return zone.jurisdiction


def inbound(zone: Zone, report: Report, ref: ReferenceData, tolerance_deg: float) -> dict[str, Any]:
    """Whether an entry into ``zone`` is inbound, with the reasoning as evidence."""
    cog = report.cog_deg
    if zone.inbound_bearing_deg is not None:
        reference, basis = zone.inbound_bearing_deg, "zone inbound_bearing_deg"
    else:
        facility = ref.facility(zone.facility_id)
        if facility is None or report.lat is None or report.lon is None:
            return {"inbound": True, "basis": "zone has no inbound bearing nor facility"}
        reference = round(bearing_deg(report.lat, report.lon, facility.lat, facility.lon), 1)
        basis = f"bearing to facility {facility.facility_id}"
    if cog is None:
        return {"inbound": True, "basis": "course not available: counted as inbound"}
    off = angle_between_deg(cog, reference)
    return {
        "inbound": off <= tolerance_deg,
        "basis": basis,
        "reference_bearing_deg": reference,
        "cog_deg": cog,
        "off_deg": round(off, 1),
    }


def _notice_ev(n: ArrivalNotice | None) -> dict[str, Any] | None:
    if n is None:
        return None
    return {
        "notice_id": n.notice_id,
        "regime": n.regime,
        "destination": n.destination,
        "eta_ms": n.eta_ms,
        "submitted_at_ms": n.submitted_at_ms,
        "lead_h": round(n.lead_s / 3600, 2),
        "last_ports": list(n.last_ports),
    }


def _where(zone: Zone, ref: ReferenceData) -> dict[str, Any]:
    facility = ref.facility(zone.facility_id)
    return {
        "zone_id": zone.zone_id,
        "zone_kind": zone.kind,
        "zone_name": zone.name,
        "facility_id": zone.facility_id,
        "facility_name": facility.name if facility else None,
        "jurisdiction": jurisdiction_of(zone, ref),
    }


def _open_water(new: VesselTrack) -> bool:
    """In no zone, with no alert open: no ISPS rule can find anything nor change the track
    (no zone entered, no radius inside, no visit to close). Most reports; asked first."""
    return not new.zones and not new.open_alerts


def _has_open(track: VesselTrack, rule: str) -> bool:
    return bool(track.open_alerts) and any(a.rule == rule for a in track.open_alerts)


def _close_visit(
    rule: str, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    """Close a per-visit alert once the vessel is in no approach, seaway entry or facility."""
    if not _has_open(new, rule) or _isps_zones(new, ctx):
        return new, []
    left = [a for a in new.open_alerts if a.rule == rule]
    return close_left(
        rule, new, report, left, lambda a: f"{label(new)} left the port area of {a.key}."
    )


def apply_register(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    """The register's ``trusted`` flag onto the track (BORDER_CROSSING severity reads it)."""
    ref = ctx.reference
    if ref is None:
        return new, []
    record = ref.vessel(new.mmsi, new.imo)
    trusted = record is not None and record.trusted
    if trusted != new.trusted:
        new = new.evolve(trusted=trusted)
    return new, []


def check_no_prearrival(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    ref, th = ctx.reference, ctx.thresholds
    if ref is None or not ref.notices or _open_water(new):
        # No notice feed at all (no reference set, or empty isps.notices): the absence of a
        # notice says nothing, and flagging every foreign ship would drown the watch floor.
        return new, []
    new, findings = _close_visit(NO_PREARRIVAL, new, report, ctx)
    flag = ctx.mids.flag_of(new.mmsi)
    if _has_open(new, NO_PREARRIVAL) or not _is_ship(new.mmsi) or flag in DOMESTIC_FLAGS:
        return new, findings
    for zone in entered_zones(old, new, ctx):
        direction = None
        if not is_radius(zone):
            direction = inbound(zone, report, ref, th.isps_inbound_tolerance_deg)
            if not direction["inbound"]:
                continue
        where = _where(zone, ref)
        regimes = REGIMES[where["jurisdiction"]]
        window_ms = th.isps_notice_window_s * 1000
        matching = [
            n
            for n in ref.notices_for(new.mmsi, new.imo)
            if n.regime in regimes and abs(n.eta_ms - report.event_ms) <= window_ms
        ]
        if any(n.lead_s >= th.isps_notice_lead_s for n in matching):
            break
        late = max(matching, key=lambda n: (n.submitted_at_ms, n.notice_id), default=None)
        severity: Severity = "medium" if late is not None else "high"
        regime = "/".join(regimes)
        what = (
            f"a late {late.regime} ({late.notice_id}, {late.lead_s / 3600:.0f} h before eta)"
            if late is not None
            else f"no {regime} arrival notice"
        )
        findings.append(
            finding_at(
                NO_PREARRIVAL,
                severity,
                "open",
                report,
                report.event_ms,
                f"{label(new)} (flag {flag or 'unknown'}) entered {zone.kind} {zone.name} "
                f"with {what}.",
                {
                    **where,
                    "regime": regime,
                    "flag": flag,
                    "notice_id": late.notice_id if late else None,
                    "notice": _notice_ev(late),
                    "late_notice": late is not None,
                    "direction": direction,
                    "position": {"lat": report.lat, "lon": report.lon},
                },
                {
                    "notice_window_h": th.isps_notice_window_s / 3600,
                    "notice_lead_h": th.isps_notice_lead_s / 3600,
                    "inbound_tolerance_deg": th.isps_inbound_tolerance_deg,
                },
                zone_id=zone.zone_id,
                facility_id=zone.facility_id,
                key=zone.zone_id,
            )
        )
        new = new.with_open(OpenAlert(NO_PREARRIVAL, report.event_ms, severity, zone.zone_id))
        break
    return new, findings


def check_issc(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    ref = ctx.reference
    if ref is None or _open_water(new):
        return new, []
    new, findings = _close_visit(ISSC_INVALID, new, report, ctx)
    if _has_open(new, ISSC_INVALID):
        return new, findings
    entered = entered_zones(old, new, ctx)
    record = ref.vessel(new.mmsi, new.imo) if entered else None
    if record is None:
        return new, findings
    why = record.issc_invalid_on(_day(report.event_ms))
    if why is None:
        return new, findings
    zone = entered[0]
    current = ref.current_notice(
        new.mmsi, new.imo, report.event_ms, ctx.thresholds.isps_current_notice_past_s
    )
    findings.append(
        finding_at(
            ISSC_INVALID,
            "high",
            "open",
            report,
            report.event_ms,
            f"{label(new)} entered {zone.kind} {zone.name} with an invalid ship security "
            f"certificate ({why}).",
            {
                **_where(zone, ref),
                "regime": "/".join(REGIMES[jurisdiction_of(zone, ref)]),
                "reason": why,
                "issc_status": record.issc_status,
                "issc_expires": record.issc_expires.isoformat() if record.issc_expires else None,
                "register_name": record.name,
                "register_flag": record.flag,
                "notice_id": current.notice_id if current else None,
                "position": {"lat": report.lat, "lon": report.lon},
            },
            {"expired_when": "issc_expires before the event date (UTC)"},
            zone_id=zone.zone_id,
            facility_id=zone.facility_id,
            key=zone.zone_id,
        )
    )
    return new.with_open(OpenAlert(ISSC_INVALID, report.event_ms, "high", zone.zone_id)), findings


# ----------------------------------------------------------------------------- MARSEC

_LEVEL_SEVERITY: dict[int, Severity] = {2: "medium", 3: "high"}


def _level_finding(
    track: VesselTrack,
    facility: Facility,
    status: str,
    at_ms: int,
    opened_ms: int,
    severity: Severity,
    summary: str,
    trigger: str,
    zone_id: str | None,
) -> Finding:
    return Finding(
        rule=SECURITY_LEVEL,
        severity=severity,
        status=status,  # type: ignore[arg-type]
        mmsi=track.mmsi,
        event_ms=at_ms,
        opened_ms=opened_ms,
        lat=track.lat,
        lon=track.lon,
        summary=summary,
        evidence={
            "facility_id": facility.facility_id,
            "facility_name": facility.name,
            "zone_id": zone_id,
            "jurisdiction": facility.country,
            "marsec_level": facility.marsec_level,
            "trigger": trigger,
            "isps_compliant": facility.isps_compliant,
            "position": {"lat": track.lat, "lon": track.lon, "time_ms": track.pos_ms},
        },
        thresholds={"marsec_severity": {str(k): v for k, v in _LEVEL_SEVERITY.items()}},
        zone_id=zone_id,
        facility_id=facility.facility_id,
        key=facility.facility_id,
    )


def reconcile_security_level(
    track: VesselTrack,
    ctx: RuleContext,
    at_ms: int,
    inside: dict[str, str],
    entered: set[str],
    only: str | None = None,
) -> tuple[VesselTrack, list[Finding]]:
    """Bring the vessel's ISPS_SECURITY_LEVEL alerts in line with the facilities it is inside.

    ``inside`` maps facility ids to the zone id of the radius the vessel is in; ``entered``
    the facilities it has just entered. With ``only`` (a facility record changed), just that
    facility is reconciled. Idempotent: an alert already open at the level changes nothing,
    so replaying a facility record raises nothing twice.
    """
    ref = ctx.reference
    if ref is None:
        return track, []
    findings: list[Finding] = []
    for fid, zone_id in sorted(inside.items()):
        if only is not None and fid != only:
            continue
        facility = ref.facility(fid)
        if facility is None:
            continue
        opened = track.open_alert(SECURITY_LEVEL, fid)
        severity = _LEVEL_SEVERITY.get(facility.marsec_level)
        who = label(track)
        if opened is None and severity is not None:
            trigger = "entry" if fid in entered else "level raised while inside"
            findings.append(
                _level_finding(
                    track,
                    facility,
                    "open",
                    at_ms,
                    at_ms,
                    severity,
                    f"{who} is inside the radius of {facility.name} ({fid}) at MARSEC "
                    f"{facility.marsec_level} ({trigger}).",
                    trigger,
                    zone_id,
                )
            )
            track = track.with_open(OpenAlert(SECURITY_LEVEL, at_ms, severity, fid))
        elif opened is not None and severity is None:
            findings.append(
                _level_finding(
                    track,
                    facility,
                    "closed",
                    at_ms,
                    opened.opened_ms,
                    opened.severity,  # type: ignore[arg-type]
                    f"{facility.name} ({fid}) is back at MARSEC 1.",
                    "level lowered",
                    zone_id,
                )
            )
            track = track.without_open(SECURITY_LEVEL, fid)
        elif opened is not None and severity is not None and severity != opened.severity:
            findings.append(
                _level_finding(
                    track,
                    facility,
                    "update",
                    at_ms,
                    opened.opened_ms,
                    severity,
                    f"{facility.name} ({fid}) is now at MARSEC {facility.marsec_level} with "
                    f"{who} inside.",
                    "level changed while inside",
                    zone_id,
                )
            )
            track = track.with_open(OpenAlert(SECURITY_LEVEL, opened.opened_ms, severity, fid))
    if only is not None:
        return track, findings
    for opened in [a for a in track.open_alerts if a.rule == SECURITY_LEVEL]:
        if opened.key in inside:
            continue
        gone = ref.facility(opened.key) or Facility(
            opened.key, opened.key, opened.key[:5], opened.key[:2], 0.0, 0.0, 1.0, 1, False
        )
        findings.append(
            _level_finding(
                track,
                gone,
                "closed",
                at_ms,
                opened.opened_ms,
                opened.severity,  # type: ignore[arg-type]
                f"{label(track)} left the radius of {gone.name} ({opened.key}).",
                "left radius",
                None,
            )
        )
        track = track.without_open(SECURITY_LEVEL, opened.key)
    return track, findings


def radii_of(track: VesselTrack, ctx: RuleContext) -> dict[str, str]:
    """Facility id → zone id of each facility radius the track is in (innermost wins)."""
    out: dict[str, str] = {}
    for zone_id in track.zones:
        zone = ctx.find_zone(zone_id)
        if zone is not None and is_radius(zone) and zone.facility_id not in out:
            out[zone.facility_id] = zone_id  # type: ignore[index]
    return out


def check_security_level(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    if ctx.reference is None or _open_water(new):
        return new, []
    inside = radii_of(new, ctx)
    before = set(radii_of(old, ctx)) if old is not None else set()
    return reconcile_security_level(new, ctx, report.event_ms, inside, set(inside) - before)


def facility_event(
    track: VesselTrack, facility_id: str, ctx: RuleContext, at_ms: int
) -> tuple[VesselTrack, list[Finding]]:
    """A facility record changed (a MARSEC level change is an event): reconcile a vessel.

    The vessel counts as inside when its last position, heard within
    ``isps_inside_max_silence_s`` of ``at_ms``, is in one of the facility's radius zones.
    """
    if ctx.reference is None or track.lat is None or track.lon is None:
        return track, []
    if at_ms - track.last_ms > ctx.thresholds.isps_inside_max_silence_s * 1000:
        return track, []
    inside = {
        z.facility_id: z.zone_id
        for z in ctx.geography.zones_at(track.lat, track.lon)
        if is_radius(z) and z.facility_id == facility_id
    }
    return reconcile_security_level(
        track, ctx, max(at_ms, track.last_ms), inside, set(), only=facility_id
    )


# ----------------------------------------------------------------------------- port calls


def last_calls(track: VesselTrack, notice: ArrivalNotice | None, n: int) -> list[dict[str, Any]]:
    """The vessel's last ``n`` port calls, most recent first.

    AIS-observed calls since the current notice was submitted come first (the declaration
    cannot know them), then the notice's declared last ports, which stand for the history up
    to the submission. Without a notice: the observed calls.
    """
    since = notice.submitted_at_ms if notice is not None else None
    observed = [
        {
            "place": c.place_id if c.locode and c.place_id.startswith(c.locode) else c.locode,
            "locode": c.locode,
            "source": "observed",
            "arrival_ms": c.arrival_ms,
            "departure_ms": c.departure_ms,
        }
        for c in reversed(track.port_calls)
        if since is None or c.arrival_ms >= since
    ]
    declared = [
        {"place": p, "locode": locode_of(p), "source": "declared"}
        for p in (notice.last_ports if notice is not None else ())
    ]
    return (observed + declared)[:n]


def _country_of(zone: Zone, ref: ReferenceData, notice: ArrivalNotice | None) -> str | None:
    facility = ref.facility(zone.facility_id)
    if facility is not None:
        return facility.country
    if zone.facility_id:
        return zone.facility_id[:2]
    if zone.jurisdiction in DOMESTIC_FLAGS:
        return zone.jurisdiction
    # A bi-national approach: the US side only when the notice says the vessel is bound there.
    return notice.destination[:2] if notice is not None else None


def check_psa(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    ref, th = ctx.reference, ctx.thresholds
    if ref is None or _open_water(new):
        return new, []
    new, findings = _close_visit(PSA_PORT_CALL, new, report, ctx)
    if _has_open(new, PSA_PORT_CALL) or not ref.advisories:
        return new, findings
    entered = entered_zones(old, new, ctx)
    if not entered:
        return new, findings
    notice = ref.current_notice(new.mmsi, new.imo, report.event_ms, th.isps_current_notice_past_s)
    zone = next((z for z in entered if _country_of(z, ref, notice) == "US"), None)
    if zone is None:
        return new, findings
    day = _day(report.event_ms)
    calls = last_calls(new, notice, th.isps_port_calls_considered)
    hits: list[dict[str, Any]] = []
    excepted: list[dict[str, Any]] = []
    for call in calls:
        if not call["locode"]:
            continue
        advisory = ref.advisory(call["locode"][:2])
        if advisory is None or advisory.effective > day:
            continue
        entry = {**call, "advisory_id": advisory.advisory_id, "country": advisory.country}
        (excepted if call["place"] in advisory.exceptions else hits).append(entry)
    if not hits:
        return new, findings
    places = ", ".join(f"{h['place']} ({h['source']})" for h in hits)
    findings.append(
        finding_at(
            PSA_PORT_CALL,
            "high",
            "open",
            report,
            report.event_ms,
            f"{label(new)} entered {zone.kind} {zone.name} of a US facility after calling at "
            f"{places}, under a Port Security Advisory.",
            {
                **_where(zone, ref),
                "regime": "NOA",
                "notice_id": notice.notice_id if notice else None,
                "port_calls": calls,
                "advisory_calls": hits,
                "excepted_calls": excepted,
                "position": {"lat": report.lat, "lon": report.lon},
            },
            {"port_calls_considered": th.isps_port_calls_considered},
            zone_id=zone.zone_id,
            facility_id=zone.facility_id,
            key=zone.zone_id,
        )
    )
    return new.with_open(OpenAlert(PSA_PORT_CALL, report.event_ms, "high", zone.zone_id)), findings


def _destination_zone(zone: Zone, notice: ArrivalNotice) -> bool:
    return bool(zone.facility_id) and locode_of(zone.facility_id or "") == notice.destination_locode


def check_last_port(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    """ISPS_LAST_PORT_MISMATCH; runs after the port-call tracker (a call completes there)."""
    ref, th = ctx.reference, ctx.thresholds
    before = old.port_calls if old is not None else ()
    if ref is None or (_open_water(new) and new.port_calls == before):
        return new, []  # (no call completed here, no zone entered)
    notice = ref.current_notice(new.mmsi, new.imo, report.event_ms, th.isps_current_notice_past_s)
    if notice is None or not notice.last_ports or notice.notice_id in new.isps_mismatch_notices:
        return new, []
    declared = locode_of(notice.last_ports[0])
    call: PortCall | None = None
    trigger = ""
    zone: Zone | None = None
    completed = new.port_calls[-1] if new.port_calls else None
    if (
        completed is not None
        and completed not in before
        and completed.locode != notice.destination_locode
    ):
        call, trigger = completed, "port call completed away from the destination"
    if call is None:
        zone = next((z for z in entered_zones(old, new, ctx) if _destination_zone(z, notice)), None)
        if zone is not None:
            recent = [
                c
                for c in new.port_calls
                if c.departure_ms is not None
                and report.event_ms - c.departure_ms <= th.isps_last_call_max_age_s * 1000
            ]
            if recent:
                call, trigger = recent[-1], "entered the destination's approach or radius"
    if call is None or call.locode is None or call.locode == declared:
        return new, []
    findings = [
        finding_at(
            LAST_PORT_MISMATCH,
            "medium",
            "open",
            report,
            report.event_ms,
            f"{label(new)}'s last port was {call.locode} (AIS), but its {notice.regime} "
            f"{notice.notice_id} declares {declared}.",
            {
                "notice_id": notice.notice_id,
                "regime": notice.regime,
                "jurisdiction": "US" if notice.regime == "NOA" else "CA",
                "notice": _notice_ev(notice),
                "declared_last_port": notice.last_ports[0],
                "observed_last_port": {
                    "place": call.place_id,
                    "locode": call.locode,
                    "arrival_ms": call.arrival_ms,
                    "departure_ms": call.departure_ms,
                },
                "trigger": trigger,
                "zone_id": zone.zone_id if zone else None,
                "position": {"lat": report.lat, "lon": report.lon},
            },
            {"last_call_max_age_d": th.isps_last_call_max_age_s / 86400},
            zone_id=zone.zone_id if zone else None,
            facility_id=zone.facility_id
            if zone
            else notice.destination[:10]
            if len(notice.destination) == 10
            else None,
            key=notice.notice_id,
        )
    ]
    kept = (*new.isps_mismatch_notices, notice.notice_id)[-MISMATCH_NOTICES_KEPT:]
    return new.evolve(isps_mismatch_notices=kept), findings
