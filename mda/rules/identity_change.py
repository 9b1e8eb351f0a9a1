"""IDENTITY_CHANGE — name, call sign, IMO or ship type changes between static reports.

Empty and '@' values are ignored (they are "not available", already None after decoding).
low; high when the IMO number changes (an IMO number belongs to a hull for life). Also where
static fields enter the track.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mda.alerts import Finding, Severity
from mda.model import Report
from mda.rules.common import label
from mda.rules.context import RuleContext
from mda.state import VesselTrack

RULE = "IDENTITY_CHANGE"
FIELDS = ("name", "callsign", "imo", "ship_type")


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    incoming = {f: getattr(report, f) for f in FIELDS if getattr(report, f) is not None}
    if not incoming:
        return new, []
    changes: dict[str, Any] = {}
    if old is not None:
        for name, value in incoming.items():
            before = getattr(old, name)
            if before is not None and before != value:
                changes[name] = {"from": before, "to": value}
    updated = dataclasses.replace(new, **incoming, static_ms=report.event_ms)
    if not changes:
        return updated, []
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
        summary=f"{label(old) if old else report.mmsi} changed identity: {what}.",
        evidence={
            "changes": changes,
            "msg_type": report.msg_type,
            "previous_static_ms": old.static_ms if old else None,
        },
        thresholds={"fields": list(FIELDS)},
    )
    return updated, [finding]
