"""The alert model and the ``mda.alert/1`` wire message (DESIGN.md §8).

Rules return :class:`Finding` values; :func:`to_message` adds what every alert carries
(vessel identity, H3 cell, jurisdiction, releasability) and the stable id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mda.hexgrid import TRACK_RES, latlng_to_cell

SCHEMA = "mda.alert/1"

Severity = Literal["info", "low", "medium", "high", "critical"]
Status = Literal["open", "update", "closed"]

RULES = (
    "AIS_GAP",
    "POSITION_JUMP",
    "IDENTITY_CONFLICT",
    "INVALID_MMSI",
    "IDENTITY_CHANGE",
    "POSITION_ON_LAND",
    "LOITERING",
    "ENCOUNTER",
    "BORDER_CROSSING",
    "ZONE_ENTRY",
    "SPEEDING",
    "ISPS_NO_PREARRIVAL",
    "ISPS_ISSC_INVALID",
    "ISPS_SECURITY_LEVEL",
    "ISPS_PSA_PORT_CALL",
    "ISPS_LAST_PORT_MISMATCH",
)
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")

# A fixed namespace: ids are uuid5 of the identifying fields, so a replay gives the same ids.
_ID_NAMESPACE = uuid.UUID("6f1d7c52-4b8e-5a0e-9c53-0d1b2a6e9f10")


def alert_id(rule: str, mmsi: int, other_mmsi: int | None, opened_ms: int, key: str = "") -> str:
    """Stable id: same rule + vessel(s) + opening event (+ rule-specific key) → same id.

    The pair of an ENCOUNTER is ordered, so the id does not depend on which vessel is seen
    first.
    """
    a, b = (mmsi, other_mmsi) if other_mmsi is None or mmsi <= other_mmsi else (other_mmsi, mmsi)
    return str(uuid.uuid5(_ID_NAMESPACE, f"{rule}|{a}|{b}|{opened_ms}|{key}"))


@dataclass(frozen=True, slots=True)
class VesselIdentity:
    """What the alert says about the vessel: from its static reports and its MID."""

    imo: int | None = None
    name: str | None = None
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule found: one open, update or close of one alert."""

    rule: str
    severity: Severity
    status: Status
    mmsi: int
    event_ms: int
    opened_ms: int
    lat: float | None
    lon: float | None
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    other_mmsi: int | None = None
    zone_id: str | None = None
    facility_id: str | None = None
    key: str = ""
    #: The vessel's identity when the finding was made (set by the track step), so the
    #: message does not depend on what later reports of the same batch changed.
    identity: VesselIdentity | None = None

    @property
    def alert_id(self) -> str:
        return alert_id(self.rule, self.mmsi, self.other_mmsi, self.opened_ms, self.key)


def iso_utc(ms: int) -> str:
    """ISO-8601 UTC with millisecond precision and a ``Z`` suffix."""
    return (
        datetime.fromtimestamp(ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def to_message(
    finding: Finding,
    vessel: VesselIdentity,
    jurisdiction: str,
    releasability: list[str],
) -> dict[str, Any]:
    """The ``mda.alert/1`` JSON object of a finding (field order as in DESIGN.md §8)."""
    cell = (
        latlng_to_cell(finding.lat, finding.lon, TRACK_RES)
        if finding.lat is not None and finding.lon is not None
        else None
    )
    return {
        "schema": SCHEMA,
        "alert_id": finding.alert_id,
        "status": finding.status,
        "rule": finding.rule,
        "severity": finding.severity,
        "mmsi": finding.mmsi,
        "other_mmsi": finding.other_mmsi,
        "imo": vessel.imo,
        "vessel_name": vessel.name,
        "flag": vessel.flag,
        "event_time": iso_utc(finding.event_ms),
        "lat": finding.lat,
        "lon": finding.lon,
        "h3_cell": cell,
        "zone_id": finding.zone_id,
        "facility_id": finding.facility_id,
        "jurisdiction": jurisdiction,
        "releasability": releasability,
        "summary": finding.summary,
        "evidence": finding.evidence,
        "thresholds": finding.thresholds,
    }


#: JSON-schema-like description used by tests and consumers to validate messages.
MESSAGE_FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (str,),
    "alert_id": (str,),
    "status": (str,),
    "rule": (str,),
    "severity": (str,),
    "mmsi": (int,),
    "other_mmsi": (int, type(None)),
    "imo": (int, type(None)),
    "vessel_name": (str, type(None)),
    "flag": (str, type(None)),
    "event_time": (str,),
    "lat": (float, int, type(None)),
    "lon": (float, int, type(None)),
    "h3_cell": (str, type(None)),
    "zone_id": (str, type(None)),
    "facility_id": (str, type(None)),
    "jurisdiction": (str,),
    "releasability": (list,),
    "summary": (str,),
    "evidence": (dict,),
    "thresholds": (dict,),
}


def validate_message(msg: dict[str, Any]) -> list[str]:
    """Problems with an alert message (empty when it conforms to ``mda.alert/1``)."""
    problems = [f"missing {k}" for k in MESSAGE_FIELDS if k not in msg]
    problems += [f"unexpected {k}" for k in msg if k not in MESSAGE_FIELDS]
    for k, types in MESSAGE_FIELDS.items():
        if k in msg and not isinstance(msg[k], types):
            problems.append(f"{k} has type {type(msg[k]).__name__}")
    for k in ("mmsi", "other_mmsi", "imo", "lat", "lon"):
        if type(msg.get(k)) is bool:  # (a bool is an int to isinstance)
            problems.append(f"{k} has type bool")
    marks = msg.get("releasability")
    if isinstance(marks, list) and not all(type(m) is str for m in marks):
        problems.append("releasability is not a list of nation codes")
    if msg.get("schema") != SCHEMA:
        problems.append("schema is not mda.alert/1")
    if msg.get("status") not in ("open", "update", "closed"):
        problems.append("bad status")
    if msg.get("rule") not in RULES:
        problems.append("unknown rule")
    if msg.get("severity") not in SEVERITIES:
        problems.append("bad severity")
    if msg.get("jurisdiction") not in ("CA", "US", "BI", "INTL"):
        problems.append("bad jurisdiction")
    et = msg.get("event_time")
    if isinstance(et, str):
        try:
            parsed = datetime.fromisoformat(et.replace("Z", "+00:00"))
            if parsed.utcoffset() is None or parsed.utcoffset() != UTC.utcoffset(None):
                problems.append("event_time not UTC")
        except ValueError:
            problems.append("event_time not ISO-8601")
    mmsi = msg.get("mmsi")
    other = msg.get("other_mmsi")
    if msg.get("rule") == "ENCOUNTER":
        if not isinstance(other, int) or not isinstance(mmsi, int) or mmsi > other:
            problems.append("ENCOUNTER needs other_mmsi and mmsi the lower")
    elif other is not None:
        problems.append("other_mmsi must be null outside ENCOUNTER")
    return problems
