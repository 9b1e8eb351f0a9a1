"""Build ``mda/data/land_na.bin.gz``: the land mask of POSITION_ON_LAND (DESIGN.md §9).

Reproducibility script (shapely only). Input: the Natural Earth 10m clips in
``../shared/data/naturalearth/`` (public domain, v4.0.0; see mda/data/ATTRIBUTION.md).

Land = (ne_10m_land − ne_10m_lakes − ne_10m_lakes_north_america) ∪ ne_10m_minor_islands
       − river and canal corridors − a few hand-drawn harbour waters,

over the Natural Earth clip box lon −170…−50, lat 20…75 (outside it everything is water).

- **Lakes**: every polygon of both lake files (the Great Lakes are not holes in ne_10m_land).
- **Corridors** (water where Natural Earth has only a centerline), each a buffer of the line:
  every ``River`` feature of ne_10m_rivers_lake_centerlines, half-width
  ``RIVER_HALF_WIDTH_M`` (DESIGN.md: rivers and the Seaway are water; this includes the St.
  Clair, the Niagara below Lake Erie's polygon, the upper St. Lawrence from Lake Ontario to
  Cornwall, and the inland rivers where AIS-equipped towboats run); the Welland Canal and the
  lower reaches of the Cuyahoga (Cleveland) and Maumee (Toledo)
  from ne_10m_rivers_north_america, same half-width; and short hand-drawn lines, half-width
  ``HAND_HALF_WIDTH_M``, for channels Natural Earth lacks (``HAND_LINES``, judgement).
- **Hand-drawn waters** (``HAND_WATERS``, judgement): Hamilton Harbour, absent from Natural
  Earth, which otherwise puts the harbour 7 km inland.
- The Detroit River needs nothing: Natural Earth's "Lake St. Clair" polygon covers it down to
  Lake Erie. The Sault's St. Marys River is a lake polygon of its own.

The result is cut into pieces along whole-degree lines (a quadtree, until a piece has at most
``MAX_PIECE_COORDS`` vertices or spans one degree), snapped to a 1e-5° grid (~1 m) and written
as a compact binary file (see ``mda/landmask.py`` for the layout): int32 coordinates in units
of 1e-5°, delta-encoded, gzip with mtime 0 so the bytes are reproducible. The cut edges lie on
whole degrees and are recognised and ignored as water edges when the mask is loaded.

Usage: python scripts/build_landmask.py NATURALEARTH_DIR OUT_FILE
"""

from __future__ import annotations

import gzip
import json
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from _metric import buffer_m
from shapely.geometry import LineString, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

COVER_BOX = (-170.0, 20.0, -50.0, 75.0)
RIVER_HALF_WIDTH_M = 1_000.0
HAND_HALF_WIDTH_M = 400.0
MAX_PIECE_COORDS = 2_000
SCALE = 100_000  # coordinate units per degree (1e-5°, ~1 m)
MAGIC = b"MDALAND1"

REGIONAL_LINES = {
    # name_full in ne_10m_rivers_north_america -> the reach kept (lon/lat box), judgement
    "Welland Canal": (-79.40, 42.80, -79.10, 43.30),
    "Cuyahoga River": (-81.80, 41.45, -81.60, 41.55),
    "Maumee River": (-83.70, 41.60, -83.40, 41.75),
}

# Channels absent from Natural Earth, drawn by judgement from general maps (lon, lat).
HAND_LINES = {
    "Burlington Canal (Hamilton Harbour entrance)": [(-79.810, 43.296), (-79.775, 43.300)],
    "Calumet River (Calumet Harbor to Lake Calumet)": [
        (-87.524, 41.733),
        (-87.535, 41.722),
        (-87.545, 41.700),
        (-87.565, 41.680),
    ],
    "Chicago River main stem": [(-87.6095, 41.8885), (-87.6370, 41.8870)],
    "Seaway South Shore Canal (St-Lambert to Cote-Ste-Catherine, to Lake St. Louis)": [
        (-73.515, 45.505),
        (-73.540, 45.460),
        (-73.566, 45.408),
        (-73.600, 45.395),
    ],
    "Wiley-Dondero Canal (Eisenhower and Snell locks, approximate)": [
        (-74.880, 45.000),
        (-74.848, 44.995),
        (-74.808, 44.985),
        (-74.775, 44.990),
    ],
    "Soo Locks channel (St. Marys River, US side)": [
        (-84.380, 46.505),
        (-84.350, 46.502),
        (-84.330, 46.500),
    ],
}
HAND_WATERS = {
    "Hamilton Harbour": [
        (-79.885, 43.285),
        (-79.860, 43.300),
        (-79.830, 43.310),
        (-79.800, 43.318),
        (-79.790, 43.305),
        (-79.782, 43.285),
        (-79.782, 43.270),
        (-79.800, 43.262),
        (-79.830, 43.265),
        (-79.860, 43.268),
        (-79.880, 43.275),
    ],
}


def read(nat: Path, name: str) -> list[dict[str, Any]]:
    data = json.loads((nat / f"{name}.geojson").read_text(encoding="utf-8"))
    features: list[dict[str, Any]] = data["features"]
    return features


def union_of(features: list[dict[str, Any]]) -> BaseGeometry:
    return shapely.unary_union([shape(f["geometry"]) for f in features])


def corridors(nat: Path) -> BaseGeometry:
    rivers = [
        shape(f["geometry"])
        for f in read(nat, "ne_10m_rivers_lake_centerlines_na")
        if f["properties"].get("featurecla") == "River"
    ]
    regional = []
    found = set()
    for f in read(nat, "ne_10m_rivers_north_america_na"):
        name = f["properties"].get("name_full")
        if name in REGIONAL_LINES:
            part = shapely.intersection(shape(f["geometry"]), box(*REGIONAL_LINES[name]))
            if not part.is_empty:
                regional.append(part)
                found.add(name)
    missing = set(REGIONAL_LINES) - found
    if missing:
        raise SystemExit(f"regional lines not found: {sorted(missing)}")
    ne_lines = shapely.unary_union([*rivers, *regional])
    hand = shapely.unary_union([LineString(c) for c in HAND_LINES.values()])
    return shapely.unary_union(
        [
            buffer_m(ne_lines, RIVER_HALF_WIDTH_M),
            buffer_m(hand, HAND_HALF_WIDTH_M),
            *[Polygon(c) for c in HAND_WATERS.values()],
        ]
    )


def polygons_of(geom: BaseGeometry) -> list[Polygon]:
    parts = getattr(geom, "geoms", [geom])
    out: list[Polygon] = []
    for g in parts:
        if isinstance(g, Polygon):
            if not g.is_empty:
                out.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(polygons_of(g))
    return out


def split(geom: BaseGeometry, x0: int, y0: int, x1: int, y1: int) -> list[Polygon]:
    """Quadtree cut along whole degrees until each piece is small."""
    if geom.is_empty:
        return []
    if shapely.get_num_coordinates(geom) <= MAX_PIECE_COORDS or (x1 - x0 <= 1 and y1 - y0 <= 1):
        return polygons_of(geom)
    if x1 - x0 >= y1 - y0:
        xm = (x0 + x1) // 2
        halves = [(x0, y0, xm, y1), (xm, y0, x1, y1)]
    else:
        ym = (y0 + y1) // 2
        halves = [(x0, y0, x1, ym), (x0, ym, x1, y1)]
    out: list[Polygon] = []
    for bx0, by0, bx1, by1 in halves:
        part = shapely.intersection(geom, box(bx0, by0, bx1, by1))
        out.extend(split(part, bx0, by0, bx1, by1))
    return out


def build(nat: Path) -> list[Polygon]:
    cover = box(*COVER_BOX)
    land = shapely.intersection(union_of(read(nat, "ne_10m_land_na")), cover)
    lakes = shapely.unary_union(
        [
            union_of(read(nat, "ne_10m_lakes_na")),
            union_of(read(nat, "ne_10m_lakes_north_america_na")),
        ]
    )
    islands = shapely.intersection(union_of(read(nat, "ne_10m_minor_islands_na")), cover)
    mask = shapely.difference(
        shapely.union(shapely.difference(land, lakes), islands), corridors(nat)
    )
    x0, y0, x1, y1 = (int(v) for v in COVER_BOX)
    pieces = []
    for piece in split(mask, x0, y0, x1, y1):
        snapped = shapely.set_precision(piece, 1.0 / SCALE)
        pieces.extend(p for p in polygons_of(snapped) if p.area > 0)
    # Stable order: by bounds, so the file does not depend on set/quadtree iteration quirks.
    pieces.sort(key=lambda p: tuple(round(b * SCALE) for b in p.bounds))
    return pieces


def encode(pieces: list[Polygon]) -> bytes:
    """The layout read by ``mda.landmask.LandMask.from_file`` (little-endian int32 arrays)."""
    geom_type, coords, (ring_offsets, poly_offsets) = shapely.to_ragged_array(pieces)
    assert geom_type == shapely.GeometryType.POLYGON
    ints = np.round(coords * SCALE).astype(np.int64)
    assert np.all(np.abs(ints) < 2**31)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).astype("<i4")
    header = struct.pack("<8s3i", MAGIC, len(ints), len(ring_offsets), len(poly_offsets))
    body = (
        header
        + deltas.tobytes()
        + np.asarray(ring_offsets, dtype="<i4").tobytes()
        + np.asarray(poly_offsets, dtype="<i4").tobytes()
    )
    return gzip.compress(body, compresslevel=9, mtime=0)


def main(argv: list[str]) -> int:
    nat, out = Path(argv[1]), Path(argv[2])
    pieces = build(nat)
    out.write_bytes(encode(pieces))
    n = sum(shapely.get_num_coordinates(p) for p in pieces)
    sys.stderr.write(f"wrote {len(pieces)} pieces, {n} vertices, {out.stat().st_size} bytes\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
