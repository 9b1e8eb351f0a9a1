"""POSITION_ON_LAND — a position more than 1 km from the nearest water. medium.

Water is Natural Earth land minus lakes, plus river and canal corridors (the Great Lakes,
the rivers and the Seaway are water). Closed by the first position back on water; a vessel
reporting from a trailer in a yard is one alert, not one per report.
"""

from __future__ import annotations

from mda.alerts import Finding
from mda.model import Report
from mda.rules.common import finding_at, label
from mda.rules.context import RuleContext
from mda.state import OpenAlert, VesselTrack

RULE = "POSITION_ON_LAND"


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    if ctx.landmask is None:
        return new, []
    assert report.lat is not None and report.lon is not None
    th = ctx.thresholds
    on_land = ctx.landmask.is_on_land(report.lat, report.lon, th.land_margin_m)
    opened = new.open_alert(RULE)
    if on_land and opened is None:
        f = finding_at(
            RULE,
            "medium",
            "open",
            report,
            report.event_ms,
            f"{label(new)} reports a position on land, more than "
            f"{th.land_margin_m / 1000:.0f} km from water.",
            {"position": {"lat": report.lat, "lon": report.lon}, "sog_kn": report.sog_kn},
            {"margin_m": th.land_margin_m},
        )
        return new.with_open(OpenAlert(RULE, report.event_ms, "medium")), [f]
    if not on_land and opened is not None:
        f = finding_at(
            RULE,
            "medium",
            "closed",
            report,
            opened.opened_ms,
            f"{label(new)} reports a position on water again.",
            {"on_land_s": (report.event_ms - opened.opened_ms) / 1000},
            {"margin_m": th.land_margin_m},
        )
        return new.without_open(RULE), [f]
    return new, []
