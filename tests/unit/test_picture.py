"""The live picture (/vessels): vessels in a cell or a bounding box, as GeoJSON."""

from __future__ import annotations

import pytest

from mda.hexgrid import latlng_to_cell
from mda.picture import Area, QueryError, vessels_geojson
from mda.state import OpenAlert, VesselTrack
from tests.unit.builders import T0_MS


def track(mmsi: int, lat: float, lon: float, at: int = T0_MS) -> VesselTrack:
    return VesselTrack(mmsi=mmsi, last_ms=at, lat=lat, lon=lon, pos_ms=at, sog_kn=1.0, name="X")


def test_cell_and_bbox_queries() -> None:
    tracks = [
        track(316000001, 42.30, -81.0).with_open(OpenAlert("LOITERING", T0_MS, "medium")),
        track(316000002, 42.31, -81.0),
        track(316000003, 43.30, -87.3),
        track(316000004, 42.30, -81.0, at=T0_MS - 3600_000),  # stale
    ]
    encounter = {"rule": "ENCOUNTER", "severity": "high", "opened_ms": T0_MS, "mmsi": 316000001}
    extra = {316000001: [{**encounter, "other_mmsi": 316000002}]}
    fc = vessels_geojson(
        tracks, Area.parse(None, "-81.1,42.2,-80.9,42.4"), lambda m: "CA", T0_MS, 600, extra
    )
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == [316000001, 316000002]
    props = fc["features"][0]["properties"]
    assert props["flag"] == "CA" and props["sog_kn"] == 1.0
    assert {a["rule"] for a in props["open_alerts"]} == {"LOITERING", "ENCOUNTER"}
    assert fc["features"][0]["geometry"] == {"type": "Point", "coordinates": [-81.0, 42.30]}
    cell = latlng_to_cell(43.30, -87.3, 7)
    fc = vessels_geojson(tracks, Area.parse(cell, None), lambda m: None, T0_MS, 600)
    assert [f["id"] for f in fc["features"]] == [316000003]


@pytest.mark.parametrize(
    ("cell", "bbox"), [("zz", None), (None, "1,2,3"), (None, "3,0,1,1"), (None, None)]
)
def test_bad_queries(cell: str | None, bbox: str | None) -> None:
    with pytest.raises(QueryError):
        Area.parse(cell, bbox)
