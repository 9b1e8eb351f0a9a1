"""The watch-floor board: every alert's current state plus the positions that explain it.

Pure: fed the records of two topics by the worker's web layer (``streams.watch``), read by the
watch-floor page.

- ``mda.alert-state`` (compacted, keyed by alert_id): the lifecycle's :class:`AlertState` as
  a dict, or a tombstone (None) when the alert was removed → :meth:`AlertBoard.apply_state`.
- ``mda.alerts`` (every rule message, keyed by MMSI, also the suppressed updates) →
  :meth:`AlertBoard.apply_message` adds the message's position and the positions in its
  evidence to the alert's *evidence track*: where the vessel was at each open/update/close
  and every position the rule quoted (last position before a gap, the other vessel of an
  encounter, …), in event-time order, bounded per alert.

A rule message may arrive before or after the state of its alert (two topics, two
partitions): tracks are kept for alerts without a state yet, and bounded in number.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shapely.geometry import mapping

from mda.alerts import SEVERITIES
from mda.geo import Geography
from mda.lifecycle import iso_to_ms

#: Points kept per alert (the first one and the newest ones).
MAX_TRACK_POINTS = 200
#: Evidence tracks kept for alerts whose state has not arrived (oldest dropped first).
MAX_ORPHAN_TRACKS = 10_000

ChangeKind = Literal["alert", "removed"]


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One position of an evidence track; ``label`` says where it comes from."""

    time_ms: int
    lat: float
    lon: float
    label: str
    mmsi: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_ms": self.time_ms,
            "lat": self.lat,
            "lon": self.lon,
            "label": self.label,
            "mmsi": self.mmsi,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """What a state record changed on the board (pushed to the page as one event)."""

    kind: ChangeKind
    alert_id: str
    entry: dict[str, Any] | None  # the row (see :func:`row`); None when removed


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _point_of(obj: Mapping[str, Any]) -> tuple[float, float] | None:
    lat, lon = _number(obj.get("lat")), _number(obj.get("lon"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _time_of(obj: Mapping[str, Any], default_ms: int) -> int:
    for key in ("time_ms", "at_ms", "pos_ms"):
        v = obj.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    for key in ("time", "at", "last_seen"):
        v = obj.get(key)
        if isinstance(v, str):
            try:
                return iso_to_ms(v)
            except ValueError:
                pass
    return default_ms


def evidence_points(
    evidence: Any, default_ms: int, prefix: str = "evidence"
) -> Iterator[TrackPoint]:
    """Every position quoted in an evidence object: any object with numeric ``lat`` and
    ``lon`` (its time from ``time_ms``/``at_ms``/``pos_ms`` or an ISO ``time``/``at``/
    ``last_seen``, else ``default_ms``), labelled by its path (``evidence.last_position``)."""
    if isinstance(evidence, Mapping):
        point = _point_of(evidence)
        if point is not None:
            mmsi = evidence.get("mmsi")
            yield TrackPoint(
                _time_of(evidence, default_ms),
                point[0],
                point[1],
                prefix,
                mmsi if isinstance(mmsi, int) and not isinstance(mmsi, bool) else None,
            )
        for key, value in evidence.items():
            if isinstance(value, Mapping | list):
                yield from evidence_points(value, default_ms, f"{prefix}.{key}")
    elif isinstance(evidence, list):
        for i, value in enumerate(evidence):
            if isinstance(value, Mapping | list):
                yield from evidence_points(value, default_ms, f"{prefix}[{i}]")


def message_points(message: Mapping[str, Any]) -> list[TrackPoint]:
    """The positions of one ``mda.alert/1`` message: its own (labelled by its status) and
    those of its evidence. Empty when the message has no usable time."""
    try:
        event_ms = iso_to_ms(str(message.get("event_time")))
    except ValueError:
        return []
    mmsi = message.get("mmsi") if isinstance(message.get("mmsi"), int) else None
    points: list[TrackPoint] = []
    own = _point_of(message)
    if own is not None:
        points.append(TrackPoint(event_ms, own[0], own[1], str(message.get("status")), mmsi))
    points.extend(evidence_points(message.get("evidence"), event_ms))
    return points


class _Track:
    """The points of one alert: sorted by (time, label), deduplicated, bounded."""

    __slots__ = ("keys", "points")

    def __init__(self) -> None:
        self.points: list[TrackPoint] = []
        self.keys: set[tuple[int, float, float, str]] = set()

    def add(self, point: TrackPoint) -> None:
        key = (point.time_ms, point.lat, point.lon, point.label)
        if key in self.keys:
            return
        self.keys.add(key)
        bisect.insort(self.points, point, key=lambda p: (p.time_ms, p.label))
        if len(self.points) > MAX_TRACK_POINTS:
            # Keep the first point (where it started) and the newest ones.
            dropped = self.points.pop(1)
            self.keys.discard((dropped.time_ms, dropped.lat, dropped.lon, dropped.label))


def _rank(severity: Any) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def row(state: Mapping[str, Any]) -> dict[str, Any]:
    """What the page's alert list shows of one alert state (the whole message included)."""
    message = state.get("message") or {}
    latest = state.get("latest") or message
    return {
        "alert_id": state.get("alert_id"),
        "status": state.get("status"),
        "rule": message.get("rule"),
        "severity": latest.get("severity", message.get("severity")),
        "mmsi": message.get("mmsi"),
        "other_mmsi": message.get("other_mmsi"),
        "vessel_name": latest.get("vessel_name"),
        "flag": latest.get("flag"),
        "zone_id": message.get("zone_id"),
        "jurisdiction": message.get("jurisdiction"),
        "releasability": message.get("releasability"),
        "summary": latest.get("summary"),
        "event_time": latest.get("event_time"),
        "lat": latest.get("lat"),
        "lon": latest.get("lon"),
        "opened_at": state.get("opened_at"),
        "closed_at": state.get("closed_at"),
        "closed_by": state.get("closed_by"),
        "acknowledged_by": state.get("acknowledged_by"),
        "acknowledged_at": state.get("acknowledged_at"),
        "assignee": state.get("assignee"),
        "notes": len(state.get("notes") or ()),
    }


def sort_key(r: Mapping[str, Any]) -> tuple[int, int, int, int, str]:
    """Open before closed, unacknowledged first, then by severity (highest first), newest
    first, then id (a total order: the list does not jump between refreshes)."""
    try:
        t = -iso_to_ms(str(r.get("event_time")))
    except ValueError:
        t = 0
    return (
        0 if r.get("status") == "open" else 1,
        0 if r.get("acknowledged_by") is None else 1,
        -_rank(r.get("severity")),
        t,
        str(r.get("alert_id")),
    )


class AlertBoard:
    """Alert states by id and their evidence tracks."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self._tracks: dict[str, _Track] = {}
        self._orphans: OrderedDict[str, None] = OrderedDict()
        self.ignored = 0  # records that were not an alert state / alert message
        # The header's counts, kept as states come and go (a count over every state per
        # change grew with the board: quadratic over a long watch).
        self._open = 0
        self._unacknowledged = 0

    def __len__(self) -> int:
        return len(self.states)

    def apply_state(self, alert_id: str, state: Mapping[str, Any] | None) -> Change | None:
        """One ``mda.alert-state`` record (None: tombstone). Returns what changed."""
        if state is None:
            self._tracks.pop(alert_id, None)
            self._orphans.pop(alert_id, None)
            old = self.states.pop(alert_id, None)
            if old is None:
                return None
            self._tally(old, -1)
            return Change("removed", alert_id, None)
        latest, notes = state.get("latest"), state.get("notes")
        if (
            not isinstance(state.get("message"), Mapping)
            or state.get("alert_id") != alert_id
            or not (latest is None or isinstance(latest, Mapping))
            or not (notes is None or isinstance(notes, list))
        ):
            # Not a state the lifecycle writes (another program on the topic): before, a
            # `latest` or `notes` of another type failed row() and with it the page's feed,
            # which read the topics again from the start and failed on it again.
            self.ignored += 1
            return None
        old = self.states.get(alert_id)
        if old is not None:
            self._tally(old, -1)
        self.states[alert_id] = dict(state)
        self._tally(state, 1)
        self._orphans.pop(alert_id, None)
        for message in (state["message"], state.get("latest")):
            if isinstance(message, Mapping):
                self._add_points(alert_id, message)
        return Change("alert", alert_id, row(state))

    def apply_message(self, message: Mapping[str, Any]) -> str | None:
        """One ``mda.alerts`` message: its positions join its alert's evidence track.
        Returns the alert id (None for control records and anything not an alert)."""
        alert_id = message.get("alert_id")
        if message.get("schema") != "mda.alert/1" or not isinstance(alert_id, str):
            self.ignored += 1
            return None
        self._add_points(alert_id, message)
        if alert_id not in self.states:
            self._orphans[alert_id] = None
            self._orphans.move_to_end(alert_id)
            while len(self._orphans) > MAX_ORPHAN_TRACKS:
                old, _ = self._orphans.popitem(last=False)
                self._tracks.pop(old, None)
        return alert_id

    def _add_points(self, alert_id: str, message: Mapping[str, Any]) -> None:
        points = message_points(message)
        if not points:
            return
        track = self._tracks.get(alert_id)
        if track is None:
            track = self._tracks[alert_id] = _Track()
        for p in points:
            track.add(p)

    def rows(self, include_closed: bool = True) -> list[dict[str, Any]]:
        """The alert list, in :func:`sort_key` order."""
        rows = [row(s) for s in self.states.values() if include_closed or s.get("status") == "open"]
        rows.sort(key=sort_key)
        return rows

    def detail(self, alert_id: str) -> dict[str, Any] | None:
        """Everything about one alert: its state (message, evidence, thresholds, notes,
        audit trail) and its evidence track. None when the board does not know it."""
        state = self.states.get(alert_id)
        if state is None:
            return None
        track = self._tracks.get(alert_id)
        return {
            "row": row(state),
            "state": state,
            "track": [p.to_dict() for p in track.points] if track else [],
        }

    def counts(self) -> dict[str, int]:
        """Open, unacknowledged-open and closed alerts (the page's header)."""
        return {
            "open": self._open,
            "unacknowledged": self._unacknowledged,
            "closed": len(self.states) - self._open,
        }

    def _tally(self, state: Mapping[str, Any], sign: int) -> None:
        if state.get("status") == "open":
            self._open += sign
            if state.get("acknowledged_by") is None:
                self._unacknowledged += sign


def overlays_geojson(geography: Geography) -> dict[str, Any]:
    """The zones and the Canada–US maritime boundary the rules use, as one GeoJSON
    FeatureCollection (``properties.layer``: ``zone`` or ``boundary``) for the page's map."""
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": z.zone_id,
            "properties": {
                "layer": "zone",
                "zone_id": z.zone_id,
                "name": z.name,
                "kind": z.kind,
                "jurisdiction": z.jurisdiction,
                "speed_limit_kn": z.speed_limit_kn,
                "facility_id": z.facility_id,
            },
            "geometry": mapping(z.geometry),
        }
        for z in geography.zones
    ]
    features.extend(
        {"type": "Feature", "properties": {"layer": "boundary"}, "geometry": mapping(line)}
        for line in geography.boundary_lines
    )
    return {"type": "FeatureCollection", "features": features}
