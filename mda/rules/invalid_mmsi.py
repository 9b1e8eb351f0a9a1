"""INVALID_MMSI — a vessel in the monitored area whose MMSI is not a real ship identity (low).

Not a 9-digit ship MMSI with an allocated MID, or a placeholder (000000000, 123456789 …).
Raised once per MMSI per 24 h of event time so a vessel that keeps transmitting it is one
alert a day, not one per report. Legitimate non-ship identities (AtoN, SAR aircraft, coast
stations, SART/MOB/EPIRB, craft associated with a parent ship) are not flagged.
"""

from __future__ import annotations

from mda.alerts import Finding
from mda.model import Report
from mda.rules.common import finding_at
from mda.rules.context import RuleContext
from mda.state import VesselTrack

RULE = "INVALID_MMSI"


def check(
    old: VesselTrack | None, new: VesselTrack, report: Report, ctx: RuleContext
) -> tuple[VesselTrack, list[Finding]]:
    th = ctx.thresholds
    if report.lat is None or report.lon is None:
        return new, []
    mmsi_class = ctx.mids.classify_mmsi(report.mmsi)
    if not mmsi_class.is_invalid:
        return new, []
    last = new.invalid_mmsi_ms
    if last is not None and report.event_ms - last < th.invalid_mmsi_repeat_s * 1000:
        return new, []
    if not ctx.geography.in_monitored_area(report.lat, report.lon):
        return new, []
    finding = finding_at(
        RULE,
        "low",
        "open",
        report,
        report.event_ms,
        (
            f"MMSI {report.mmsi:09d} is not a valid ship identity "
            f"({mmsi_class.value.replace('_', ' ')}) and is transmitting in the monitored area."
        ),
        {
            "mmsi_class": mmsi_class.value,
            "mmsi_text": f"{report.mmsi:09d}" if report.mmsi < 10**9 else str(report.mmsi),
            "msg_type": report.msg_type,
            "position": {"lat": report.lat, "lon": report.lon, "time_ms": report.event_ms},
            "vessel_name": new.name,
        },
        {"repeat_s": th.invalid_mmsi_repeat_s},
    )
    return new.evolve(invalid_mmsi_ms=report.event_ms), [finding]
