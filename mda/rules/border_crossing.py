"""BORDER_CROSSING — a vessel changes side of the Canada–US boundary.

The side changes only once the vessel is ≥ 500 m past the line (hysteresis), so traffic in
mid-channel of the boundary rivers does not flicker. Each crossing opens its own alert.
Severity: info for Class A with static data and for vessels marked trusted in the register;
medium for Class B or no static data; high when the vessel crosses back within 2 h after
slowing below 3 kn on the other side (a pick-up/drop-off pattern), or goes dark (AIS_GAP)
within 30 min of crossing (that escalation is an update raised by AIS_GAP).
"""

from __future__ import annotations

import dataclasses

from mda.alerts import Finding, Severity, iso_utc
from mda.model import Report
from mda.rules.common import finding_at, label, position_of
from mda.rules.context import RuleContext
from mda.state import Crossing, VesselTrack

RULE = "BORDER_CROSSING"
_NAMES = {"CA": "Canada", "US": "the United States"}


def base_severity(track: VesselTrack) -> Severity:
    if track.trusted or (track.ais_class == "A" and track.has_static):
        return "info"
    return "medium"


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    th = ctx.thresholds
    if report.lat is None or report.lon is None:
        return new, []
    previous = old.side if old is not None else None
    side = ctx.geography.confirmed_side(previous, report.lat, report.lon, th.border_hysteresis_m)
    if side is None or side == previous:
        return _note_slowing(new, report, ctx), []
    updated = new.evolve(side=side, side_ms=report.event_ms)
    if previous is None or old is None:
        # The first fix clearly on one side sets it: that is no crossing.
        return updated, []
    last = old.crossing
    round_trip = (
        last is not None
        and last.to_side == previous
        and last.from_side == side
        and last.slowed_after
        and report.event_ms - last.at_ms <= th.crossing_return_s * 1000
    )
    severity: Severity = "high" if round_trip else base_severity(new)
    past_m = ctx.geography.boundary_distance_m(report.lat, report.lon)
    why = ""
    if round_trip:
        assert last is not None
        why = f" It came back within {(report.event_ms - last.at_ms) // 60000} min after slowing."
    finding = finding_at(
        RULE,
        severity,
        "open",
        report,
        report.event_ms,
        f"{label(new)} crossed from {_NAMES[previous]} into {_NAMES[side]} "
        f"(Class {new.ais_class or '?'}, {'with' if new.has_static else 'no'} static data"
        f"{', trusted' if new.trusted else ''}).{why}",
        {
            "from_side": previous,
            "to_side": side,
            "previous_side_since_ms": old.side_ms,
            "last_position": position_of(old.lat, old.lon, old.pos_ms),
            "position": position_of(report.lat, report.lon, report.event_ms),
            "distance_past_boundary_m": round(past_m, 1),
            "sog_kn": report.sog_kn,
            "cog_deg": report.cog_deg,
            "ais_class": new.ais_class,
            "has_static_data": new.has_static,
            "trusted": new.trusted,
            "round_trip_of": iso_utc(last.at_ms) if round_trip and last else None,
        },
        {
            "hysteresis_m": th.border_hysteresis_m,
            "return_within_s": th.crossing_return_s,
            "slow_kn": th.crossing_slow_kn,
            "dark_within_s": th.crossing_dark_s,
        },
    )
    slow = report.sog_kn is not None and report.sog_kn < th.crossing_slow_kn
    crossing = Crossing(report.event_ms, previous, side, severity, slowed_after=slow)
    return updated.evolve(crossing=crossing), [finding]


def _note_slowing(new: VesselTrack, report: Report, ctx: RuleContext) -> VesselTrack:
    """Remember that the vessel slowed down on the far side after its last crossing."""
    c = new.crossing
    th = ctx.thresholds
    if (
        c is None
        or c.slowed_after
        or report.sog_kn is None
        or report.sog_kn >= th.crossing_slow_kn
        or new.side != c.to_side
        or report.event_ms - c.at_ms > th.crossing_return_s * 1000
    ):
        return new
    return new.evolve(crossing=dataclasses.replace(c, slowed_after=True))
