"""BORDER_CROSSING — a vessel changes side of the Canada–US boundary.

The side changes only once the vessel is ≥ 500 m past the line (hysteresis), so traffic in
mid-channel of the boundary rivers does not flicker. Each crossing opens its own alert.
Severity: info for Class A with static data or for a vessel trusted in the register; medium
for Class B or a vessel that has sent no static data. (The escalations to high — crossing back
within 2 h after slowing, or going dark after crossing — build on AIS_GAP and come with it.)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from mda.alerts import Finding, Severity
from mda.model import Report
from mda.rules.context import RuleContext

if TYPE_CHECKING:
    from mda.track import VesselTrack

RULE = "BORDER_CROSSING"
_NAMES = {"CA": "Canada", "US": "the United States"}


def severity_of(track: VesselTrack, trusted: bool = False) -> Severity:
    if trusted or (track.ais_class == "A" and track.has_static):
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
        # Unchanged, or outside the region the boundary covers: keep the last known side.
        return new, []
    updated = dataclasses.replace(new, side=side, side_ms=report.event_ms)
    if previous is None:
        # The first fix clearly on one side sets it: that is no crossing.
        return updated, []
    assert old is not None
    past_m = ctx.geography.boundary_distance_m(report.lat, report.lon)
    finding = Finding(
        rule=RULE,
        severity=severity_of(new),
        status="open",
        mmsi=report.mmsi,
        event_ms=report.event_ms,
        opened_ms=report.event_ms,
        lat=report.lat,
        lon=report.lon,
        summary=(
            f"{new.name or f'MMSI {report.mmsi}'} crossed from {_NAMES[previous]} into "
            f"{_NAMES[side]} (Class {new.ais_class or '?'}, "
            f"{'with' if new.has_static else 'no'} static data)."
        ),
        evidence={
            "from_side": previous,
            "to_side": side,
            "previous_side_since_ms": old.side_ms,
            "last_position": {"lat": old.lat, "lon": old.lon, "time_ms": old.pos_ms},
            "position": {"lat": report.lat, "lon": report.lon, "time_ms": report.event_ms},
            "distance_past_boundary_m": round(past_m, 1),
            "sog_kn": report.sog_kn,
            "cog_deg": report.cog_deg,
            "ais_class": new.ais_class,
            "has_static_data": new.has_static,
        },
        thresholds={"hysteresis_m": th.border_hysteresis_m},
    )
    return updated, [finding]
