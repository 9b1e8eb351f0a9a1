"""IDENTITY_CONFLICT — one MMSI alternates between two position clusters: two transmitters.

≥ 3 position jumps within 30 min, each between clusters > 10 km apart, alternating A→B→A→B
(each jump returns toward where the one before it started). high. A single out-and-back glitch
(two jumps) is POSITION_JUMP only. While open, further jumps raise no POSITION_JUMP; closed on
the first report after 30 min without a jump.
"""

from __future__ import annotations

from mda.alerts import Finding
from mda.hexgrid import distance_m
from mda.model import Report
from mda.rules.common import finding_at, label
from mda.rules.context import RuleContext
from mda.state import Jump, OpenAlert, VesselTrack

RULE = "IDENTITY_CONFLICT"


def _span_m(j: Jump) -> float:
    return distance_m(j.from_lat, j.from_lon, j.to_lat, j.to_lon)


def alternating_run(jumps: tuple[Jump, ...], min_span_m: float) -> int:
    """Length of the run of alternating jumps ending with the latest one."""
    if not jumps or _span_m(jumps[-1]) <= min_span_m:
        return 0
    run = 1
    for prev, cur in zip(reversed(jumps[:-1]), reversed(jumps[1:]), strict=True):
        span = _span_m(prev)
        returns = distance_m(prev.from_lat, prev.from_lon, cur.to_lat, cur.to_lon) < span / 2
        if span <= min_span_m or not returns:
            break
        run += 1
    return run


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    th = ctx.thresholds
    opened = new.open_alert(RULE)
    last_jump = new.jumps[-1] if new.jumps else None
    if opened is not None:
        quiet = last_jump is None or report.event_ms - last_jump.at_ms > th.conflict_window_s * 1000
        if not quiet:
            return new, []
        f = finding_at(
            RULE,
            "high",
            "closed",
            report,
            opened.opened_ms,
            f"{label(new)}: no more alternating positions for {th.conflict_window_s // 60} min.",
            {"last_jump_ms": last_jump.at_ms if last_jump else None},
            {"window_s": th.conflict_window_s},
        )
        return new.without_open(RULE), [f]
    if last_jump is None or last_jump.at_ms != report.event_ms:
        return new, []
    run = alternating_run(new.jumps, th.conflict_distance_m)
    if run < th.conflict_jumps:
        return new, []
    recent = new.jumps[-run:]
    f = finding_at(
        RULE,
        "high",
        "open",
        report,
        report.event_ms,
        f"{label(new)} alternates between two positions "
        f"{_span_m(recent[-1]) / 1000:.0f} km apart ({run} jumps in "
        f"{(recent[-1].at_ms - recent[0].at_ms) / 60000:.0f} min): two transmitters share "
        f"MMSI {report.mmsi}.",
        {
            "jumps": [
                {
                    "at_ms": j.at_ms,
                    "from": {"lat": j.from_lat, "lon": j.from_lon},
                    "to": {"lat": j.to_lat, "lon": j.to_lon},
                    "distance_m": round(_span_m(j), 1),
                }
                for j in recent
            ],
        },
        {
            "distance_m": th.conflict_distance_m,
            "jumps": th.conflict_jumps,
            "window_s": th.conflict_window_s,
        },
    )
    return new.with_open(OpenAlert(RULE, report.event_ms, "high")), [f]
