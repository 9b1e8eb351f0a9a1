"""ZONE_ENTRY — entry into a security (high) or restricted (medium) zone.

*Enters*: the first report inside, including a vessel first seen inside. The alert is
closed by the first report outside the zone. Also where the track learns which zones it is in
(the other zone-based rules read ``track.zones``).
"""

from __future__ import annotations

from mda.alerts import Finding, Severity
from mda.model import Report
from mda.rules.common import close_left, finding_at, label
from mda.rules.context import RuleContext
from mda.state import OpenAlert, VesselTrack

RULE = "ZONE_ENTRY"
SEVERITY: dict[str, Severity] = {"security": "high", "restricted": "medium"}


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    assert report.lat is not None and report.lon is not None
    # Monitored regions matter to the other rules only when they carry a speed limit.
    inside = tuple(
        z.zone_id
        for z in ctx.geography.zones_at(report.lat, report.lon)
        if z.kind != "monitored" or z.speed_limit_kn is not None
    )
    before = set(old.zones) if old is not None else set()
    if inside != new.zones:
        new = new.evolve(zones=inside)
    findings: list[Finding] = []
    for zone_id in inside:
        zone = ctx.zone(zone_id)
        severity = SEVERITY.get(zone.kind)
        if severity is None or zone_id in before:
            continue
        findings.append(
            finding_at(
                RULE,
                severity,
                "open",
                report,
                report.event_ms,
                f"{label(new)} entered {zone.kind} zone {zone.name} "
                f"({report.sog_kn if report.sog_kn is not None else '?'} kn).",
                {
                    "zone_kind": zone.kind,
                    "zone_name": zone.name,
                    "first_seen_inside": old is None or old.pos_ms is None,
                    "position": {"lat": report.lat, "lon": report.lon},
                    "sog_kn": report.sog_kn,
                    "cog_deg": report.cog_deg,
                },
                {"kinds": dict(SEVERITY)},
                zone_id=zone_id,
                facility_id=zone.facility_id,
                key=zone_id,
            )
        )
        new = new.with_open(OpenAlert(RULE, report.event_ms, severity, key=zone_id))
    left = [a for a in new.open_alerts if a.rule == RULE and a.key not in inside]
    if left:
        new, closed = close_left(
            RULE, new, report, left, lambda a: f"{label(new)} left zone {_zone_name(a.key, ctx)}."
        )
        findings += closed
    return new, findings


def _zone_name(zone_id: str, ctx: RuleContext) -> str:
    """A zone's name; its id if the zone is no longer in the geography."""
    zone = ctx.find_zone(zone_id)
    return zone.name if zone is not None else zone_id
