"""SPEEDING — SOG > speed_limit_kn + 1 for ≥ 3 consecutive reports spanning ≥ 2 min. low.

In zones that carry a ``speed_limit_kn`` (the tightest applies). Closed by the first report at
or under the limit + margin, or outside the zone.
"""

from __future__ import annotations

from mda.alerts import Finding
from mda.model import Report
from mda.rules.common import finding_at, label
from mda.rules.context import RuleContext
from mda.state import OpenAlert, VesselTrack

RULE = "SPEEDING"


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    th = ctx.thresholds
    limited = [ctx.zone(z) for z in new.zones if ctx.zone(z).speed_limit_kn is not None]
    zone = min(limited, key=lambda z: z.speed_limit_kn or 0.0) if limited else None
    over = (
        zone is not None
        and zone.speed_limit_kn is not None
        and report.sog_kn is not None
        and report.sog_kn > zone.speed_limit_kn + th.speeding_margin_kn
    )
    findings: list[Finding] = []
    opened = next((a for a in new.open_alerts if a.rule == RULE), None)
    if opened is not None and (not over or zone is None or zone.zone_id != opened.key):
        findings.append(
            finding_at(
                RULE,
                "low",
                "closed",
                report,
                opened.opened_ms,
                f"{label(new)} is back within the speed limit.",
                {"sog_kn": report.sog_kn},
                {"margin_kn": th.speeding_margin_kn},
                zone_id=opened.key,
                key=opened.key,
            )
        )
        new = new.without_open(RULE, opened.key)
        opened = None
    if not over or zone is None:
        if new.speeding_zone is None and new.speeding_since_ms is None:
            return new, findings
        return new.evolve(speeding_zone=None, speeding_count=0, speeding_since_ms=None), findings
    if new.speeding_zone == zone.zone_id and new.speeding_since_ms is not None:
        count, since = new.speeding_count + 1, new.speeding_since_ms
    else:
        count, since = 1, report.event_ms
    new = new.evolve(speeding_zone=zone.zone_id, speeding_count=count, speeding_since_ms=since)
    if (
        opened is None
        and count >= th.speeding_reports
        and report.event_ms - since >= th.speeding_min_s * 1000
    ):
        findings.append(
            finding_at(
                RULE,
                "low",
                "open",
                report,
                report.event_ms,
                f"{label(new)} doing {report.sog_kn} kn in {zone.name} (limit "
                f"{zone.speed_limit_kn} kn) for {(report.event_ms - since) / 60000:.0f} min.",
                {
                    "sog_kn": report.sog_kn,
                    "speed_limit_kn": zone.speed_limit_kn,
                    "reports_over": count,
                    "over_since_ms": since,
                },
                {
                    "margin_kn": th.speeding_margin_kn,
                    "reports": th.speeding_reports,
                    "min_s": th.speeding_min_s,
                },
                zone_id=zone.zone_id,
                key=zone.zone_id,
            )
        )
        new = new.with_open(OpenAlert(RULE, report.event_ms, "low", key=zone.zone_id))
    return new, findings
