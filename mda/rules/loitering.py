"""LOITERING — SOG < 2 kn for ≥ 60 min where lingering matters. medium.

Counted only outside exempt zones (port, anchorage, lock, facility radii) and either within
10 km of the boundary or inside an approach or security zone. One alert per episode, with an
update every hour it goes on; closed when SOG > 4 kn for ≥ 5 min.
"""

from __future__ import annotations

from mda.alerts import Finding
from mda.model import Report
from mda.rules.common import finding_at, label
from mda.rules.context import RuleContext
from mda.state import OpenAlert, VesselTrack

RULE = "LOITERING"
EXEMPT_KINDS = frozenset({"port", "anchorage", "lock"})
WATCHED_KINDS = frozenset({"approach", "security"})


def eligible(track: VesselTrack, report: Report, ctx: RuleContext) -> bool:
    kinds = {ctx.zone(z).kind for z in track.zones}
    # Facility radii are port zones (mda.isps); an approach naming its facility stays watched.
    if kinds & EXEMPT_KINDS:
        return False
    if kinds & WATCHED_KINDS:
        return True
    assert report.lat is not None and report.lon is not None
    return ctx.geography.near_boundary(report.lat, report.lon, ctx.thresholds.boundary_near_m)


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    th = ctx.thresholds
    sog = report.sog_kn
    if sog is None:
        return new, []
    opened = new.open_alert(RULE)
    thresholds = {
        "sog_kn": th.loiter_sog_kn,
        "min_s": th.loiter_min_s,
        "release_sog_kn": th.loiter_release_sog_kn,
        "release_s": th.loiter_release_s,
        "boundary_near_m": th.boundary_near_m,
    }
    if opened is not None:
        if sog <= th.loiter_release_sog_kn:
            new = new.evolve(fast_since_ms=None)
            last = new.loiter_update_ms or opened.opened_ms
            if report.event_ms - last < th.loiter_update_s * 1000:
                return new, []
            since = new.slow_since_ms or opened.opened_ms
            f = finding_at(
                RULE,
                "medium",
                "update",
                report,
                opened.opened_ms,
                f"{label(new)} is still loitering ({(report.event_ms - since) / 60000:.0f} min).",
                {"loiter_s": (report.event_ms - since) / 1000, "sog_kn": sog},
                thresholds,
            )
            return new.evolve(loiter_update_ms=report.event_ms), [f]
        fast_since = new.fast_since_ms or report.event_ms
        if report.event_ms - fast_since < th.loiter_release_s * 1000:
            return new.evolve(fast_since_ms=fast_since), []
        since = new.slow_since_ms or opened.opened_ms
        f = finding_at(
            RULE,
            "medium",
            "closed",
            report,
            opened.opened_ms,
            f"{label(new)} is under way again ({sog} kn) after loitering "
            f"{(fast_since - since) / 60000:.0f} min.",
            {"loiter_s": (fast_since - since) / 1000, "sog_kn": sog},
            thresholds,
        )
        cleared = new.evolve(fast_since_ms=None, slow_since_ms=None, loiter_update_ms=None)
        return cleared.without_open(RULE), [f]
    if sog >= th.loiter_sog_kn or not eligible(new, report, ctx):
        if new.slow_since_ms is None:
            return new, []
        return new.evolve(slow_since_ms=None), []
    since = new.slow_since_ms if new.slow_since_ms is not None else report.event_ms
    if new.slow_since_ms is None:
        new = new.evolve(slow_since_ms=since)
    if report.event_ms - since < th.loiter_min_s * 1000:
        return new, []
    assert report.lat is not None and report.lon is not None
    f = finding_at(
        RULE,
        "medium",
        "open",
        report,
        report.event_ms,
        f"{label(new)} has been loitering below {th.loiter_sog_kn} kn for "
        f"{(report.event_ms - since) / 60000:.0f} min.",
        {
            "slow_since_ms": since,
            "loiter_s": (report.event_ms - since) / 1000,
            "sog_kn": sog,
            "boundary_distance_m": round(
                ctx.geography.boundary_distance_m(report.lat, report.lon), 1
            ),
            "zones": list(new.zones),
        },
        thresholds,
        zone_id=next((z for z in new.zones if ctx.zone(z).kind in WATCHED_KINDS), None),
    )
    return new.with_open(OpenAlert(RULE, report.event_ms, "medium")), [f]
