"""Build ``mda/data/us_canada_boundary.geojson`` from the copied NOAA boundary lines.

Input: ``../shared/data/reference/us_canada_boundary_noaa.geojson`` (19 LineStrings, DERIVED in
shared/data from the NOAA OCS US Maritime Limits & Boundaries shapefile). The output keeps
every feature and every vertex; it only drops the properties ``mda.geo`` does not use (keeping
``BOUND_ID``, ``FEAT_TYPE`` and ``NOTE``) and rounds coordinates to 6 decimals (~0.1 m), so
the shipped file is smaller and diffs stay readable.

Usage: python scripts/build_boundary.py SRC_GEOJSON OUT_GEOJSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KEEP = ("BOUND_ID", "FEAT_TYPE", "NOTE")


def slim(src: dict[str, Any]) -> dict[str, Any]:
    """The same FeatureCollection with fewer properties and 6-decimal coordinates."""
    features = []
    for f in src["features"]:
        geom = f["geometry"]
        if geom["type"] != "LineString":
            raise ValueError(f"unexpected geometry {geom['type']}")
        coords = [[round(x, 6), round(y, 6)] for x, y in geom["coordinates"]]
        features.append(
            {
                "type": "Feature",
                "properties": {k: f["properties"][k] for k in KEEP},
                "geometry": {"type": "LineString", "coordinates": coords},
            }
        )
    return {
        "type": "FeatureCollection",
        "name": "us_canada_boundary",
        "crs_note": src.get("crs_note", "WGS84 lon/lat"),
        "features": features,
    }


def main(argv: list[str]) -> int:
    src = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    out = slim(src)
    Path(argv[2]).write_text(json.dumps(out, separators=(",", ":")) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
