"""Zones, the Canada–US boundary and jurisdiction: the one module that holds shapely geometry.

Everything is built once (:meth:`Geography.load`) and then answers per-report questions in a
few microseconds: which zones hold a position, whether it is in the monitored area, how far it
is from the boundary, which side of the boundary it is on, and the alert jurisdiction of
DESIGN.md §8. Coordinates are WGS84; arguments are always ``(lat, lon)`` like h3, while shapely
and GeoJSON are ``(x=lon, y=lat)`` inside this module.

Side of the boundary. The NOAA US–Canada boundary lines (``mda/data/us_canada_boundary.geojson``)
chain into three pieces: Juan de Fuca → Haro Strait → 49th parallel → Great Lakes/St. Lawrence
→ 45th parallel → Maine/New Brunswick → Passamaquoddy Bay; the Gulf of Maine (ICJ 1984) line;
and Portland Canal → Southeast Alaska → 141st meridian. Two cut lines are made from them by
adding, as stated judgement:

- the unresolved Machias Seal Island / North Rock area: a straight segment from the end of the
  Passamaquoddy line (Grand Manan Channel) to the start of the ICJ line;
- Pacific: from the Juan de Fuca mouth west-south-west to 48.3 N 128.7 W (about the
  equidistance line both sides use), then due west;
- Atlantic: the ICJ line's end continued on its own general heading (SSE) to 24 N;
- Dixon Entrance: the A–B line from Portland Canal west to Cape Muzon, then due west;
- Beaufort Sea: the 141st meridian continued north (Canada's claim; the US claims an
  equidistance line further east — a disputed wedge that this module assigns to Canada).

A box (24–85 N, 180–50 W) is cut by both lines into three faces: the contiguous US (south), the
Canadian face, and Alaska (north-west). A position is "US" or "CA" by the face that contains it,
``None`` outside the box or exactly on a line. Limits: it is a which-side-of-the-line test, not a
country test — Mexico, Cuba, the Bahamas, Saint-Pierre-et-Miquelon and Greenland fall on a side
of the line too; in the boundary waters it is exactly as good as the NOAA line.

Distances. :meth:`Geography.boundary_distance_m` finds the nearest point of the NOAA lines in a
local equirectangular frame centred on the position (x scaled by cos(lat)), then measures the
great-circle distance to that point with :func:`mda.hexgrid.distance_m`. The frame only picks
the point; the metres come from the haversine, so the value is exact for the point chosen and
within well under 1% of the true minimum.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import orjson
import shapely
from shapely.geometry import LineString, box, shape

from mda.errors import ReferenceDataError, RejectReason
from mda.hexgrid import distance_m

__all__ = [
    "BI_WITHIN_M",
    "JURISDICTIONS",
    "ZONE_KINDS",
    "AlertJurisdiction",
    "Geography",
    "Jurisdiction",
    "Side",
    "Zone",
    "ZoneKind",
    "load_zones",
    "merge_zones",
    "releasability",
    "zones_from_geojson",
]

ZoneKind = Literal[
    "monitored", "approach", "seaway_entry", "security", "restricted", "port", "anchorage", "lock"
]
#: The zone kinds of DESIGN.md §7. The defaults (mda/data/zones_default.geojson) ship every
#: kind: monitored regions and speed reaches, ports, approaches, anchorages, the Seaway entry,
#: security, restricted and lock zones; reference data adds or replaces zones by zone_id.
ZONE_KINDS: tuple[ZoneKind, ...] = get_args(ZoneKind)
Jurisdiction = Literal["CA", "US", "BI"]
JURISDICTIONS: tuple[Jurisdiction, ...] = get_args(Jurisdiction)
AlertJurisdiction = Literal["CA", "US", "BI", "INTL"]
Side = Literal["CA", "US"]

#: DESIGN.md §8: within this distance of the boundary an alert is bi-national ("BI").
BI_WITHIN_M = 10_000.0
#: DESIGN.md §9 BORDER_CROSSING: the side changes only this far past the line.
HYSTERESIS_M = 500.0

_FACILITY_ID = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}-\d{4}$")
# The box the side test answers in: south of 24 N (Florida Straits, Hawaii) is None.
_SIDE_BOX = (-180.0, 24.0, -50.0, 85.0)
_MACHIAS_SEAL_GAP = [(-66.902555, 44.776561), (-67.278889, 44.186745)]
_PACIFIC_EXTENSION = [(-128.7, 48.3), (-181.0, 48.3)]
_DIXON_ENTRANCE = [(-130.628640, 54.724732), (-132.6806, 54.6636), (-181.0, 54.6636)]
_BEAUFORT_EXTENSION = [(-141.000602, 86.0)]
# Known points of each face of the cut box, to label them.
_OTTAWA = (-75.70, 45.42)
_KANSAS = (-98.0, 39.0)
_ANCHORAGE = (-149.9, 61.2)


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone of DESIGN.md §7; ``geometry`` is a shapely (Multi)Polygon in lon/lat.

    The geometry is prepared on construction, so :meth:`contains` is an indexed point-in-polygon
    test rather than a walk over every vertex.
    """

    zone_id: str
    name: str
    kind: ZoneKind
    jurisdiction: Jurisdiction
    speed_limit_kn: float | None
    facility_id: str | None
    inbound_bearing_deg: float | None
    geometry: Any = field(compare=False, repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        shapely.prepare(self.geometry)

    def contains(self, lat: float, lon: float) -> bool:
        """True when the position is inside the zone or on its edge."""
        return bool(shapely.intersects_xy(self.geometry, lon, lat))


def _bad(origin: str, index: int, what: str) -> ReferenceDataError:
    return ReferenceDataError(RejectReason.BAD_REFERENCE_DATA, f"{origin}: feature {index}: {what}")


def _optional_number(
    props: dict[str, Any], key: str, origin: str, index: int, low: float, high: float
) -> float | None:
    value = props.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(origin, index, f"{key} must be a number, got {value!r}")
    if not (low <= float(value) < high) or math.isnan(float(value)):
        raise _bad(origin, index, f"{key}={value!r} is outside [{low}, {high})")
    return float(value)


def _zone_from_feature(feature: Any, origin: str, index: int) -> Zone:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise _bad(origin, index, "not a GeoJSON Feature")
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise _bad(origin, index, "properties missing")
    zone_id = props.get("zone_id")
    if not isinstance(zone_id, str) or not zone_id.strip():
        raise _bad(origin, index, "zone_id missing or empty")
    where = f"{index} (zone_id {zone_id!r})"
    name = props.get("name", "")
    if not isinstance(name, str):
        raise _bad(origin, index, f"name must be a string in feature {where}")
    kind = props.get("kind")
    if kind not in ZONE_KINDS:
        raise _bad(origin, index, f"kind {kind!r} is not one of {', '.join(ZONE_KINDS)}")
    jurisdiction = props.get("jurisdiction")
    if jurisdiction not in JURISDICTIONS:
        raise _bad(origin, index, f"jurisdiction {jurisdiction!r} is not CA, US or BI")
    facility_id = props.get("facility_id")
    if facility_id in (None, ""):
        facility_id = None
    elif not isinstance(facility_id, str) or not _FACILITY_ID.match(facility_id):
        raise _bad(origin, index, f"facility_id {facility_id!r} is not like CAMTR-0001")
    speed = _optional_number(props, "speed_limit_kn", origin, index, 0.0, 100.0)
    bearing = _optional_number(props, "inbound_bearing_deg", origin, index, 0.0, 360.0)
    source = props.get("source", "")
    geom_json = feature.get("geometry")
    if not isinstance(geom_json, dict) or geom_json.get("type") not in ("Polygon", "MultiPolygon"):
        raise _bad(origin, index, "geometry must be a Polygon or MultiPolygon")
    try:
        geom = shape(geom_json)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise _bad(origin, index, f"geometry unreadable: {exc}") from exc
    if geom.is_empty:
        raise _bad(origin, index, "geometry is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise _bad(origin, index, "coordinates are not lon/lat degrees (lon first)")
    if not geom.is_valid:
        # Hand-drawn polygons are often a little self-intersecting; repair, keep the areas.
        repaired = shapely.make_valid(geom)
        parts = [
            g for g in getattr(repaired, "geoms", [repaired]) if g.geom_type.endswith("Polygon")
        ]
        if not parts:
            raise _bad(origin, index, "geometry is invalid and has no area once repaired")
        geom = shapely.unary_union(parts)
    return Zone(
        zone_id=zone_id,
        name=name,
        kind=kind,
        jurisdiction=jurisdiction,
        speed_limit_kn=speed,
        facility_id=facility_id,
        inbound_bearing_deg=bearing,
        geometry=geom,
        source=source if isinstance(source, str) else "",
    )


def load_zones(path: Path) -> list[Zone]:
    """Read a zones GeoJSON (DESIGN.md §7), validating every feature.

    Raises :class:`ReferenceDataError` naming the file, the feature index and the field. A
    zone_id repeated inside one file is an error (across files, see :func:`merge_zones`).
    """
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ReferenceDataError(RejectReason.BAD_REFERENCE_DATA, f"{path}: {exc}") from exc
    return zones_from_geojson(doc, str(path))


def zones_from_geojson(doc: Any, origin: str = "zones") -> list[Zone]:
    """The zones of an already parsed GeoJSON FeatureCollection (see :func:`load_zones`)."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ReferenceDataError(
            RejectReason.BAD_REFERENCE_DATA, f"{origin}: not a GeoJSON FeatureCollection"
        )
    features = doc.get("features")
    if not isinstance(features, list):
        raise ReferenceDataError(RejectReason.BAD_REFERENCE_DATA, f"{origin}: no features list")
    zones: list[Zone] = []
    seen: set[str] = set()
    for index, feature in enumerate(features):
        zone = _zone_from_feature(feature, origin, index)
        if zone.zone_id in seen:
            raise _bad(origin, index, f"zone_id {zone.zone_id!r} repeats an earlier feature")
        seen.add(zone.zone_id)
        zones.append(zone)
    return zones


def merge_zones(defaults: Iterable[Zone], extra: Iterable[Zone]) -> list[Zone]:
    """Defaults plus extra zones; an extra zone with a default's zone_id replaces it in place."""
    merged = {z.zone_id: z for z in defaults}
    for zone in extra:
        merged[zone.zone_id] = zone
    return list(merged.values())


def releasability(jurisdiction: str) -> list[str]:
    """Default release policy of an alert by jurisdiction (DESIGN.md §8 ``releasability``).

    A policy default, not a legal rule: national ("CA"/"US") alerts go to their own nation,
    bi-national and international ones to both. A deployment may override it.
    """
    if jurisdiction == "CA":
        return ["CAN"]
    if jurisdiction == "US":
        return ["USA"]
    return ["CAN", "USA"]


_DIST_CELL_DEG = 0.05
#: The candidates of a 0.05° cell are chosen from those of the 1° cell around it, and those
#: from the 5° cell's, which are chosen from every segment (sizes in 0.05° cells, coarsest
#: first): each coarser set is chosen once, and the finer searches run over a few hundred.
_COARSER_CELLS = (100, 20)
_SMALL = 32
_MAX_SEGMENT_DEG = 0.05
#: A cell's candidate segments: four coordinate arrays, or (few) (ax, ay, bx, by) tuples.
_Candidates = tuple[Any, Any, Any] | list[tuple[float, ...]]
_AREA_CELL_DEG = 0.25
_DISTANCE_MEMO_MAX = 200_000
#: near_boundary's fine cells (~1 km): distance of the centre, and the cell's reach from it.
_NEAR_CELL_DEG = 0.01
_NEAR_MEMO_MAX = 100_000
#: Slack of the bounds, far above the centimetres by which the chord search can differ from
#: an exact distance to the lines, so a bound decides only where the search would agree.
_BOUND_SLACK_M = 1.0


def _cell_of(lat: float, lon: float, cell_deg: float) -> tuple[int, int]:
    return math.floor(lat / cell_deg), math.floor(lon / cell_deg)


def _unit_vectors(lon: Any, lat: Any) -> Any:
    """WGS84 lon/lat (degrees) -> points on the unit sphere, shape (..., 3)."""
    lam, phi = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)


class _NearestLine:
    """Nearest point of a set of lines to a position (see module doc).

    Segments are compared as chords between unit vectors, so the choice of the nearest point
    does not depend on a map projection at any distance; the metres are then the haversine to
    that point. Per query only the segments that can be nearest from somewhere in the
    position's 0.05° cell are examined (memoised per cell on first use, chosen from those of
    the coarser cells around it; the memos change speed, never the answer).
    """

    def __init__(self, lines: Sequence[LineString]) -> None:
        starts: list[Any] = []
        ends: list[Any] = []
        for line in lines:
            # A chord of a long segment leaves the lon/lat straight line that the side test
            # (and every GIS drawing the file) uses: 2 km of the 250 km Lake Superior courses.
            # Short pieces keep the two within centimetres.
            dense = shapely.segmentize(line, _MAX_SEGMENT_DEG)
            xy = np.asarray(dense.coords, dtype=float)[:, :2]
            starts.append(xy[:-1])
            ends.append(xy[1:])
        a = np.concatenate(starts)
        b = np.concatenate(ends)
        keep = np.any(a != b, axis=1)
        a, b = a[keep], b[keep]
        self._ua = _unit_vectors(a[:, 0], a[:, 1])
        self._ud = _unit_vectors(b[:, 0], b[:, 1]) - self._ua
        self._ud2 = np.einsum("ij,ij->i", self._ud, self._ud)
        self._cells: dict[tuple[int, int], _Candidates] = {}
        self._coarse: dict[tuple[int, int, int], tuple[Any, Any, Any]] = {}

    def _chords(self, q: Any, ua: Any, ud: Any, ud2: Any) -> tuple[Any, Any]:
        """Squared chord distances from unit vector ``q`` to segments, and nearest points."""
        t = np.minimum(np.maximum(((q - ua) * ud).sum(axis=1) / ud2, 0.0), 1.0)
        c = ua + t[:, None] * ud
        return ((q - c) ** 2).sum(axis=1), c

    def _reachable(
        self, key: tuple[int, int], cell_deg: float, ua: Any, ud: Any, ud2: Any
    ) -> tuple[Any, Any, Any]:
        """Of the segments (ua, ud, ud2), those that can be nearest from somewhere in the cell
        ``key`` of ``cell_deg`` degrees."""
        lat0, lon0 = key[0] * cell_deg, key[1] * cell_deg
        centre = _unit_vectors(lon0 + cell_deg / 2, lat0 + cell_deg / 2)
        corners = _unit_vectors(
            np.array([lon0, lon0, lon0 + cell_deg, lon0 + cell_deg]),
            np.array([lat0, lat0 + cell_deg, lat0, lat0 + cell_deg]),
        )
        radius = float(np.sqrt(((corners - centre) ** 2).sum(axis=1)).max())
        d2, _ = self._chords(centre, ua, ud, ud2)
        d = np.sqrt(d2)
        # Triangle inequality: from any point of the cell, a segment is within radius of its
        # distance from the centre, so only those within 2·radius of the best can be nearest.
        idx = np.flatnonzero(d <= float(d.min()) + 2.0 * radius + 1e-12)
        return ua[idx], ud[idx], ud2[idx]

    def _candidates(self, key: tuple[int, int]) -> _Candidates:
        # A segment that can be nearest from somewhere in a cell can be from somewhere in
        # every cell that contains it, so it is among their candidates (the nearest is too).
        segments = (self._ua, self._ud, self._ud2)
        for n in _COARSER_CELLS:
            cell = (key[0] // n, key[1] // n)
            coarse = self._coarse.get((n, *cell))
            if coarse is None:
                coarse = self._reachable(cell, _DIST_CELL_DEG * n, *segments)
                self._coarse[(n, *cell)] = coarse
            segments = coarse
        ua, ud, ud2 = self._reachable(key, _DIST_CELL_DEG, *segments)
        entry: _Candidates = (ua, ud, ud2)
        if len(ud2) <= _SMALL:
            # Few segments: a plain loop beats numpy's per-call overhead.
            entry = [
                (*map(float, ua[i]), *map(float, ud[i]), float(ud2[i])) for i in range(len(ud2))
            ]
        self._cells[key] = entry
        return entry

    def nearest(self, lat: float, lon: float) -> tuple[float, float, float]:
        """(distance_m, lat, lon) of the nearest point on the lines."""
        key = _cell_of(lat, lon, _DIST_CELL_DEG)
        entry = self._cells.get(key)
        if entry is None:
            entry = self._candidates(key)
        phi, lam = math.radians(lat), math.radians(lon)
        qx, qy, qz = math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)
        if isinstance(entry, list):
            best = math.inf
            px = py = pz = 0.0
            for ax, ay, az, dx, dy, dz, d2 in entry:
                t = min(max(((qx - ax) * dx + (qy - ay) * dy + (qz - az) * dz) / d2, 0.0), 1.0)
                cx, cy, cz = ax + t * dx, ay + t * dy, az + t * dz
                e2 = (qx - cx) ** 2 + (qy - cy) ** 2 + (qz - cz) ** 2
                if e2 < best:
                    best, px, py, pz = e2, cx, cy, cz
        else:
            d2, c = self._chords(np.array([qx, qy, qz]), *entry)
            i = int(np.argmin(d2))
            px, py, pz = (float(v) for v in c[i])
        near_lat = math.degrees(math.atan2(pz, math.hypot(px, py)))
        near_lon = math.degrees(math.atan2(py, px))
        return distance_m(lat, lon, near_lat, near_lon), near_lat, near_lon


@dataclass(frozen=True, slots=True)
class _Boundary:
    """The NOAA boundary lines, their nearest-point index and the two side faces."""

    lines: tuple[LineString, ...]
    legal: _NearestLine
    cut: _NearestLine
    ca_face: Any
    us_face: Any
    #: Memo: 0.25° cell -> the side the whole cell is on, or "" when the line crosses it.
    cells: dict[tuple[int, int], Side | Literal[""]] = field(default_factory=dict)

    @staticmethod
    def from_lines(lines: Sequence[LineString]) -> _Boundary:
        merged = shapely.line_merge(shapely.unary_union([*lines, LineString(_MACHIAS_SEAL_GAP)]))
        pieces = list(getattr(merged, "geoms", [merged]))
        alaska = [p for p in pieces if p.bounds[0] < -135.0]
        main = [p for p in pieces if p.bounds[0] >= -135.0]
        if len(alaska) != 1 or len(main) != 1:
            raise ReferenceDataError(
                RejectReason.BAD_REFERENCE_DATA,
                f"boundary lines do not chain into 2 pieces (got {len(pieces)})",
            )
        main_coords = list(main[0].coords)
        if main_coords[0][0] > main_coords[-1][0]:
            main_coords.reverse()  # west (Juan de Fuca) first
        (x1, y1), (x0, y0) = main_coords[-1][:2], _first_far(main_coords[::-1], 3.0)
        slope = (x1 - x0) / (y1 - y0)  # continue the ICJ line's general heading to 23 N
        east_end = (x1 + slope * (23.0 - y1), 23.0)
        main_cut = LineString([*_PACIFIC_EXTENSION[::-1], *main_coords, east_end])
        alaska_coords = list(alaska[0].coords)
        if alaska_coords[0][1] > alaska_coords[-1][1]:
            alaska_coords.reverse()  # Portland Canal first
        alaska_cut = LineString([*_DIXON_ENTRANCE[::-1], *alaska_coords[1:], *_BEAUFORT_EXTENSION])
        frame = box(*_SIDE_BOX)
        noded = shapely.unary_union(
            [frame.exterior, frame.intersection(main_cut), frame.intersection(alaska_cut)]
        )
        faces = list(shapely.polygonize(list(getattr(noded, "geoms", [noded]))).geoms)
        ca = [f for f in faces if f.contains(shapely.points(*_OTTAWA))]
        us = [f for f in faces if f.contains(shapely.points(*_KANSAS))]
        ak = [f for f in faces if f.contains(shapely.points(*_ANCHORAGE))]
        if len(faces) != 3 or not (ca and us and ak):
            raise ReferenceDataError(
                RejectReason.BAD_REFERENCE_DATA,
                f"boundary cut lines split the box into {len(faces)} faces, expected 3",
            )
        ca_face = ca[0]
        us_face = shapely.union(us[0], ak[0])
        shapely.prepare(ca_face)
        shapely.prepare(us_face)
        return _Boundary(
            lines=tuple(lines),
            legal=_NearestLine(lines),
            cut=_NearestLine([main_cut, alaska_cut]),
            ca_face=ca_face,
            us_face=us_face,
        )

    def side(self, lat: float, lon: float) -> Side | None:
        key = _cell_of(lat, lon, _AREA_CELL_DEG)
        whole = self.cells.get(key)
        if whole is None:
            whole = self._classify_cell(key)
        if whole:
            return whole  # the whole cell is on one side
        if shapely.contains_xy(self.ca_face, lon, lat):
            return "CA"
        if shapely.contains_xy(self.us_face, lon, lat):
            return "US"
        return None

    def _classify_cell(self, key: tuple[int, int]) -> Side | Literal[""]:
        lat0, lon0 = key[0] * _AREA_CELL_DEG, key[1] * _AREA_CELL_DEG
        cell = box(lon0, lat0, lon0 + _AREA_CELL_DEG, lat0 + _AREA_CELL_DEG)
        whole: Side | Literal[""] = ""
        if self.ca_face.contains(cell):
            whole = "CA"
        elif self.us_face.contains(cell):
            whole = "US"
        self.cells[key] = whole
        return whole


def _first_far(coords: Sequence[Any], min_deg: float) -> tuple[float, float]:
    """The first coordinate at least ``min_deg`` from the first one (for a stable heading)."""
    x0, y0 = coords[0][:2]
    for c in coords:
        if math.hypot(c[0] - x0, c[1] - y0) >= min_deg:
            return float(c[0]), float(c[1])
    return float(coords[-1][0]), float(coords[-1][1])


def _read_boundary_lines(path: Path) -> list[LineString]:
    try:
        doc = orjson.loads(path.read_bytes())
        lines = [shape(f["geometry"]) for f in doc["features"]]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ReferenceDataError(RejectReason.BAD_REFERENCE_DATA, f"{path}: {exc}") from exc
    if not lines or any(line.geom_type != "LineString" for line in lines):
        raise ReferenceDataError(RejectReason.BAD_REFERENCE_DATA, f"{path}: not LineStrings")
    return lines


def _data_path(name: str) -> Path:
    with resources.as_file(resources.files("mda") / "data" / name) as path:
        return Path(path)


@functools.cache
def _default_boundary() -> _Boundary:
    return _Boundary.from_lines(_read_boundary_lines(_data_path("us_canada_boundary.geojson")))


@functools.cache
def _default_zones() -> tuple[Zone, ...]:
    return tuple(load_zones(_data_path("zones_default.geojson")))


class Geography:
    """Zones + boundary, built once, queried per report (all methods are pure lookups).

    Zones are returned innermost first: by area (square degrees, a ranking only), then zone_id.
    """

    def __init__(self, zones: Sequence[Zone], boundary: _Boundary | None = None) -> None:
        self._boundary = boundary if boundary is not None else _default_boundary()
        ordered = sorted(zones, key=lambda z: (float(z.geometry.area), z.zone_id))
        self.zones: tuple[Zone, ...] = tuple(ordered)
        self._geoms = np.array([z.geometry for z in ordered], dtype=object)
        self._bounds = shapely.bounds(self._geoms).reshape(-1, 4)
        # Memo: 0.25° cell -> (zones containing the whole cell, zones only partly over it).
        self._cells: dict[tuple[int, int], tuple[Any, Any]] = {}
        # Memo: 0.25° cell -> its zones, for cells that no zone edge crosses (every position in
        # the cell is in the same zones: open water far from any zone edge).
        self._whole_cells: dict[tuple[int, int], tuple[Zone, ...]] = {}
        self._distance_memo: dict[tuple[float, float], float] = {}
        # Memo: 0.25° cell -> a lower bound (m) of the boundary distance of any point in it.
        self._cell_bound_m: dict[tuple[int, int], float] = {}
        self._near_cells: dict[tuple[int, int], tuple[float, float]] = {}

    @classmethod
    def load(cls, extra_zones: Path | None = None) -> Geography:
        """The default zones and boundary, plus ``extra_zones`` (same zone_id replaces).

        Without extra zones the instance is cached: every caller shares one.
        """
        if extra_zones is None:
            return _default_geography()
        return cls(merge_zones(_default_zones(), load_zones(extra_zones)))

    @property
    def boundary_lines(self) -> tuple[LineString, ...]:
        return self._boundary.lines

    def _cell_zones(self, key: tuple[int, int]) -> tuple[Any, Any]:
        lat0, lon0 = key[0] * _AREA_CELL_DEG, key[1] * _AREA_CELL_DEG
        lat1, lon1 = lat0 + _AREA_CELL_DEG, lon0 + _AREA_CELL_DEG
        b = self._bounds
        near = np.flatnonzero(
            (b[:, 0] <= lon1) & (b[:, 2] >= lon0) & (b[:, 1] <= lat1) & (b[:, 3] >= lat0)
        )
        cell = box(lon0, lat0, lon1, lat1)
        full = shapely.contains(self._geoms[near], cell)
        part = ~full & shapely.intersects(self._geoms[near], cell)
        entry = (near[full], near[part])
        self._cells[key] = entry
        return entry

    def _zone_indices(self, lat: float, lon: float) -> Any:
        key = _cell_of(lat, lon, _AREA_CELL_DEG)
        full, part = self._cells.get(key) or self._cell_zones(key)
        if len(part) == 0:
            return full
        hit = part[shapely.intersects_xy(self._geoms[part], lon, lat)]
        if len(full) == 0:
            return hit
        return np.sort(np.concatenate([full, hit]))

    def zones_at(self, lat: float, lon: float) -> tuple[Zone, ...]:
        """Every zone containing the position (edges included), innermost first."""
        key = _cell_of(lat, lon, _AREA_CELL_DEG)
        whole = self._whole_cells.get(key)
        if whole is not None:
            return whole
        full, part = self._cells.get(key) or self._cell_zones(key)
        if len(part) == 0:
            whole = self._whole_cells[key] = tuple(self.zones[i] for i in full)
            return whole
        return tuple(self.zones[i] for i in self._zone_indices(lat, lon))

    def in_monitored_area(self, lat: float, lon: float) -> bool:
        """Inside the union of all zones, defaults plus added (DESIGN.md §9 terms)."""
        key = _cell_of(lat, lon, _AREA_CELL_DEG)
        full, part = self._cells.get(key) or self._cell_zones(key)
        if len(full):
            return True
        return len(part) > 0 and bool(shapely.intersects_xy(self._geoms[part], lon, lat).any())

    def boundary_distance_m(self, lat: float, lon: float) -> float:
        """Metres to the nearest point of the US–Canada boundary lines (NOAA)."""
        # Moored and slow vessels repeat their position: memoise exact positions (bounded).
        key = (lat, lon)
        found = self._distance_memo.get(key)
        if found is None:
            if len(self._distance_memo) >= _DISTANCE_MEMO_MAX:
                self._distance_memo.clear()
            found = self._distance_memo[key] = self._boundary.legal.nearest(lat, lon)[0]
        return found

    def near_boundary(self, lat: float, lon: float, within_m: float) -> bool:
        """True when the position is within ``within_m`` of the boundary lines.

        The distance to the lines changes by at most the distance moved (triangle
        inequality), so a cell's centre bounds every position in it: far from the line, a
        per-0.25°-cell lower bound answers (a fleet in the Baltic or the Gulf of Mexico costs
        one dict lookup per report); nearer, a per-0.01°-cell pair of bounds does, and only a
        position whose ~1 km cell straddles ``within_m`` needs the nearest-point search.
        """
        key = _cell_of(lat, lon, _AREA_CELL_DEG)
        bound = self._cell_bound_m.get(key)
        if bound is None:
            centre_m, reach_m = self._cell_reach(key, _AREA_CELL_DEG)
            bound = self._cell_bound_m[key] = centre_m - reach_m
        if bound > within_m:
            return False
        key = _cell_of(lat, lon, _NEAR_CELL_DEG)
        near = self._near_cells.get(key)
        if near is None:
            if len(self._near_cells) >= _NEAR_MEMO_MAX:
                self._near_cells.clear()
            near = self._near_cells[key] = self._cell_reach(key, _NEAR_CELL_DEG)
        centre_m, reach_m = near
        if centre_m - reach_m - _BOUND_SLACK_M > within_m:
            return False
        if centre_m + reach_m + _BOUND_SLACK_M < within_m:
            return True
        return self.boundary_distance_m(lat, lon) <= within_m

    def _cell_reach(self, key: tuple[int, int], cell_deg: float) -> tuple[float, float]:
        """(metres from the cell's centre to the lines, metres from the centre to its farthest
        corner)."""
        lat0, lon0 = key[0] * cell_deg, key[1] * cell_deg
        clat, clon = lat0 + cell_deg / 2, lon0 + cell_deg / 2
        reach_m = max(
            distance_m(clat, clon, lat0 + dlat, lon0 + dlon)
            for dlat in (0.0, cell_deg)
            for dlon in (0.0, cell_deg)
        )
        return self._boundary.legal.nearest(clat, clon)[0], reach_m

    def side_of_boundary(self, lat: float, lon: float) -> Side | None:
        """ "CA" or "US" by side of the boundary; None outside 24–85 N, 180–50 W or on it."""
        return self._boundary.side(lat, lon)

    def confirmed_side(
        self,
        previous: Side | None,
        lat: float,
        lon: float,
        hysteresis_m: float = HYSTERESIS_M,
    ) -> Side | None:
        """The side a vessel is on for BORDER_CROSSING, with hysteresis.

        The side changes only once the position is at least ``hysteresis_m`` past the cut line,
        so mid-channel traffic in the boundary rivers does not flicker. With no previous side
        the raw side is taken; a position with no side (off the box, on the line) keeps it.
        """
        side = self._boundary.side(lat, lon)
        if side is None or side == previous:
            return previous
        if previous is None:
            return side
        if self._boundary.cut.nearest(lat, lon)[0] >= hysteresis_m:
            return side
        return previous

    def jurisdiction(
        self, lat: float, lon: float, bi_within_m: float = BI_WITHIN_M
    ) -> AlertJurisdiction:
        """Alert jurisdiction (DESIGN.md §8).

        The innermost non-monitored zone's jurisdiction; else "BI" within ``bi_within_m`` of
        the boundary; else "CA"/"US" by side inside the monitored area; else "INTL".
        """
        indices = self._zone_indices(lat, lon)
        for i in indices:
            zone: Zone = self.zones[i]
            if zone.kind != "monitored":
                return zone.jurisdiction
        if self.boundary_distance_m(lat, lon) <= bi_within_m:
            return "BI"
        if len(indices):  # the monitored area is the union of all zones
            side = self._boundary.side(lat, lon)
            if side is not None:
                return side
        return "INTL"


@functools.cache
def _default_geography() -> Geography:
    return Geography(_default_zones())
