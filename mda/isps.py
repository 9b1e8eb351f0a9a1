"""ISPS reference data (DESIGN.md §7): port facilities, the vessel security register, arrival
notices (US NOA / Canadian PAIR) and the Port Security Advisory.

Pure: files or wire records in, immutable :class:`ReferenceData` out. Validation is strict and
all-or-nothing: every problem of every file is collected with its file name and line number,
and a single bad row rejects the whole set (:class:`mda.errors.ReferenceFileError`), so a
half-loaded register can never make a vessel look "absent, hence unknown".

Facility radii become zones. :meth:`ReferenceData.facility_zones` turns each facility into a
circular ``port`` zone carrying its ``facility_id`` (zone id ``facility-<facility_id>``), which
the track then learns like any other zone: the rules that already treat port zones and
``facility_id`` zones as exempt places or port-call places (LOITERING, port calls, ENCOUNTER)
see facility radii for free, and the alert jurisdiction inside a radius is the facility's
country. Changing a facility's position or radius rebuilds the geography; a MARSEC change
does not (the level is read from the reference data).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import shapely
from shapely import affinity
from shapely.geometry import Point

from mda.errors import ReferenceDataError, ReferenceFileError
from mda.geo import Geography, Zone, load_zones, merge_zones

__all__ = [
    "ADVISORY_COLUMNS",
    "FACILITY_COLUMNS",
    "FACILITY_ZONE_SOURCE",
    "NOTICE_COLUMNS",
    "VESSEL_COLUMNS",
    "Advisory",
    "ArrivalNotice",
    "Facility",
    "RecordKind",
    "ReferenceData",
    "VesselRecord",
    "bearing_deg",
    "facility_zone_id",
    "geography_with",
    "load_reference_dir",
    "record_from_json",
    "record_key",
    "record_to_json",
]

IsscStatus = Literal["valid", "expired", "suspended", "none"]
Regime = Literal["NOA", "PAIR"]
RecordKind = Literal["facility", "vessel", "notice", "advisory"]

FACILITY_COLUMNS = (
    "facility_id",
    "name",
    "locode",
    "country",
    "lat",
    "lon",
    "radius_m",
    "marsec_level",
    "isps_compliant",
)
VESSEL_COLUMNS = ("mmsi", "imo", "name", "flag", "issc_status", "issc_expires", "trusted")
#: ``trusted`` is the one optional column of DESIGN.md §7.
VESSEL_OPTIONAL = frozenset({"trusted"})
NOTICE_COLUMNS = (
    "notice_id",
    "regime",
    "mmsi",
    "imo",
    "destination",
    "eta",
    "submitted_at",
    "last_ports",
)
ADVISORY_COLUMNS = ("country", "advisory_id", "effective", "exceptions")

FILES: dict[RecordKind, str] = {
    "facility": "port_facilities.csv",
    "vessel": "vessels.csv",
    "notice": "arrival_notices.csv",
    "advisory": "port_security_advisory.csv",
}
#: ``Zone.source`` of the circles made from facilities (to tell them from file zones).
FACILITY_ZONE_SOURCE = "reference:port_facilities"

# UN/LOCODE: ISO 3166 alpha-2 + three letters or digits 2-9 (the code list's own alphabet).
_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
_FACILITY_ID = re.compile(r"^([A-Z]{2}[A-Z2-9]{3})-(\d{4})$")
_ISO2 = re.compile(r"^[A-Z]{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]00:?00)$")
_ISSC: tuple[IsscStatus, ...] = ("valid", "expired", "suspended", "none")
_REGIMES: tuple[Regime, ...] = ("NOA", "PAIR")


@dataclass(frozen=True, slots=True)
class Facility:
    """An ISPS port facility: where it is, how far its radius reaches, its MARSEC level."""

    facility_id: str
    name: str
    locode: str
    country: str
    lat: float
    lon: float
    radius_m: float
    marsec_level: int
    isps_compliant: bool


@dataclass(frozen=True, slots=True)
class VesselRecord:
    """One vessel of the security register (ISSC status; trusted-programme enrolment)."""

    mmsi: int | None
    imo: int | None
    name: str
    flag: str
    issc_status: IsscStatus
    issc_expires: date | None
    trusted: bool = False

    def issc_invalid_on(self, day: date) -> str | None:
        """Why the ISSC is not valid on ``day`` (None: valid). Expiring *on* the day is valid."""
        if self.issc_status != "valid":
            return f"ISSC {self.issc_status}"
        if self.issc_expires is not None and self.issc_expires < day:
            return f"ISSC expired {self.issc_expires.isoformat()}"
        return None


@dataclass(frozen=True, slots=True)
class ArrivalNotice:
    """A US Notice of Arrival (33 CFR 160) or a Canadian PAIR (MTSR s. 221)."""

    notice_id: str
    regime: Regime
    mmsi: int | None
    imo: int | None
    destination: str
    eta_ms: int
    submitted_at_ms: int
    #: Declared last ports, most recent first: UN/LOCODEs or facility ids.
    last_ports: tuple[str, ...] = ()

    @property
    def lead_s(self) -> float:
        """How long before its ETA the notice was submitted."""
        return (self.eta_ms - self.submitted_at_ms) / 1000

    @property
    def destination_locode(self) -> str:
        return self.destination[:5]


@dataclass(frozen=True, slots=True)
class Advisory:
    """A Port Security Advisory (46 U.S.C. 70110) about one country, with facility exceptions."""

    country: str
    advisory_id: str
    effective: date
    exceptions: tuple[str, ...] = ()


Record = Facility | VesselRecord | ArrivalNotice | Advisory


def locode_of(place: str) -> str:
    """The UN/LOCODE of a LOCODE or a facility id (its first five characters)."""
    return place[:5]


def facility_zone_id(facility_id: str) -> str:
    return f"facility-{facility_id}"


def vessel_key(v: VesselRecord) -> str:
    """Topic key of a register entry: the MMSI, else ``IMO<imo>``."""
    return str(v.mmsi) if v.mmsi is not None else f"IMO{v.imo}"


def record_key(record: Record) -> str:
    """The compacted-topic key of a record (facility id, MMSI/IMO, notice id, country)."""
    if isinstance(record, Facility):
        return record.facility_id
    if isinstance(record, VesselRecord):
        return vessel_key(record)
    if isinstance(record, ArrivalNotice):
        return record.notice_id
    return record.country


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north.

    A local equirectangular frame: the rules compare bearings with a 90° tolerance over
    approach-zone distances (tens of km), where this is within a fraction of a degree.
    """
    dx = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    dy = math.radians(lat2 - lat1)
    return math.degrees(math.atan2(dx, dy)) % 360.0


def angle_between_deg(a: float, b: float) -> float:
    """Smallest angle between two bearings (0-180)."""
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


# ----------------------------------------------------------------------------- validation


class _RowError(Exception):
    """One field of one row is invalid (collected, never raised out of this module)."""


def _req(row: Mapping[str, str], col: str) -> str:
    value = row[col]
    if value == "":
        raise _RowError(f"{col} is empty")
    return value


def _iso2(row: Mapping[str, str], col: str) -> str:
    value = _req(row, col)
    if not _ISO2.match(value):
        raise _RowError(f"{col} {value!r} is not an ISO 3166 alpha-2 code")
    return value


def _locode(value: str, col: str) -> str:
    if not _LOCODE.match(value):
        raise _RowError(f"{col} {value!r} is not a UN/LOCODE (5 characters, no space)")
    return value


def _facility_id(value: str, col: str) -> str:
    if not _FACILITY_ID.match(value):
        raise _RowError(f"{col} {value!r} is not a facility id (UN/LOCODE-NNNN, e.g. CAMTR-0001)")
    return value


def _place(value: str, col: str) -> str:
    if _LOCODE.match(value) or _FACILITY_ID.match(value):
        return value
    raise _RowError(f"{col} entry {value!r} is neither a UN/LOCODE nor a facility id")


def _float(row: Mapping[str, str], col: str, low: float, high: float) -> float:
    text = _req(row, col)
    try:
        value = float(text)
    except ValueError:
        raise _RowError(f"{col} {text!r} is not a number") from None
    if math.isnan(value) or not low <= value <= high:
        raise _RowError(f"{col} {text!r} is outside [{low:g}, {high:g}]")
    return value


def _bool(row: Mapping[str, str], col: str) -> bool:
    value = _req(row, col)
    if value not in ("true", "false"):
        raise _RowError(f"{col} {value!r} is not true or false")
    return value == "true"


def _date(text: str, col: str) -> date:
    try:
        if not _DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _RowError(f"{col} {text!r} is not a date YYYY-MM-DD") from None


def _utc_ms(row: Mapping[str, str], col: str) -> int:
    text = _req(row, col)
    try:
        if not _DATETIME.match(text):
            raise ValueError
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _RowError(
            f"{col} {text!r} is not an ISO-8601 UTC time (e.g. 2026-06-01T12:00:00Z)"
        ) from None
    return int(parsed.astimezone(UTC).timestamp() * 1000)


def _mmsi(text: str, col: str) -> int:
    if not (len(text) == 9 and text.isdigit()):
        raise _RowError(f"{col} {text!r} is not a 9-digit MMSI")
    return int(text)


def _imo(text: str, col: str) -> int:
    if not (len(text) == 7 and text.isdigit()):
        raise _RowError(f"{col} {text!r} is not a 7-digit IMO number")
    digits = [int(c) for c in text]
    if sum(d * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10 != digits[6]:
        raise _RowError(f"{col} {text!r} fails the IMO check digit")
    return int(text)


def _ids(row: Mapping[str, str]) -> tuple[int | None, int | None]:
    mmsi = _mmsi(row["mmsi"], "mmsi") if row["mmsi"] else None
    imo = _imo(row["imo"], "imo") if row["imo"] else None
    if mmsi is None and imo is None:
        raise _RowError("mmsi and imo are both empty")
    return mmsi, imo


def _list(text: str, col: str, item: Callable[[str, str], str]) -> tuple[str, ...]:
    if text == "":
        return ()
    parts = [p.strip() for p in text.split(";")]
    return tuple(item(p, col) for p in parts)


def facility_from_row(row: Mapping[str, str]) -> Facility:
    fid = _facility_id(_req(row, "facility_id"), "facility_id")
    locode = _locode(_req(row, "locode"), "locode")
    country = _iso2(row, "country")
    if fid[:5] != locode:
        raise _RowError(f"facility_id {fid!r} does not start with its locode {locode!r}")
    if locode[:2] != country:
        raise _RowError(f"locode {locode!r} is not in country {country!r}")
    radius = _float(row, "radius_m", 0.0, 100_000.0)
    if radius <= 0:
        raise _RowError(f"radius_m {row['radius_m']!r} must be > 0")
    level = _req(row, "marsec_level")
    if level not in ("1", "2", "3"):
        raise _RowError(f"marsec_level {level!r} is not 1, 2 or 3")
    return Facility(
        facility_id=fid,
        name=_req(row, "name"),
        locode=locode,
        country=country,
        lat=_float(row, "lat", -90.0, 90.0),
        lon=_float(row, "lon", -180.0, 180.0),
        radius_m=radius,
        marsec_level=int(level),
        isps_compliant=_bool(row, "isps_compliant"),
    )


def vessel_from_row(row: Mapping[str, str]) -> VesselRecord:
    mmsi, imo = _ids(row)
    status = _req(row, "issc_status")
    if status not in _ISSC:
        raise _RowError(f"issc_status {status!r} is not one of {', '.join(_ISSC)}")
    expires = _date(row["issc_expires"], "issc_expires") if row["issc_expires"] else None
    trusted = _bool(row, "trusted") if row.get("trusted", "") != "" else False
    return VesselRecord(
        mmsi=mmsi,
        imo=imo,
        name=row["name"],
        flag=_iso2(row, "flag"),
        issc_status=status,
        issc_expires=expires,
        trusted=trusted,
    )


def notice_from_row(row: Mapping[str, str]) -> ArrivalNotice:
    regime = _req(row, "regime")
    if regime not in _REGIMES:
        raise _RowError(f"regime {regime!r} is not NOA or PAIR")
    mmsi, imo = _ids(row)
    return ArrivalNotice(
        notice_id=_req(row, "notice_id"),
        regime=regime,
        mmsi=mmsi,
        imo=imo,
        destination=_place(_req(row, "destination"), "destination"),
        eta_ms=_utc_ms(row, "eta"),
        submitted_at_ms=_utc_ms(row, "submitted_at"),
        last_ports=_list(row["last_ports"], "last_ports", _place),
    )


def advisory_from_row(row: Mapping[str, str]) -> Advisory:
    return Advisory(
        country=_iso2(row, "country"),
        advisory_id=_req(row, "advisory_id"),
        effective=_date(_req(row, "effective"), "effective"),
        exceptions=_list(row["exceptions"], "exceptions", _facility_id),
    )


_PARSERS: dict[RecordKind, tuple[tuple[str, ...], Callable[[Mapping[str, str]], Any]]] = {
    "facility": (FACILITY_COLUMNS, facility_from_row),
    "vessel": (VESSEL_COLUMNS, vessel_from_row),
    "notice": (NOTICE_COLUMNS, notice_from_row),
    "advisory": (ADVISORY_COLUMNS, advisory_from_row),
}


def _header_problems(kind: RecordKind, header: list[str]) -> list[str]:
    columns = _PARSERS[kind][0]
    optional = VESSEL_OPTIONAL if kind == "vessel" else frozenset()
    problems = []
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        problems.append(f"repeated column(s): {', '.join(dupes)}")
    missing = [c for c in columns if c not in header and c not in optional]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    extra = [c for c in header if c not in columns]
    if extra:
        problems.append(f"unexpected column(s): {', '.join(extra)}")
    if problems:
        problems.append(f"expected header: {','.join(columns)}")
    return problems


T = TypeVar("T")


def _keys_of(kind: RecordKind, record: Any) -> list[tuple[str, str]]:
    """(key name, value) pairs that must be unique within a file."""
    if kind == "vessel":
        out = []
        if record.mmsi is not None:
            out.append(("mmsi", str(record.mmsi)))
        if record.imo is not None:
            out.append(("imo", str(record.imo)))
        return out
    if kind == "facility":
        return [("facility_id", record.facility_id)]
    if kind == "notice":
        return [("notice_id", record.notice_id)]
    return [("country", record.country), ("advisory_id", record.advisory_id)]


def parse_csv(kind: RecordKind, text: str, origin: str) -> tuple[list[Any], list[str]]:
    """Records of one CSV and every problem found, each as ``origin line N: what``."""
    columns, parse = _PARSERS[kind]
    reader = csv.reader(text.splitlines())
    problems: list[str] = []
    records: list[Any] = []
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [f"{origin}: empty file (expected header: {','.join(columns)})"]
    problems += [f"{origin} line 1: {p}" for p in _header_problems(kind, header)]
    if problems:
        return [], problems
    seen: dict[tuple[str, str], int] = {}
    for fields in reader:
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            problems.append(
                f"{origin} line {line}: {len(fields)} fields, the header has {len(header)}"
            )
            continue
        row = {h: f.strip() for h, f in zip(header, fields, strict=True)}
        try:
            record = parse(row)
        except _RowError as exc:
            problems.append(f"{origin} line {line}: {exc}")
            continue
        for key in _keys_of(kind, record):
            if key in seen:
                problems.append(
                    f"{origin} line {line}: duplicate {key[0]} {key[1]!r} (first on line "
                    f"{seen[key]})"
                )
            else:
                seen[key] = line
        records.append(record)
    return records, problems


def load_reference_dir(path: Path) -> ReferenceData:
    """Read and validate the reference CSVs of DESIGN.md §7 (+ ``zones.geojson``) in ``path``.

    Every file is optional. Raises :class:`ReferenceFileError` listing every problem of every
    file (file name and line number each); nothing is loaded when there is any.
    """
    if not path.is_dir():
        raise ReferenceFileError([f"{path}: not a directory"])
    problems: list[str] = []
    found: dict[RecordKind, list[Any]] = {}
    for kind, name in FILES.items():
        file = path / name
        if not file.exists():
            continue
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: unreadable: {exc}")
            continue
        found[kind], errs = parse_csv(kind, text, name)
        problems += errs
    zones: list[Zone] = []
    zones_file = path / "zones.geojson"
    if zones_file.exists():
        try:
            zones = load_zones(zones_file)
        except ReferenceDataError as exc:
            problems.append(f"zones.geojson: {exc.detail}")
    if problems:
        raise ReferenceFileError(problems)
    return ReferenceData.build(
        facilities=found.get("facility", []),
        vessels=found.get("vessel", []),
        notices=found.get("notice", []),
        advisories=found.get("advisory", []),
        zones=zones,
    )


# ----------------------------------------------------------------------------- wire form


def record_to_json(record: Record) -> dict[str, Any]:
    """The JSON object published on an ``isps.*`` topic (typed values, DESIGN.md §7 names)."""
    if isinstance(record, Facility):
        return dataclasses.asdict(record)
    if isinstance(record, VesselRecord):
        d = dataclasses.asdict(record)
        d["issc_expires"] = record.issc_expires.isoformat() if record.issc_expires else None
        return d
    if isinstance(record, ArrivalNotice):
        return {
            "notice_id": record.notice_id,
            "regime": record.regime,
            "mmsi": record.mmsi,
            "imo": record.imo,
            "destination": record.destination,
            "eta": _iso(record.eta_ms),
            "submitted_at": _iso(record.submitted_at_ms),
            "last_ports": list(record.last_ports),
        }
    return {
        "country": record.country,
        "advisory_id": record.advisory_id,
        "effective": record.effective.isoformat(),
        "exceptions": list(record.exceptions),
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def record_from_json(kind: RecordKind, obj: Any) -> Record:
    """Validate a wire record with the same rules as the CSV rows (raises ReferenceFileError).

    A kind that is not one of ours (a control record from another program) is refused the
    same way: before, its KeyError crashed the track agent."""
    if kind not in _PARSERS:
        raise ReferenceFileError([f"no record kind {str(kind)[:40]!r} (one of {sorted(_PARSERS)})"])
    columns, parse = _PARSERS[kind]
    if not isinstance(obj, dict):
        raise ReferenceFileError([f"{kind} record: not a JSON object"])
    optional = VESSEL_OPTIONAL if kind == "vessel" else frozenset()
    problems = _header_problems(kind, list(obj))
    if problems:
        raise ReferenceFileError([f"{kind} record: {p}" for p in problems])
    row = {c: _cell(obj.get(c)) for c in columns if c in obj or c not in optional}
    try:
        result: Record = parse(row)
    except _RowError as exc:
        raise ReferenceFileError([f"{kind} record: {exc}"]) from None
    return result


# ----------------------------------------------------------------------------- the set


def _index(items: Iterable[tuple[int | None, str]]) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    for key, value in items:
        if key is not None:
            out.setdefault(key, []).append(value)
    return {k: tuple(v) for k, v in out.items()}


@dataclass(frozen=True)
class ReferenceData:
    """The reference set the ISPS rules consult (immutable; updates build a new one)."""

    facilities: Mapping[str, Facility] = field(default_factory=dict)
    #: Register by topic key (MMSI, else ``IMO<imo>``).
    vessels: Mapping[str, VesselRecord] = field(default_factory=dict)
    notices: Mapping[str, ArrivalNotice] = field(default_factory=dict)
    advisories: Mapping[str, Advisory] = field(default_factory=dict)
    #: Zones of the reference directory's ``zones.geojson``.
    zones: tuple[Zone, ...] = ()
    vessels_by_mmsi: Mapping[int, VesselRecord] = field(init=False, repr=False)
    vessels_by_imo: Mapping[int, VesselRecord] = field(init=False, repr=False)
    notices_by_mmsi: Mapping[int, tuple[str, ...]] = field(init=False, repr=False)
    notices_by_imo: Mapping[int, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_mmsi = {v.mmsi: v for v in self.vessels.values() if v.mmsi is not None}
        by_imo = {v.imo: v for v in self.vessels.values() if v.imo is not None}
        object.__setattr__(self, "vessels_by_mmsi", by_mmsi)
        object.__setattr__(self, "vessels_by_imo", by_imo)
        ordered = sorted(self.notices.values(), key=lambda n: n.notice_id)
        object.__setattr__(self, "notices_by_mmsi", _index((n.mmsi, n.notice_id) for n in ordered))
        object.__setattr__(self, "notices_by_imo", _index((n.imo, n.notice_id) for n in ordered))

    @classmethod
    def build(
        cls,
        facilities: Iterable[Facility] = (),
        vessels: Iterable[VesselRecord] = (),
        notices: Iterable[ArrivalNotice] = (),
        advisories: Iterable[Advisory] = (),
        zones: Iterable[Zone] = (),
    ) -> ReferenceData:
        return cls(
            facilities={f.facility_id: f for f in facilities},
            vessels={vessel_key(v): v for v in vessels},
            notices={n.notice_id: n for n in notices},
            advisories={a.country: a for a in advisories},
            zones=tuple(zones),
        )

    def with_record(self, kind: RecordKind, key: str, record: Record | None) -> ReferenceData:
        """A copy with one record upserted (``None``: deleted, a compacted-topic tombstone)."""
        name = {
            "facility": "facilities",
            "vessel": "vessels",
            "notice": "notices",
            "advisory": "advisories",
        }[kind]
        current: dict[str, Any] = dict(getattr(self, name))
        if record is None:
            current.pop(key, None)
        else:
            current[key] = record
        return dataclasses.replace(self, **{name: current})  # type: ignore[arg-type]

    def facility(self, facility_id: str | None) -> Facility | None:
        return self.facilities.get(facility_id) if facility_id else None

    def vessel(self, mmsi: int, imo: int | None) -> VesselRecord | None:
        """The register entry of a vessel by MMSI, else by IMO (None: absent, i.e. unknown)."""
        found = self.vessels_by_mmsi.get(mmsi)
        if found is None and imo:
            found = self.vessels_by_imo.get(imo)
        return found

    def notices_for(self, mmsi: int, imo: int | None) -> list[ArrivalNotice]:
        """Every notice naming the vessel's MMSI or IMO, by notice id."""
        by_mmsi = self.notices_by_mmsi.get(mmsi)
        by_imo = self.notices_by_imo.get(imo) if imo else None
        if not by_mmsi and not by_imo:
            return []  # most vessels: asked on every report, answered without allocating
        ids = set(by_mmsi or ())
        if by_imo:
            ids |= set(by_imo)
        return [self.notices[i] for i in sorted(ids)]

    def current_notice(
        self, mmsi: int, imo: int | None, now_ms: int, past_s: int
    ) -> ArrivalNotice | None:
        """DESIGN.md §9: the notice with the latest submitted_at whose eta is no earlier than
        ``past_s`` before now (ties: the larger notice id)."""
        live = [n for n in self.notices_for(mmsi, imo) if n.eta_ms >= now_ms - past_s * 1000]
        return max(live, key=lambda n: (n.submitted_at_ms, n.notice_id), default=None)

    def advisory(self, country: str) -> Advisory | None:
        return self.advisories.get(country)

    def facility_zones(self) -> list[Zone]:
        """Each facility's radius as a ``port`` zone carrying its facility_id."""
        return [facility_zone(f) for f in sorted(self.facilities.values(), key=_fid)]


def _fid(f: Facility) -> str:
    return f.facility_id


def facility_zone(f: Facility) -> Zone:
    """The facility's radius as a polygon: a circle in a local frame (64 segments per quarter).

    Radii are hundreds of metres to a few km: the local frame (longitude scaled by
    cos(latitude)) is within centimetres of the geodesic circle there.
    """
    r_deg = f.radius_m / 111_195.0
    circle = Point(f.lon, f.lat).buffer(r_deg, quad_segs=64)
    ellipse = affinity.scale(circle, xfact=1.0 / math.cos(math.radians(f.lat)), yfact=1.0)
    return Zone(
        zone_id=facility_zone_id(f.facility_id),
        name=f.name,
        kind="port",
        jurisdiction="CA" if f.country == "CA" else "US" if f.country == "US" else "BI",
        speed_limit_kn=None,
        facility_id=f.facility_id,
        inbound_bearing_deg=None,
        geometry=shapely.Polygon(ellipse.exterior),
        source=FACILITY_ZONE_SOURCE,
    )


def geography_with(base: Geography, reference: ReferenceData) -> Geography:
    """``base`` (defaults + extra zones) with the reference zones and facility radii.

    Facility circles already in ``base`` (from an earlier reference set) are replaced, so the
    track stage can call this again whenever a facility moves or changes its radius.
    """
    zones = [z for z in base.zones if z.source != FACILITY_ZONE_SOURCE]
    merged = merge_zones(merge_zones(zones, reference.zones), reference.facility_zones())
    return Geography(merged)


def same_geometry(a: Facility | None, b: Facility | None) -> bool:
    """Whether two versions of a facility have the same circle (MARSEC changes do not move it)."""
    if a is None or b is None:
        return a is b
    return (a.lat, a.lon, a.radius_m, a.name, a.country) == (
        b.lat,
        b.lon,
        b.radius_m,
        b.name,
        b.country,
    )
