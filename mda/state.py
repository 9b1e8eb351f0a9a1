"""Per-vessel track state: immutable values kept in the changelog-backed track table."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from mda.alerts import VesselIdentity
from mda.model import slot_builder
from mda.serde import from_jsonable

Side = Literal["CA", "US"]

#: How many recent transmissions a track remembers for duplicate suppression.
RECENT_KEYS = 8


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert of this vessel that is open, so later reports can update or close it."""

    rule: str
    opened_ms: int
    severity: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class PortCall:
    """An AIS-observed port call: ≥ 2 h slow inside a port zone or facility radius."""

    place_id: str
    locode: str | None
    arrival_ms: int
    departure_ms: int | None = None


@dataclass(frozen=True, slots=True)
class PortStay:
    """A stay in progress: where, since when slow, and whether it already counts as a call."""

    place_id: str
    locode: str | None
    arrival_ms: int
    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class Jump:
    """One POSITION_JUMP, kept a while for IDENTITY_CONFLICT."""

    at_ms: int
    from_lat: float
    from_lon: float
    to_lat: float
    to_lon: float


@dataclass(frozen=True, slots=True)
class Crossing:
    """The vessel's last BORDER_CROSSING, for the escalations."""

    at_ms: int
    from_side: Side
    to_side: Side
    severity: str
    slowed_after: bool = False


@dataclass(frozen=True, slots=True)
class VesselTrack:
    """What we remember about one MMSI. Immutable: every change builds a new value."""

    mmsi: int
    last_ms: int
    reports: int = 0
    lat: float | None = None
    lon: float | None = None
    pos_ms: int | None = None
    pos_timed: bool = True
    sog_kn: float | None = None
    cog_deg: float | None = None
    nav_status: int | None = None
    ais_class: Literal["A", "B"] | None = None
    station: str | None = None
    #: The feed/file that last reported the vessel (its silence is judged on that source's
    #: event time).
    source: str | None = None
    name: str | None = None
    callsign: str | None = None
    imo: int | None = None
    ship_type: int | None = None
    static_ms: int | None = None
    trusted: bool = False
    side: Side | None = None
    side_ms: int | None = None
    in_monitored: bool = False
    zones: tuple[str, ...] = ()
    invalid_mmsi_ms: int | None = None
    recent: tuple[tuple[str, int], ...] = ()
    open_alerts: tuple[OpenAlert, ...] = ()
    gap_reported: bool = False
    slow_since_ms: int | None = None
    fast_since_ms: int | None = None
    loiter_update_ms: int | None = None
    speeding_zone: str | None = None
    speeding_count: int = 0
    speeding_since_ms: int | None = None
    jumps: tuple[Jump, ...] = ()
    crossing: Crossing | None = None
    port_stay: PortStay | None = None
    port_calls: tuple[PortCall, ...] = ()
    #: ISPS_LAST_PORT_MISMATCH: notices already evaluated to a mismatch (once per notice).
    isps_mismatch_notices: tuple[str, ...] = ()

    @property
    def has_static(self) -> bool:
        return self.static_ms is not None

    def identity(self, flag: str | None) -> VesselIdentity:
        return VesselIdentity(imo=self.imo, name=self.name, flag=flag)

    def open_alert(self, rule: str, key: str = "") -> OpenAlert | None:
        if not self.open_alerts:  # most tracks, asked by several rules per report
            return None
        return next((a for a in self.open_alerts if a.rule == rule and a.key == key), None)

    def evolve(self, **changes: Any) -> VesselTrack:
        """A copy with ``changes`` applied: ``dataclasses.replace`` for the hot path.

        Same result, ~3x cheaper (once per report, at least): ``replace`` collects every field
        into keyword arguments for a frozen dataclass's ``__init__``, which sets each of the
        ~40 through ``object.__setattr__``; here the values are copied in one C call and the
        copy is built by :func:`mda.model.slot_builder`. An unknown field name raises
        ``TypeError``, as ``replace`` does.
        """
        values = track_values(self)
        for name, value in changes.items():
            index = _TRACK_INDEX.get(name)
            if index is None:
                raise TypeError(f"VesselTrack has no field {name!r}")
            values[index] = value
        return _build_track(values)

    def with_open(self, alert: OpenAlert) -> VesselTrack:
        rest = tuple(a for a in self.open_alerts if (a.rule, a.key) != (alert.rule, alert.key))
        return self.evolve(open_alerts=(*rest, alert))

    def without_open(self, rule: str, key: str = "") -> VesselTrack:
        rest = tuple(a for a in self.open_alerts if (a.rule, a.key) != (rule, key))
        return self.evolve(open_alerts=rest)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VesselTrack:
        return from_jsonable(cls, d)


TRACK_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(VesselTrack))
#: Every field's value in one C call (a tuple in TRACK_FIELDS order).
_track_values = operator.attrgetter(*TRACK_FIELDS)
_TRACK_INDEX: dict[str, int] = {name: i for i, name in enumerate(TRACK_FIELDS)}
_build_track = slot_builder(VesselTrack, TRACK_FIELDS)
#: For a hot path that sets many fields at once (the track step's intake of a report):
#: ``values = track_values(track)``, then ``values[TRACK_INDEX[name]] = ...``, then
#: ``track_from_values(values)`` — :meth:`VesselTrack.evolve` without a keyword dict.
TRACK_INDEX: Mapping[str, int] = MappingProxyType(_TRACK_INDEX)
track_from_values: Callable[[list[Any]], VesselTrack] = _build_track


def track_values(track: VesselTrack) -> list[Any]:
    """Every field's value, in :data:`TRACK_FIELDS` order (see :data:`TRACK_INDEX`)."""
    return list(_track_values(track))
