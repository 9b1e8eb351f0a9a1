"""Per-vessel track state and the per-report step that runs the per-vessel rules.

``step(track, report, ctx)`` is a pure function: (state, report, context) → (new state,
findings). Time is the report's event time. Silence (AIS_GAP) is found by
:func:`check_silence`, called by the track stage when the partition's event-time watermark
passes a vessel's deadline — never by a wall-clock timer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mda.alerts import Finding
from mda.model import Report
from mda.rules import (
    ais_gap,
    border_crossing,
    identity_change,
    identity_conflict,
    invalid_mmsi,
    isps,
    loitering,
    port_calls,
    position_jump,
    position_on_land,
    speeding,
    zone_entry,
)
from mda.rules.context import RuleContext
from mda.state import RECENT_KEYS, TRACK_INDEX, VesselTrack, track_from_values, track_values


@dataclass(frozen=True, slots=True)
class StepResult:
    track: VesselTrack | None
    findings: tuple[Finding, ...] = ()
    duplicate: bool = False
    late: bool = False


def _is_duplicate(track: VesselTrack | None, report: Report, window_ms: int) -> bool:
    dedup_key = report.dedup_key
    if track is None or not dedup_key:
        return False
    # A loop, not any() over a generator: asked for every report, and a hit is rare.
    event_ms = report.event_ms
    for key, t in track.recent:  # noqa: SIM110
        if key == dedup_key and abs(event_ms - t) <= window_ms:
            return True
    return False


def _absorb(
    track: VesselTrack | None, report: Report, ctx: RuleContext, identity: dict[str, Any]
) -> VesselTrack:
    """The track after taking in the report's fields: kinematic ones, and the ``identity``
    fields it carries (:func:`identity_change.incoming`), in one construction.

    Field by field into the track's values (:func:`~mda.state.track_values`), not through a
    dict of changes and :meth:`~VesselTrack.evolve`: once per report, 2.5 µs against 5.3 µs.
    """
    base = track or VesselTrack(mmsi=report.mmsi, last_ms=report.event_ms)
    v = track_values(base)
    event_ms = report.event_ms
    v[_LAST_MS] = max(base.last_ms, event_ms)
    v[_REPORTS] = base.reports + 1
    # Input without a station counts as one station per file/feed (DESIGN.md §9).
    v[_STATION] = report.station or report.source
    v[_SOURCE] = report.source
    v[_GAP_REPORTED] = False
    if report.dedup_key:
        v[_RECENT] = (*base.recent, (report.dedup_key, event_ms))[-RECENT_KEYS:]
    if report.ais_class is not None:
        v[_AIS_CLASS] = report.ais_class
    if report.nav_status is not None:
        v[_NAV_STATUS] = report.nav_status
    lat, lon = report.lat, report.lon
    if lat is not None and lon is not None:
        v[_LAT] = lat
        v[_LON] = lon
        v[_POS_MS] = event_ms
        v[_POS_TIMED] = report.time_source != "ingest"
        v[_SOG_KN] = report.sog_kn
        v[_COG_DEG] = report.cog_deg
        v[_IN_MONITORED] = ctx.geography.in_monitored_area(lat, lon)
    if identity:
        for name, value in identity.items():
            v[TRACK_INDEX[name]] = value
        v[_STATIC_MS] = event_ms
    return track_from_values(v)


#: Where _absorb writes each field it sets (positions in the track's values).
_LAST_MS = TRACK_INDEX["last_ms"]
_REPORTS = TRACK_INDEX["reports"]
_STATION = TRACK_INDEX["station"]
_SOURCE = TRACK_INDEX["source"]
_GAP_REPORTED = TRACK_INDEX["gap_reported"]
_RECENT = TRACK_INDEX["recent"]
_AIS_CLASS = TRACK_INDEX["ais_class"]
_NAV_STATUS = TRACK_INDEX["nav_status"]
_LAT = TRACK_INDEX["lat"]
_LON = TRACK_INDEX["lon"]
_POS_MS = TRACK_INDEX["pos_ms"]
_POS_TIMED = TRACK_INDEX["pos_timed"]
_SOG_KN = TRACK_INDEX["sog_kn"]
_COG_DEG = TRACK_INDEX["cog_deg"]
_IN_MONITORED = TRACK_INDEX["in_monitored"]
_STATIC_MS = TRACK_INDEX["static_ms"]


#: Rules run on every in-order position report, in this order.
POSITION_RULES = (
    ais_gap.check_return,
    position_jump.check,
    identity_conflict.check,
    invalid_mmsi.check,
    isps.apply_register,  # the register's trusted flag, read by BORDER_CROSSING
    border_crossing.check,
    zone_entry.check,
    isps.check_no_prearrival,
    isps.check_issc,
    isps.check_security_level,
    isps.check_psa,
    speeding.check,
    loitering.check,
    position_on_land.check,
    port_calls.check,
    isps.check_last_port,  # after port_calls: a call completes there
)


def step(track: VesselTrack | None, report: Report, ctx: RuleContext) -> StepResult:
    """Take one report into a vessel's track and run the per-vessel rules on it.

    Duplicates (the same transmission heard by another station) change nothing. A report
    older than the track's last report by more than the allowed lateness is refused as late;
    a smaller reordering updates identity fields but does not drive the kinematic rules.
    """
    th = ctx.thresholds
    if _is_duplicate(track, report, th.duplicate_window_s * 1000):
        return StepResult(track, duplicate=True)
    if track is not None and report.event_ms < track.last_ms - th.allowed_lateness_s * 1000:
        return StepResult(track, late=True)

    in_order = track is None or track.pos_ms is None or report.event_ms >= track.pos_ms
    identity = identity_change.incoming(report)
    new = _absorb(track, report, ctx, identity)
    findings = identity_change.findings(track, new, report, identity)
    if report.lat is not None and report.lon is not None and in_order:
        for rule in POSITION_RULES:
            new, found = rule(track, new, report, ctx)
            findings += found
    return StepResult(new, with_identity(findings, new, ctx))


def with_identity(
    findings: list[Finding], track: VesselTrack, ctx: RuleContext
) -> tuple[Finding, ...]:
    """The findings stamped with the vessel's identity as it is now (name, IMO, flag)."""
    if not findings:
        return ()
    identity = track.identity(ctx.mids.flag_of(track.mmsi))
    return tuple(dataclasses.replace(f, identity=identity) for f in findings)


def silence_deadline_ms(track: VesselTrack, ctx: RuleContext) -> int | None:
    """Event time at which this vessel's silence becomes an AIS_GAP (None: not watched)."""
    return ais_gap.deadline_ms(track, ctx)


def check_silence(
    track: VesselTrack, watermark_ms: int, station_heard_ms: int | None, ctx: RuleContext
) -> ais_gap.SilenceResult:
    """AIS_GAP (and the crossing-then-dark escalation) once the watermark passes the deadline.

    ``station_heard_ms`` is when any vessel was last heard through the station that last
    heard this one: a silent receiver is not a dark vessel.
    """
    result = ais_gap.check_silence(track, watermark_ms, station_heard_ms, ctx)
    stamped = list(with_identity(result.findings, result.track, ctx))
    return dataclasses.replace(result, findings=stamped)
