"""Build ``mda/data/zones_default.geojson``: the default ``monitored`` regions (DESIGN.md §7).

Reproducibility script (shapely only). Input: the Natural Earth 10m clips in
``../shared/data/naturalearth/`` (public domain, v4.0.0; see mda/data/ATTRIBUTION.md).

What each region is made of:

- **Great Lakes**: the five lakes, Lake St. Clair (whose Natural Earth polygon also covers the
  Detroit River) and the St. Marys River polygon, buffered by ``LAKE_BUFFER_M`` so harbours
  and shore berths that the 1:10m shoreline cuts off stay inside; plus river corridors of
  half-width ``RIVER_HALF_WIDTH_M`` along the St. Clair and Niagara centerlines and the Welland
  Canal line.
- **St. Lawrence River**: the upper river centerline (Lake Ontario outlet to Cornwall) as a
  corridor, plus the Natural Earth sea (non-land) from Cornwall down the river and estuary to
  Pointe-des-Monts, inside a hand-drawn extent polygon.
- **Gulf of St. Lawrence**: all sea inside a hand-drawn polygon closed at Pointe-des-Monts,
  Cabot Strait and the Strait of Belle Isle (the Gulf is wider than 2 x 40 nm, so a coastal
  band alone would leave holes in it).
- **Coastal approaches**: sea within ``APPROACH_M`` (40 nm) of any Natural Earth land, cut into
  regions by hand-drawn boxes (Gulf of Maine/Bay of Fundy; US east coast Nantucket to Cape
  Hatteras/Lookout; Atlantic Canada; Salish Sea; BC coast to Dixon Entrance; US west coast).

Every region is then grown by ``SHORE_MARGIN_M`` (so a ship at a berth that the generalised
shoreline puts just inland still counts), made disjoint from the regions before it, simplified
with ``SIMPLIFY_DEG`` and rounded to 4 decimals (~10 m).

Metric buffers. Shapely has no projections and pyproj is not installed, so a buffer of D metres
is computed band by band: the geometry is cut into 1°-latitude bands (with a margin of D), each
band is mapped to a local equirectangular frame (x = Δlon·cos(lat_mid)·111.32 km,
y = Δlat·110.95 km), buffered in metres, mapped back and clipped to its band. Within a 1° band
the east-west scale error is at most tan(lat)·0.5°, under 1.3% at 55 N; for a region mask with
a 1 km shore margin and a 0.01° simplification that is far below the other errors.

Usage: python scripts/build_default_zones.py NATURALEARTH_DIR OUT_GEOJSON
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry

NM_M = 1852.0
APPROACH_M = 40 * NM_M  # 74,080 m
LAKE_BUFFER_M = 2_000.0
RIVER_HALF_WIDTH_M = 1_500.0
SHORE_MARGIN_M = 1_000.0
SIMPLIFY_DEG = 0.01
M_PER_DEG_LAT = 110_950.0  # mid-latitude value; varies 110.6–111.7 km from the equator to the pole
M_PER_DEG_LON_EQ = 111_320.0

GREAT_LAKES = (
    "Lake Superior",
    "Lake Michigan",
    "Lake Huron",
    "Lake Erie",
    "Lake Ontario",
    "Lake St. Clair",
    "St. Marys River",
)

# Hand-drawn extents (lon, lat). Land inside them is removed, so they may cut across land
# freely; only their water edges matter, and each is named in the zone's ``source``.
ST_LAWRENCE_RIVER_EXTENT = [
    (-74.80, 44.85),
    (-71.00, 45.70),
    (-67.40, 48.20),
    (-67.40, 50.30),
    (-70.00, 50.30),
    (-74.80, 46.00),
]
GULF_EXTENT = [
    (-67.40, 48.20),
    (-67.40, 50.60),
    (-60.00, 50.60),
    (-57.00, 52.00),
    (-55.30, 52.00),
    (-55.30, 51.40),
    (-57.50, 49.50),
    (-59.30, 47.62),  # Cape Ray, Newfoundland
    (-60.40, 47.03),  # Cape North, Cape Breton: Cabot Strait closing line
    (-61.30, 45.60),
    (-64.30, 46.00),  # Chignecto isthmus (land): keeps the Bay of Fundy out
    (-66.00, 47.50),
]
SALISH_SEA_EXTENT = [
    (-124.75, 48.15),
    (-124.75, 48.70),
    (-125.50, 50.15),
    (-124.30, 50.60),
    (-122.50, 50.00),
    (-121.90, 48.80),
    (-122.00, 47.00),
    (-123.20, 46.95),
    (-123.30, 48.00),
    (-124.10, 48.10),
]

Region = tuple[str, str, str, BaseGeometry | None]


def local_frame(lat0: float) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Forward/inverse maps lon/lat <-> metres in an equirectangular frame true at ``lat0``."""
    kx = M_PER_DEG_LON_EQ * math.cos(math.radians(lat0))

    def fwd(xy: Any) -> Any:
        return np.column_stack([xy[:, 0] * kx, (xy[:, 1] - lat0) * M_PER_DEG_LAT])

    def inv(xy: Any) -> Any:
        return np.column_stack([xy[:, 0] / kx, xy[:, 1] / M_PER_DEG_LAT + lat0])

    return fwd, inv


def buffer_m(geom: BaseGeometry, distance_m: float, band_deg: float = 1.0) -> BaseGeometry:
    """Buffer ``geom`` (lon/lat) by ``distance_m`` metres, 1°-latitude band by band."""
    if geom.is_empty:
        return geom
    minx, miny, maxx, maxy = geom.bounds
    margin_deg = distance_m / M_PER_DEG_LAT + 0.05
    lat = math.floor((miny - margin_deg) / band_deg) * band_deg
    pieces = []
    while lat < maxy + margin_deg:
        band = box(minx - 10, lat, maxx + 10, lat + band_deg)
        near = box(minx - 10, lat - margin_deg, maxx + 10, lat + band_deg + margin_deg)
        part = shapely.intersection(geom, near)
        if not part.is_empty:
            fwd, inv = local_frame(lat + band_deg / 2)
            grown = shapely.transform(shapely.transform(part, fwd).buffer(distance_m, 8), inv)
            pieces.append(shapely.intersection(grown, band))
        lat += band_deg
    return shapely.unary_union(pieces)


def read(nat: Path, name: str) -> list[dict[str, Any]]:
    data = json.loads((nat / f"{name}.geojson").read_text(encoding="utf-8"))
    features: list[dict[str, Any]] = data["features"]
    return features


def polygons_only(geom: BaseGeometry) -> BaseGeometry:
    """Drop points/lines that an intersection may leave; keep (Multi)Polygon parts."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
    return shapely.unary_union(parts) if parts else Polygon()


def build(nat: Path) -> list[dict[str, Any]]:
    land_all = shapely.unary_union([shape(f["geometry"]) for f in read(nat, "ne_10m_land_na")])
    # Land is only subtracted and buffered at these scales: a light simplification keeps the
    # buffer fast without moving a shoreline by more than ~100 m.
    land = shapely.make_valid(land_all.simplify(0.001, preserve_topology=True))
    lakes = {
        f["properties"]["name"]: shape(f["geometry"])
        for f in read(nat, "ne_10m_lakes_na")
        if f["properties"].get("name") in GREAT_LAKES
    }
    missing = set(GREAT_LAKES) - set(lakes)
    if missing:
        raise SystemExit(f"lakes not found: {sorted(missing)}")
    centerlines = {
        f["properties"]["name"]: shape(f["geometry"])
        for f in read(nat, "ne_10m_rivers_lake_centerlines_na")
        if f["properties"].get("name") in ("St. Lawrence", "St. Clair", "Niagara")
    }
    welland = [
        shape(f["geometry"])
        for f in read(nat, "ne_10m_rivers_north_america_na")
        if f["properties"].get("name") == "Welland Canal"
    ]

    great_lakes = shapely.unary_union(
        [
            buffer_m(shapely.unary_union(list(lakes.values())), LAKE_BUFFER_M),
            buffer_m(
                shapely.unary_union([centerlines["St. Clair"], centerlines["Niagara"], *welland]),
                RIVER_HALF_WIDTH_M,
            ),
        ]
    )
    sea = shapely.difference(box(-180, 20, -50, 75), land)
    river = shapely.unary_union(
        [
            buffer_m(centerlines["St. Lawrence"], RIVER_HALF_WIDTH_M),
            shapely.intersection(sea, Polygon(ST_LAWRENCE_RIVER_EXTENT)),
        ]
    )
    gulf = shapely.intersection(sea, Polygon(GULF_EXTENT))

    def approaches(extent: BaseGeometry) -> BaseGeometry:
        near_land = shapely.intersection(land, extent.buffer(1.5))
        band = buffer_m(near_land, APPROACH_M)
        return shapely.difference(shapely.intersection(band, extent), land)

    atlantic = approaches(box(-80.0, 34.5, -50.0, 52.0))
    pacific = approaches(box(-136.0, 32.53, -117.0, 55.0))
    salish = shapely.intersection(sea, Polygon(SALISH_SEA_EXTENT))

    ne_lakes = "Natural Earth 10m lakes (ne_10m_lakes_na)"
    ne_land = "Natural Earth 10m land (ne_10m_land_na)"
    regions: list[Region] = [
        (
            "mon-great-lakes",
            "Great Lakes and connecting channels (St. Marys, St. Clair, Detroit, Niagara, Welland)",
            f"{ne_lakes}: {', '.join(GREAT_LAKES)} buffered {LAKE_BUFFER_M:.0f} m; "
            f"corridors of half-width {RIVER_HALF_WIDTH_M:.0f} m along ne_10m_rivers_lake_"
            "centerlines St. Clair and Niagara and ne_10m_rivers_north_america Welland Canal. "
            "No hand-drawn edge.",
            great_lakes,
        ),
        (
            "mon-st-lawrence-river",
            "St. Lawrence River and estuary (Lake Ontario outlet to Pointe-des-Monts)",
            "ne_10m_rivers_lake_centerlines St. Lawrence (-75.79 to -74.71) as a corridor of "
            f"half-width {RIVER_HALF_WIDTH_M:.0f} m, plus {ne_land} sea inside a hand-drawn "
            "extent ending at -67.4 (Pointe-des-Monts): the downstream cut is judgement.",
            river,
        ),
        (
            "mon-gulf-st-lawrence",
            "Gulf of St. Lawrence",
            f"{ne_land} sea inside a hand-drawn polygon closed at Pointe-des-Monts, Cabot "
            "Strait (Cape Ray to Cape North) and the Strait of Belle Isle: closing lines are "
            "judgement.",
            gulf,
        ),
        (
            "mon-gulf-of-maine",
            "Gulf of Maine, Bay of Fundy and Georges Bank approaches to 40 nm",
            f"{ne_land} buffered 40 nm (74,080 m, banded local equirectangular frame) minus "
            "land, inside the box -71.5..-65.5 E, 41.3..46.0 N (box edges are judgement).",
            shapely.intersection(atlantic, box(-71.5, 41.3, -65.5, 46.0)),
        ),
        (
            "mon-atlantic-us-east",
            "US east coast approaches to 40 nm (Nantucket to Cape Hatteras/Cape Lookout)",
            f"{ne_land} buffered 40 nm (74,080 m, banded local equirectangular frame) minus "
            "land, inside the box -80..-65.5 E, 34.5..41.3 N (box edges are judgement).",
            shapely.intersection(atlantic, box(-80.0, 34.5, -65.5, 41.3)),
        ),
        (
            "mon-atlantic-canada",
            "Atlantic Canada approaches to 40 nm (Nova Scotia, Cabot Strait, Newfoundland)",
            f"{ne_land} buffered 40 nm (74,080 m, banded local equirectangular frame) minus "
            "land, inside the box -65.5..-50 E, 40..52 N (box edges are judgement).",
            shapely.intersection(atlantic, box(-65.5, 40.0, -50.0, 52.0)),
        ),
        (
            "mon-salish-sea",
            "Salish Sea: Juan de Fuca, Haro Strait, Strait of Georgia, Puget Sound",
            f"{ne_land} sea inside a hand-drawn extent (Juan de Fuca mouth at -124.75, north "
            "end past Campbell River, south end Olympia): extent is judgement.",
            salish,
        ),
        (
            "mon-pacific-bc",
            "BC coast approaches to 40 nm, Juan de Fuca mouth to Dixon Entrance",
            f"{ne_land} buffered 40 nm (74,080 m, banded local equirectangular frame) minus "
            "land, inside the box -136..-122 E, 48.4..55.0 N (box edges are judgement).",
            shapely.intersection(pacific, box(-136.0, 48.4, -122.0, 55.0)),
        ),
        (
            "mon-pacific-us-west",
            "US west coast approaches to 40 nm (Washington, Oregon, California)",
            f"{ne_land} buffered 40 nm (74,080 m, banded local equirectangular frame) minus "
            "land, inside the box -136..-117 E, 32.53..48.4 N (box edges are judgement; "
            "south edge at the Mexican border latitude).",
            shapely.intersection(pacific, box(-136.0, 32.53, -117.0, 48.4)),
        ),
    ]

    features = []
    taken: BaseGeometry = Polygon()
    for zone_id, name, source, geom in regions:
        assert geom is not None
        grown = buffer_m(polygons_only(geom), SHORE_MARGIN_M)
        own = polygons_only(shapely.difference(grown, taken))
        taken = shapely.unary_union([taken, own])
        slim = own.simplify(SIMPLIFY_DEG, preserve_topology=True)
        slim = polygons_only(shapely.make_valid(shapely.set_precision(slim, 1e-4)))
        # Drop specks (< ~0.5 km²) that simplification and differencing leave behind.
        parts = [p for p in getattr(slim, "geoms", [slim]) if p.area > 5e-5]
        slim = MultiPolygon(parts) if len(parts) > 1 else parts[0]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "zone_id": zone_id,
                    "name": name,
                    "kind": "monitored",
                    "jurisdiction": "BI",
                    "source": f"{source} Grown {SHORE_MARGIN_M:.0f} m as a shore margin, "
                    f"simplified {SIMPLIFY_DEG}°.",
                },
                "geometry": mapping(slim),
            }
        )
    return features


def round_coords(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return [round_coords(x) for x in obj]
    return obj


def main(argv: list[str]) -> int:
    nat, out = Path(argv[1]), Path(argv[2])
    features = build(nat)
    for f in features:
        f["geometry"]["coordinates"] = round_coords(f["geometry"]["coordinates"])
    doc = {"type": "FeatureCollection", "name": "zones_default", "features": features}
    out.write_text(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n", "utf-8")
    sys.stderr.write(f"wrote {len(features)} zones, {out.stat().st_size} bytes to {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
