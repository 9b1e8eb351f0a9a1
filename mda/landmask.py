"""The land mask of POSITION_ON_LAND (DESIGN.md §9): how far a position is from water.

Land is Natural Earth 10m land minus its lakes (both lake layers), plus its minor islands,
minus river and canal corridors (buffered centerlines, ~1 km half-width) and a few hand-drawn
harbour waters; ``scripts/build_landmask.py`` builds it into ``mda/data/land_na.bin.gz`` and says
exactly what is in it. Water is everything else.

Coverage. The mask covers the Natural Earth clip box lon −170…−50, lat 20…75 (the contiguous
US, Canada, Alaska east of 170 W, northern Mexico). Outside that box every position is water
(distance 0.0): the rule then raises nothing rather than something wrong. Inside the box the
cut edges of the clip (and the whole-degree lines the file is tiled along) are not water edges.

Method. Per 0.1° cell (memoised on first use) the land pieces are clipped to the cell and
prepared, so the usual question — a ship on water — costs one dict lookup and at most one
point-in-polygon test. Only a position on land measures a distance: the nearest shoreline
segment is found in a local equirectangular frame centred on the position (x scaled by
cos(lat)), by an R-tree window search that widens until the window holds the nearest segment;
the metres are then the great-circle distance to that point (:func:`mda.hexgrid.distance_m`).
The frame only chooses the point: within ~50 km the choice is the true nearest to well under
1%; for far-inland positions (hundreds of km) the scale change across the window can pick a
point a few percent farther than the true nearest. Accuracy is bounded by the data: Natural
Earth 10m shorelines are generalised by a few hundred metres, which is why the rule has a 1 km
margin.
"""

from __future__ import annotations

import csv
import functools
import gzip
import math
import struct
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from shapely.geometry import box

from mda.errors import ReferenceDataError, RejectReason
from mda.hexgrid import distance_m

__all__ = ["COVER_BOX", "HARBOUR_RADIUS_M", "ON_LAND_MARGIN_M", "LandMask"]

#: DESIGN.md §9 POSITION_ON_LAND: more than this far from the nearest water.
ON_LAND_MARGIN_M: Final = 1_000.0
#: (lon_min, lat_min, lon_max, lat_max) covered by the default mask; outside it is water.
COVER_BOX: Final = (-170.0, 20.0, -50.0, 75.0)

#: Harbour allowance by World Port Index harbour size: within this distance of a listed
#: US/Canadian port, a position is never "on land". Natural Earth 10m shorelines leave out
#: basins, slips, ship canals and marinas (measured on the MarineCadastre day of 2023-01-11:
#: half of the raw POSITION_ON_LAND findings were moored vessels within these radii, e.g.
#: Lake Union in Seattle, Victoria's inner harbour, Newark Bay).
HARBOUR_RADIUS_M: Final = {
    "Very Small": 3_000.0,
    "Small": 5_000.0,
    "Medium": 8_000.0,
    "Large": 10_000.0,
}
_HARBOUR_DEFAULT_M = 3_000.0

_MAGIC = b"MDALAND1"
_SCALE = 100_000  # file coordinate units per degree
_CELL_DEG = 0.1
_EPS_DEG = 1e-6
_GROUP = 16  # shoreline segments per R-tree entry
_SHORE_MEMO_MAX = 100_000
_FIRST_WINDOW_DEG = 0.02
_MAX_WINDOW_DEG = 90.0
_WATER: Final = 0
_LAND: Final = 1


def _segments(pieces: Sequence[Any]) -> tuple[Any, Any]:
    """Shoreline segments (a, b as (n, 2) lon/lat arrays) of the pieces' rings.

    Segments lying on a whole-degree meridian or parallel are the tiling cuts and the clip
    box, not shorelines, and are left out.
    """
    if not pieces:
        empty = np.zeros((0, 2))
        return empty, empty
    _, coords, (ring_offsets, _) = shapely.to_ragged_array(list(pieces))
    a, b = coords[:-1], coords[1:]
    keep = np.ones(len(a), dtype=bool)
    keep[np.asarray(ring_offsets[1:-1]) - 1] = False  # pairs spanning two rings
    whole = np.round(a) == a
    cut = (a == b) & whole & (np.round(b) == b)
    keep &= ~(cut[:, 0] | cut[:, 1])
    keep &= np.any(a != b, axis=1)
    return a[keep], b[keep]


class LandMask:
    """Land polygons answering "how far from water" per position (see module doc).

    Arguments are ``(lat, lon)`` in WGS84 degrees, like h3 and :mod:`mda.geo`.
    """

    def __init__(
        self,
        pieces: Sequence[Any],
        cover_box: tuple[float, ...] = COVER_BOX,
        harbours: Sequence[tuple[float, float, float]] = (),
    ) -> None:
        #: (lat, lon, radius_m) of the harbour allowance.
        h = np.array(list(harbours), dtype=float).reshape(-1, 3)
        self._harbour_lat, self._harbour_lon, self._harbour_r = h[:, 0], h[:, 1], h[:, 2]
        self._pieces = np.array(list(pieces), dtype=object)
        self._cover = tuple(float(v) for v in cover_box)
        self._tree = shapely.STRtree(self._pieces)
        a, b = _segments(list(pieces))
        self._ax, self._ay = a[:, 0].copy(), a[:, 1].copy()
        self._dx, self._dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
        n = len(a)
        groups = max(1, math.ceil(n / _GROUP))
        pad = groups * _GROUP - n
        xs = np.concatenate([np.minimum(a[:, 0], b[:, 0]), np.full(pad, np.nan)])
        ys = np.concatenate([np.minimum(a[:, 1], b[:, 1]), np.full(pad, np.nan)])
        xe = np.concatenate([np.maximum(a[:, 0], b[:, 0]), np.full(pad, np.nan)])
        ye = np.concatenate([np.maximum(a[:, 1], b[:, 1]), np.full(pad, np.nan)])
        boxes = shapely.box(
            np.nanmin(xs.reshape(groups, _GROUP), axis=1) if n else np.zeros(0),
            np.nanmin(ys.reshape(groups, _GROUP), axis=1) if n else np.zeros(0),
            np.nanmax(xe.reshape(groups, _GROUP), axis=1) if n else np.zeros(0),
            np.nanmax(ye.reshape(groups, _GROUP), axis=1) if n else np.zeros(0),
        )
        self._n_segments = n
        self._seg_tree = shapely.STRtree(boxes)
        self._offsets = np.arange(_GROUP)
        #: Memo: 0.1° cell -> _WATER, _LAND (the whole cell) or the prepared land in the cell.
        self._cells: dict[tuple[int, int], Any] = {}
        # Memo: exact position -> shore distance (m), for positions inside the land polygons
        # (moored vessels and yards repeat theirs); bounded, cleared when full.
        self._shore_memo: dict[tuple[float, float], float] = {}

    @classmethod
    def from_file(cls, path: Path, harbours: Sequence[tuple[float, float, float]] = ()) -> LandMask:
        """Read the binary mask written by ``scripts/build_landmask.py``.

        Layout (gzip of little-endian data): 8-byte magic ``MDALAND1``; int32 counts of
        coordinates, ring offsets and polygon offsets; the coordinates as int32 (lon, lat)
        pairs in 1e-5° units, each the difference from the previous pair; then the two
        offset arrays of :func:`shapely.from_ragged_array` (Polygon).
        """
        try:
            raw = gzip.decompress(path.read_bytes())
            magic, n_coords, n_rings, n_polys = struct.unpack_from("<8s3i", raw, 0)
            if magic != _MAGIC:
                raise ValueError(f"not a land mask (magic {magic!r})")
            at = struct.calcsize("<8s3i")
            deltas = np.frombuffer(raw, "<i4", 2 * n_coords, at).reshape(-1, 2)
            at += 8 * n_coords
            rings = np.frombuffer(raw, "<i4", n_rings, at).astype(np.int64)
            at += 4 * n_rings
            polys = np.frombuffer(raw, "<i4", n_polys, at).astype(np.int64)
            coords = np.cumsum(deltas, axis=0, dtype=np.int64) / _SCALE
            pieces = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, (rings, polys))
        except (OSError, EOFError, ValueError, struct.error) as exc:
            raise ReferenceDataError(RejectReason.BAD_REFERENCE_DATA, f"{path}: {exc}") from exc
        return cls(list(pieces), harbours=harbours)

    def in_harbour(self, lat: float, lon: float) -> bool:
        """True within the allowance radius of a listed harbour (see HARBOUR_RADIUS_M)."""
        if not len(self._harbour_r):
            return False
        # Haversine over all harbours at once: only positions already on the mask get here.
        p1, p2 = np.radians(lat), np.radians(self._harbour_lat)
        dp, dl = p2 - p1, np.radians(self._harbour_lon - lon)
        a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        d_m = 2 * 6_371_007.2 * np.arcsin(np.sqrt(a))
        return bool((d_m <= self._harbour_r).any())

    @staticmethod
    def load_default() -> LandMask:
        """The shipped mask (``mda/data/land_na.bin.gz``), loaded once per process."""
        return _default_mask()

    @property
    def pieces(self) -> tuple[Any, ...]:
        """The land polygons (lon/lat), for builders that clip zones to water."""
        return tuple(self._pieces)

    def _cell(self, key: tuple[int, int]) -> Any:
        lat0, lon0 = key[0] * _CELL_DEG, key[1] * _CELL_DEG
        # A little larger than the cell: a point on a cell edge (round coordinates such as
        # 45.50) must fall inside the clipped land, not on its cut edge.
        cell = box(
            lon0 - _EPS_DEG,
            lat0 - _EPS_DEG,
            lon0 + _CELL_DEG + _EPS_DEG,
            lat0 + _CELL_DEG + _EPS_DEG,
        )
        near = self._tree.query(cell, predicate="intersects")
        entry: Any = _WATER
        if len(near):
            land = shapely.union_all(shapely.intersection(self._pieces[near], cell))
            if land.is_empty or land.area == 0.0:
                entry = _WATER
            elif shapely.difference(cell, land).area < 1e-14:
                entry = _LAND
            else:
                shapely.prepare(land)
                entry = land
        self._cells[key] = entry
        return entry

    def _inside_land(self, lat: float, lon: float) -> bool:
        x0, y0, x1, y1 = self._cover
        if not (x0 < lon < x1 and y0 < lat < y1):
            return False
        key = (math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG))
        entry = self._cells.get(key)
        if entry is None:
            entry = self._cell(key)
        if entry is _WATER or entry is _LAND:
            return entry is _LAND
        return bool(shapely.contains_xy(entry, lon, lat))

    def _shore_distance_m(self, lat: float, lon: float) -> float:
        key = (lat, lon)
        found = self._shore_memo.get(key)
        if found is None:
            if len(self._shore_memo) >= _SHORE_MEMO_MAX:
                self._shore_memo.clear()
            found = self._shore_memo[key] = self._shore_search_m(lat, lon)
        return found

    def _shore_search_m(self, lat: float, lon: float) -> float:
        k = math.cos(math.radians(lat))
        r = _FIRST_WINDOW_DEG
        while r <= _MAX_WINDOW_DEG and self._n_segments:
            window = box(lon - r / k, lat - r, lon + r / k, lat + r)
            groups = self._seg_tree.query(window)
            if len(groups):
                idx = (groups[:, None] * _GROUP + self._offsets).ravel()
                idx = idx[idx < self._n_segments]
                ax = (self._ax[idx] - lon) * k
                ay = self._ay[idx] - lat
                dx = self._dx[idx] * k
                dy = self._dy[idx]
                t = np.clip(-(ax * dx + ay * dy) / (dx * dx + dy * dy), 0.0, 1.0)
                px, py = ax + t * dx, ay + t * dy
                d2 = px * px + py * py
                i = int(np.argmin(d2))
                # Any segment nearer than r (in the scaled frame) meets the window: exact.
                if d2[i] <= r * r:
                    return distance_m(lat, lon, lat + float(py[i]), lon + float(px[i]) / k)
            r *= 4.0
        return math.inf

    def distance_to_water_m(self, lat: float, lon: float) -> float:
        """Metres from the position to the nearest water; 0.0 on water (or outside coverage)."""
        if not self._inside_land(lat, lon):
            return 0.0
        return self._shore_distance_m(lat, lon)

    def is_on_land(self, lat: float, lon: float, margin_m: float = ON_LAND_MARGIN_M) -> bool:
        """True when the position is more than ``margin_m`` from the nearest water and not
        within a listed harbour's allowance."""
        if not self._inside_land(lat, lon):
            return False
        return self._shore_distance_m(lat, lon) > margin_m and not self.in_harbour(lat, lon)


def _data_path(name: str) -> Path:
    with resources.as_file(resources.files("mda") / "data" / name) as path:
        return Path(path)


def _harbours(path: Path) -> list[tuple[float, float, float]]:
    with open(path, newline="") as f:
        return [
            (
                float(r["lat"]),
                float(r["lon"]),
                HARBOUR_RADIUS_M.get(r["harbor_size"], _HARBOUR_DEFAULT_M),
            )
            for r in csv.DictReader(f)
        ]


@functools.cache
def _default_mask() -> LandMask:
    harbours = _harbours(_data_path("wpi_harbours.csv"))
    return LandMask.from_file(_data_path("land_na.bin.gz"), harbours=harbours)
