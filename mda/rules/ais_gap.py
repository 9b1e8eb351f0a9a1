"""AIS_GAP — a vessel last heard inside the monitored area goes silent.

Silent ≥ 30 min (Class A underway), ≥ 60 min (Class B), ≥ 3 h (nav status 1 at anchor / 5
moored, or SOG < 0.5 kn) while the event-time watermark advances. Not raised while the station
that last heard it is silent (no vessel at all heard through it for 10 min): a receiver outage
is not a dark vessel. The alert's event time is the moment the silence crossed the threshold
(last heard + threshold), so the id does not depend on how far the watermark jumped. Closed on
the next report, with the gap, the distance covered and the implied speed. medium; high within
10 km of the boundary or in a security zone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mda.alerts import Finding, Severity, iso_utc
from mda.hexgrid import distance_m
from mda.model import Report
from mda.rules.common import label, position_of
from mda.rules.context import RuleContext
from mda.rules.position_jump import implied_speed_kn
from mda.state import OpenAlert, VesselTrack

RULE = "AIS_GAP"
SLOW_NAV_STATUS = frozenset({1, 5})  # at anchor, moored


@dataclass(frozen=True, slots=True)
class SilenceResult:
    track: VesselTrack
    findings: list[Finding]
    #: When to look again (the station was silent); None when done.
    retry_ms: int | None = None


def threshold_s(track: VesselTrack, ctx: RuleContext) -> int:
    th = ctx.thresholds
    slow = track.sog_kn is not None and track.sog_kn < th.gap_slow_sog_kn
    if track.nav_status in SLOW_NAV_STATUS or slow:
        return th.gap_slow_s
    if track.ais_class == "B":
        return th.gap_class_b_s
    return th.gap_class_a_s


def deadline_ms(track: VesselTrack, ctx: RuleContext) -> int | None:
    """When silence becomes a gap; None when the vessel is not watched (outside, untimed)."""
    if not track.in_monitored or track.gap_reported or not track.pos_timed:
        return None
    return track.last_ms + threshold_s(track, ctx) * 1000


def severity_of(track: VesselTrack, ctx: RuleContext) -> Severity:
    if track.lat is None or track.lon is None:
        return "medium"
    geo = ctx.geography
    near = geo.near_boundary(track.lat, track.lon, ctx.thresholds.boundary_near_m)
    security = any(ctx.zone(z).kind == "security" for z in track.zones)
    return "high" if near or security else "medium"


def check_silence(
    track: VesselTrack, watermark_ms: int, station_heard_ms: int | None, ctx: RuleContext
) -> SilenceResult:
    th = ctx.thresholds
    due = deadline_ms(track, ctx)
    if due is None or watermark_ms < due:
        return SilenceResult(track, [])
    silent_since = due - th.station_silence_s * 1000
    if station_heard_ms is not None and station_heard_ms < silent_since:
        # The receiver itself went quiet: look again once it has had time to come back.
        return SilenceResult(track, [], retry_ms=watermark_ms + th.station_silence_s * 1000)
    severity = severity_of(track, ctx)
    limit_s = threshold_s(track, ctx)
    findings = [
        Finding(
            rule=RULE,
            severity=severity,
            status="open",
            mmsi=track.mmsi,
            event_ms=due,
            opened_ms=due,
            lat=track.lat,
            lon=track.lon,
            summary=(
                f"{label(track)} has not been heard for {limit_s // 60} min inside the "
                f"monitored area (last heard {iso_utc(track.last_ms)})."
            ),
            evidence={
                "last_seen": iso_utc(track.last_ms),
                "last_position": position_of(track.lat, track.lon, track.pos_ms),
                "silence_s": (due - track.last_ms) / 1000,
                "station": track.station,
                "station_last_heard": iso_utc(station_heard_ms) if station_heard_ms else None,
                "ais_class": track.ais_class,
                "sog_kn": track.sog_kn,
                "nav_status": track.nav_status,
            },
            thresholds={
                "class_a_s": th.gap_class_a_s,
                "class_b_s": th.gap_class_b_s,
                "slow_s": th.gap_slow_s,
                "slow_sog_kn": th.gap_slow_sog_kn,
                "applied_s": limit_s,
                "station_silence_s": th.station_silence_s,
            },
        )
    ]
    new = track.evolve(gap_reported=True).with_open(OpenAlert(RULE, due, severity))
    crossing = track.crossing
    if (
        crossing is not None
        and crossing.severity != "high"
        and track.last_ms - crossing.at_ms <= th.crossing_dark_s * 1000
    ):
        # BORDER_CROSSING escalation: the vessel went dark soon after crossing.
        findings.append(
            Finding(
                rule="BORDER_CROSSING",
                severity="high",
                status="update",
                mmsi=track.mmsi,
                event_ms=due,
                opened_ms=crossing.at_ms,
                lat=track.lat,
                lon=track.lon,
                summary=(
                    f"{label(track)} went dark {(track.last_ms - crossing.at_ms) // 60000} min "
                    f"after crossing from {crossing.from_side} to {crossing.to_side}."
                ),
                evidence={
                    "escalation": "dark_after_crossing",
                    "crossed_at": iso_utc(crossing.at_ms),
                    "last_seen": iso_utc(track.last_ms),
                    "from_side": crossing.from_side,
                    "to_side": crossing.to_side,
                },
                thresholds={"dark_within_s": th.crossing_dark_s},
            )
        )
        new = new.evolve(crossing=dataclasses.replace(crossing, severity="high"))
    return SilenceResult(new, findings)


def check_return(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    """Close an open gap on the vessel's next report."""
    if old is None:
        return new, []
    opened = old.open_alert(RULE)
    if opened is None:
        return new, []
    gap_ms = report.event_ms - old.last_ms
    evidence: dict[str, object] = {
        "gap_s": gap_ms / 1000,
        "last_seen": iso_utc(old.last_ms),
        "last_position": position_of(old.lat, old.lon, old.pos_ms),
        "position": position_of(report.lat, report.lon, report.event_ms),
        "distance_m": None,
        "implied_speed_kn": None,
    }
    if None not in (old.lat, old.lon, report.lat, report.lon):
        assert old.lat is not None and old.lon is not None
        assert report.lat is not None and report.lon is not None
        dist = distance_m(old.lat, old.lon, report.lat, report.lon)
        evidence["distance_m"] = round(dist, 1)
        speed = implied_speed_kn(dist, gap_ms)
        evidence["implied_speed_kn"] = None if speed == float("inf") else round(speed, 2)
    finding = Finding(
        rule=RULE,
        severity=opened.severity,  # type: ignore[arg-type]
        status="closed",
        mmsi=report.mmsi,
        event_ms=report.event_ms,
        opened_ms=opened.opened_ms,
        lat=report.lat if report.lat is not None else old.lat,
        lon=report.lon if report.lon is not None else old.lon,
        summary=f"{label(new)} is heard again after {gap_ms / 60000:.0f} min of silence.",
        evidence=evidence,
        thresholds={"applied_s": (opened.opened_ms - old.last_ms) // 1000},
    )
    return new.without_open(RULE), [finding]
