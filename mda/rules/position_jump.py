"""POSITION_JUMP — consecutive positions imply > 60 kn over > 2 km (medium).

A single bad fix, a spoofed position or two transmitters sharing one MMSI all show up as an
impossible displacement between consecutive reports.
"""

from __future__ import annotations

from mda.alerts import Finding
from mda.hexgrid import distance_m
from mda.model import Report
from mda.rules.common import finding_at, label
from mda.rules.context import RuleContext
from mda.state import Jump, VesselTrack

RULE = "POSITION_JUMP"
#: Most jumps a track keeps (IDENTITY_CONFLICT needs the last ``conflict_jumps`` of them).
JUMPS_KEPT = 16
M_PER_NM = 1852.0


def implied_speed_kn(distance_m_: float, dt_ms: int) -> float:
    """Speed needed to cover ``distance_m_`` in ``dt_ms``; infinite for no elapsed time."""
    if dt_ms <= 0:
        return float("inf")
    return (distance_m_ / M_PER_NM) / (dt_ms / 3_600_000)


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    th = ctx.thresholds
    if (
        old is None
        or old.lat is None
        or old.lon is None
        or old.pos_ms is None
        or report.lat is None
        or report.lon is None
        or report.time_source == "ingest"
        or not old.pos_timed
    ):
        # Without a recorded time (ingest time only) an implied speed means nothing.
        return new, []
    dist_m = distance_m(old.lat, old.lon, report.lat, report.lon)
    if dist_m <= th.jump_distance_m:
        return new, []
    dt_ms = report.event_ms - old.pos_ms
    speed_kn = implied_speed_kn(dist_m, dt_ms)
    if speed_kn <= th.jump_speed_kn:
        return new, []
    jump = Jump(report.event_ms, old.lat, old.lon, report.lat, report.lon)
    window_ms = th.conflict_window_s * 1000
    kept = tuple(j for j in new.jumps if report.event_ms - j.at_ms <= window_ms)
    # Also bounded by count: two transmitters on one MMSI jump at every report (900 jumps in
    # the 30-min window at 2 s each), and the whole track is rewritten to the changelog.
    limit = max(JUMPS_KEPT, th.conflict_jumps)
    new = new.evolve(jumps=(*kept, jump)[-limit:])
    if new.open_alert("IDENTITY_CONFLICT") is not None:
        # Two transmitters already explained: each alternation is not news.
        return new, []
    shown = "an impossible" if speed_kn == float("inf") else f"{speed_kn:.0f} kn"
    finding = finding_at(
        RULE,
        "medium",
        "open",
        report,
        report.event_ms,
        (
            f"{label(new)} jumped {dist_m / 1000:.1f} km in {dt_ms / 1000:.0f} s "
            f"({shown} implied speed)."
        ),
        {
            "from": {"lat": old.lat, "lon": old.lon, "time_ms": old.pos_ms},
            "to": {"lat": report.lat, "lon": report.lon, "time_ms": report.event_ms},
            "distance_m": round(dist_m, 1),
            "dt_s": dt_ms / 1000,
            "implied_speed_kn": None if speed_kn == float("inf") else round(speed_kn, 1),
            "reported_sog_kn": report.sog_kn,
        },
        {"speed_kn": th.jump_speed_kn, "distance_m": th.jump_distance_m},
    )
    return new, [finding]
