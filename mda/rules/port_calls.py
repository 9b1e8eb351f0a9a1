"""AIS-observed port calls (no alert; kept per vessel, the last 10, for the ISPS rules).

A call: inside a facility radius or port zone with SOG < 0.5 kn for ≥ 2 h. Arrival is the first
slow report, departure the first report outside; the call is completed on departure.
"""

from __future__ import annotations

import dataclasses

from mda.alerts import Finding
from mda.model import Report
from mda.rules.context import RuleContext
from mda.state import PortCall, PortStay, VesselTrack


def place_of(track: VesselTrack, ctx: RuleContext) -> tuple[str, str | None] | None:
    """(place id, UN/LOCODE) of the port zone or facility the vessel is in, innermost first."""
    for zone_id in track.zones:
        zone = ctx.zone(zone_id)
        # Facility radii are port zones with a facility_id; an approach naming its facility
        # is not a place of call.
        if zone.kind == "port":
            place = zone.facility_id or zone.zone_id
            locode = zone.facility_id[:5] if zone.facility_id else None
            return place, locode
    return None


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    th = ctx.thresholds
    place = place_of(new, ctx)
    stay = new.port_stay
    if stay is not None and (place is None or place[0] != stay.place_id):
        if stay.confirmed:
            call = PortCall(stay.place_id, stay.locode, stay.arrival_ms, report.event_ms)
            calls = (*new.port_calls, call)[-th.port_calls_kept :]
            new = new.evolve(port_calls=calls)
        new = new.evolve(port_stay=None)
        stay = None
    if place is None:
        return new, []
    slow = report.sog_kn is not None and report.sog_kn < th.port_call_sog_kn
    if stay is None:
        if slow:
            new = new.evolve(port_stay=PortStay(place[0], place[1], report.event_ms))
        return new, []
    if stay.confirmed:
        return new, []
    if not slow:
        return new.evolve(port_stay=None), []
    if report.event_ms - stay.arrival_ms >= th.port_call_min_s * 1000:
        return new.evolve(port_stay=dataclasses.replace(stay, confirmed=True)), []
    return new, []
