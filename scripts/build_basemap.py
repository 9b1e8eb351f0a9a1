"""Build ``streams/static/basemap.json.gz``: the watch-floor page's map (no internet tiles).

Reproducibility script (shapely only). Input: the Natural Earth clips in
``../shared/data/naturalearth/`` (public domain, v4.0.0; see mda/data/ATTRIBUTION.md).

Layers (one GeoJSON FeatureCollection, ``properties.layer`` names the layer):

- ``land``: ne_10m_land ∪ ne_10m_minor_islands, simplified (Douglas–Peucker, topology kept)
  to ``TOLERANCE_DEG`` — a display map, not the POSITION_ON_LAND mask (that is
  ``mda/data/land_na.bin.gz``, full resolution).
- ``lake``: ne_10m_lakes ∪ ne_10m_lakes_north_america (the Great Lakes are not holes in the
  land layer), same simplification, parts smaller than ``MIN_AREA_DEG2`` dropped.
- ``border``: the land borders between countries (ne_50m_admin_0_countries boundaries that
  are shared by two countries), simplified.
- ``river``: ne_10m_rivers_lake_centerlines with ``scalerank`` ≤ ``MAX_RIVER_RANK`` (the
  St. Lawrence, the Mississippi, the connecting channels of the Great Lakes).

Coordinates are rounded to ``DECIMALS`` decimals; gzip with mtime 0 (reproducible bytes).
The maritime boundary and the zones are not in this file: the worker serves the ones its
rules use (``/watch/overlays.json``).

Usage: python scripts/build_basemap.py NATURALEARTH_DIR OUT_FILE
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.ops import unary_union

TOLERANCE_DEG = 0.01
MIN_AREA_DEG2 = 0.0004
MAX_RIVER_RANK = 6
DECIMALS = 3


def _load(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["features"])


def _polys(geom: Any) -> list[Any]:
    if geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    if geom.geom_type == "MultiPolygon":
        return list(geom.geoms)
    if geom.geom_type == "GeometryCollection":
        return [p for g in geom.geoms for p in _polys(g)]
    return []


def _round(geom: Any) -> Any:
    return shapely.set_precision(geom, 10**-DECIMALS)


def _feature(layer: str, geom: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"layer": layer}, "geometry": mapping(geom)}


def build(ne_dir: Path) -> dict[str, Any]:
    features: list[dict[str, Any]] = []

    for layer, files in (
        ("land", ("ne_10m_land_na", "ne_10m_minor_islands_na")),
        ("lake", ("ne_10m_lakes_na", "ne_10m_lakes_north_america_na")),
    ):
        area = unary_union(
            [shape(f["geometry"]) for name in files for f in _load(ne_dir / f"{name}.geojson")]
        )
        for p in _polys(_round(area.simplify(TOLERANCE_DEG, preserve_topology=True))):
            if p.area >= MIN_AREA_DEG2:
                features.append(_feature(layer, p))

    countries = [
        shape(f["geometry"]) for f in _load(ne_dir / "ne_50m_admin_0_countries_na.geojson")
    ]
    borders = []
    for i, a in enumerate(countries):
        for b in countries[i + 1 :]:
            if a.intersects(b):
                shared = a.boundary.intersection(b.boundary)
                if not shared.is_empty and shared.length > 0:
                    borders.append(shared)
    if borders:
        merged = shapely.line_merge(unary_union(borders))
        features.append(_feature("border", _round(merged.simplify(TOLERANCE_DEG))))

    rivers = [
        shape(f["geometry"])
        for f in _load(ne_dir / "ne_10m_rivers_lake_centerlines_na.geojson")
        if (f["properties"].get("scalerank") or 99) <= MAX_RIVER_RANK
    ]
    if rivers:
        features.append(_feature("river", _round(unary_union(rivers).simplify(TOLERANCE_DEG))))
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str]) -> int:
    ne_dir, out = Path(argv[1]), Path(argv[2])
    data = json.dumps(build(ne_dir), separators=(",", ":")).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(data)
    print(f"{out}: {len(data)} bytes of GeoJSON, {out.stat().st_size} gzipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
