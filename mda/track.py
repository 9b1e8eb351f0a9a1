"""Per-vessel track state and the per-report step that runs the per-vessel rules.

``step(track, report, ctx)`` is a pure function: (state, report, context) → (new state,
findings). Time is the report's event time; "now" for silence-based rules is the partition's
event-time watermark, passed in by the caller — never the wall clock.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from mda.alerts import Finding, VesselIdentity
from mda.model import Report
from mda.rules import border_crossing, invalid_mmsi, position_jump
from mda.rules.context import RuleContext

Side = Literal["CA", "US"]

#: How many recent transmissions a track remembers for duplicate suppression.
RECENT_KEYS = 8


@dataclass(frozen=True, slots=True)
class VesselTrack:
    """What we remember about one MMSI. Immutable: every change builds a new value."""

    mmsi: int
    last_ms: int
    reports: int = 0
    lat: float | None = None
    lon: float | None = None
    pos_ms: int | None = None
    sog_kn: float | None = None
    cog_deg: float | None = None
    ais_class: Literal["A", "B"] | None = None
    station: str | None = None
    name: str | None = None
    callsign: str | None = None
    imo: int | None = None
    ship_type: int | None = None
    static_ms: int | None = None
    side: Side | None = None
    side_ms: int | None = None
    invalid_mmsi_ms: int | None = None
    recent: tuple[tuple[str, int], ...] = ()

    @property
    def has_static(self) -> bool:
        return self.static_ms is not None

    def identity(self, flag: str | None) -> VesselIdentity:
        return VesselIdentity(imo=self.imo, name=self.name, flag=flag)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VesselTrack:
        d = dict(d)
        d["recent"] = tuple((str(k), int(t)) for k, t in d.get("recent", ()))
        return cls(**d)


@dataclass(frozen=True, slots=True)
class StepResult:
    track: VesselTrack | None
    findings: tuple[Finding, ...] = ()
    duplicate: bool = False
    late: bool = False


def _is_duplicate(track: VesselTrack | None, report: Report, window_ms: int) -> bool:
    if track is None or not report.dedup_key:
        return False
    return any(
        key == report.dedup_key and abs(report.event_ms - t) <= window_ms for key, t in track.recent
    )


def _absorb(track: VesselTrack | None, report: Report) -> VesselTrack:
    """The track after taking in the report's kinematic and static fields."""
    base = track or VesselTrack(mmsi=report.mmsi, last_ms=report.event_ms)
    changes: dict[str, Any] = {
        "last_ms": max(base.last_ms, report.event_ms),
        "reports": base.reports + 1,
        "station": report.station if report.station is not None else base.station,
    }
    if report.dedup_key:
        changes["recent"] = (*base.recent, (report.dedup_key, report.event_ms))[-RECENT_KEYS:]
    if report.ais_class is not None:
        changes["ais_class"] = report.ais_class
    if report.lat is not None and report.lon is not None:
        changes.update(
            lat=report.lat,
            lon=report.lon,
            pos_ms=report.event_ms,
            sog_kn=report.sog_kn,
            cog_deg=report.cog_deg,
        )
    static = {
        k: v
        for k, v in (
            ("name", report.name),
            ("callsign", report.callsign),
            ("imo", report.imo),
            ("ship_type", report.ship_type),
        )
        if v is not None
    }
    if static:
        changes.update(static, static_ms=report.event_ms)
    return dataclasses.replace(base, **changes)


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
    new = _absorb(track, report)
    findings: list[Finding] = []
    if report.lat is not None and report.lon is not None and in_order:
        new, found = position_jump.check(track, new, report, ctx)
        findings += found
        new, found = invalid_mmsi.check(track, new, report, ctx)
        findings += found
        new, found = border_crossing.check(track, new, report, ctx)
        findings += found
    return StepResult(new, tuple(findings))
