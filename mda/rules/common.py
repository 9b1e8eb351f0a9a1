"""Helpers shared by the rules: building findings and opening/closing a vessel's alerts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mda.alerts import Finding, Severity, Status
from mda.model import Report
from mda.state import OpenAlert, VesselTrack


def position_of(lat: float | None, lon: float | None, at_ms: int | None) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "time_ms": at_ms}


def finding_at(
    rule: str,
    severity: Severity,
    status: Status,
    report: Report,
    opened_ms: int,
    summary: str,
    evidence: dict[str, Any],
    thresholds: dict[str, Any],
    *,
    zone_id: str | None = None,
    facility_id: str | None = None,
    key: str = "",
) -> Finding:
    """A finding located at the report's position and time."""
    return Finding(
        rule=rule,
        severity=severity,
        status=status,
        mmsi=report.mmsi,
        event_ms=report.event_ms,
        opened_ms=opened_ms,
        lat=report.lat,
        lon=report.lon,
        summary=summary,
        evidence=evidence,
        thresholds=thresholds,
        zone_id=zone_id,
        facility_id=facility_id,
        key=key,
    )


def label(track: VesselTrack) -> str:
    """How a summary names a vessel: its name when known, else its MMSI."""
    return track.name or f"MMSI {track.mmsi}"


def close_left(
    rule: str,
    new: VesselTrack,
    report: Report,
    left: Sequence[OpenAlert],
    summary: Callable[[OpenAlert], str],
) -> tuple[VesselTrack, list[Finding]]:
    """Close the alerts of zones the vessel has left (``left``, keyed by zone id): one
    ``closed`` finding each, at this report, with how long the vessel was inside."""
    findings = []
    for opened in left:
        findings.append(
            finding_at(
                rule,
                opened.severity,  # type: ignore[arg-type]
                "closed",
                report,
                opened.opened_ms,
                summary(opened),
                {"inside_s": (report.event_ms - opened.opened_ms) / 1000},
                {},
                zone_id=opened.key,
                key=opened.key,
            )
        )
        new = new.without_open(rule, opened.key)
    return new, findings
