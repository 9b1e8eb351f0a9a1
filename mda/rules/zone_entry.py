"""ZONE_ENTRY — entry into a security (high) or restricted (medium) zone.

*Enters*: the first report inside, including a vessel first seen inside. The alert is
closed by the first report outside the zone. Also where the track learns which zones it is in
(the other zone-based rules read ``track.zones``).
"""

from __future__ import annotations

from mda.alerts import Finding, Severity
from mda.model import Report
from mda.rules.common import finding_at, label
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
    for opened in [a for a in new.open_alerts if a.rule == RULE and a.key not in inside]:
        gone = ctx.find_zone(opened.key)
        zone_name = gone.name if gone is not None else opened.key
        findings.append(
            finding_at(
                RULE,
                opened.severity,  # type: ignore[arg-type]
                "closed",
                report,
                opened.opened_ms,
                f"{label(new)} left zone {zone_name}.",
                {"inside_s": (report.event_ms - opened.opened_ms) / 1000},
                {},
                zone_id=opened.key,
                key=opened.key,
            )
        )
        new = new.without_open(RULE, opened.key)
    return new, findings
