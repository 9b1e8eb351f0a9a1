"""IDENTITY_CHANGE — name, call sign, IMO or ship type changes between static reports.

Empty and '@' values are ignored (they are "not available", already None after decoding).
low; high when the IMO number changes (an IMO number belongs to a hull for life). The static
fields a report carries (:func:`incoming`) enter the track in ``mda.track.step``, in the same
construction as its kinematic fields.
"""

from __future__ import annotations

from typing import Any

from mda.alerts import Finding, Severity
from mda.model import Report
from mda.rules.common import label
from mda.state import VesselTrack

RULE = "IDENTITY_CHANGE"
FIELDS = ("name", "callsign", "imo", "ship_type")


def incoming(report: Report) -> dict[str, Any]:
    """The identity fields the report carries (not None); empty for most reports.

    Four attribute reads first: position reports carry none of them, and this runs per report.
    """
    if (
        report.name is None
        and report.callsign is None
        and report.imo is None
        and report.ship_type is None
    ):
        return {}
    return {f: getattr(report, f) for f in FIELDS if getattr(report, f) is not None}


def findings(
    old: VesselTrack | None, new: VesselTrack, report: Report, incoming: dict[str, Any]
) -> list[Finding]:
    """IDENTITY_CHANGE when an identity field in ``incoming`` differs from the old track's.

    ``new`` is the track after the report (its position locates the finding).
    """
    if old is None or not incoming:
        return []
    changes: dict[str, Any] = {}
    for name, value in incoming.items():
        before = getattr(old, name)
        if before is not None and before != value:
            changes[name] = {"from": before, "to": value}
    if not changes:
        return []
    severity: Severity = "high" if "imo" in changes else "low"
    what = ", ".join(f"{k} {v['from']!r} → {v['to']!r}" for k, v in changes.items())
    finding = Finding(
        rule=RULE,
        severity=severity,
        status="open",
        mmsi=report.mmsi,
        event_ms=report.event_ms,
        opened_ms=report.event_ms,
        lat=new.lat,
        lon=new.lon,
        summary=f"{label(old)} changed identity: {what}.",
        evidence={
            "changes": changes,
            "msg_type": report.msg_type,
            "previous_static_ms": old.static_ms,
        },
        thresholds={"fields": list(FIELDS)},
    )
    return [finding]
