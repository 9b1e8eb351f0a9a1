"""Zones, boundary side/distance and jurisdiction, checked on real places.

Expected answers come from geography known independently of the code (which country a city
or island is in, which shore of a boundary water a harbour is on), not from the code itself.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from mda.errors import ReferenceDataError
from mda.geo import Geography, Zone, _unit_vectors, load_zones, merge_zones, releasability
from mda.hexgrid import distance_m

DATA = Path(__file__).resolve().parents[2] / "mda" / "data"


@pytest.fixture(scope="module")
def geo() -> Geography:
    return Geography.load()


# (name, lat, lon, side)
SIDES = [
    ("Toronto harbour", 43.63, -79.38, "CA"),
    ("Lake Ontario off Rochester", 43.30, -77.60, "US"),
    ("Lake Erie near Long Point", 42.55, -80.20, "CA"),
    ("Lake Erie off Cleveland", 41.60, -81.70, "US"),
    ("Pelee Island", 41.77, -82.65, "CA"),
    ("Kelleys Island", 41.60, -82.70, "US"),
    ("Windsor", 42.28, -83.00, "CA"),
    ("Detroit", 42.36, -83.07, "US"),
    ("Lake St. Clair east", 42.45, -82.55, "CA"),
    ("Lake St. Clair west", 42.50, -82.85, "US"),
    ("Sault Ste. Marie ON", 46.53, -84.30, "CA"),
    ("Sault Ste. Marie MI", 46.47, -84.36, "US"),
    ("Thunder Bay", 48.40, -89.20, "CA"),
    ("Isle Royale", 48.00, -88.90, "US"),
    ("Duluth", 46.75, -92.00, "US"),
    ("Georgian Bay", 45.00, -80.80, "CA"),
    ("Lake Huron off Alpena", 45.05, -83.30, "US"),
    ("Lake Michigan", 43.00, -87.00, "US"),
    ("Niagara Falls ON", 43.08, -79.10, "CA"),
    ("Niagara Falls NY", 43.10, -79.00, "US"),
    ("Kingston", 44.23, -76.48, "CA"),
    ("Alexandria Bay", 44.335, -75.92, "US"),
    ("Cornwall", 45.02, -74.73, "CA"),
    ("Massena", 44.93, -74.89, "US"),
    ("Victoria", 48.40, -123.38, "CA"),
    ("Port Angeles", 48.13, -123.43, "US"),
    ("Juan de Fuca off Sooke", 48.35, -123.73, "CA"),
    ("Juan de Fuca off Port Crescent", 48.17, -123.73, "US"),
    ("Haro Strait west (Sidney Island side)", 48.55, -123.30, "CA"),
    ("Haro Strait east (San Juan Island side)", 48.55, -123.18, "US"),
    ("Point Roberts", 48.985, -123.07, "US"),
    ("Galiano Island", 48.95, -123.45, "CA"),
    ("Blaine", 48.99, -122.75, "US"),
    ("White Rock", 49.02, -122.80, "CA"),
    ("Vancouver harbour", 49.29, -123.10, "CA"),
    ("Seattle", 47.60, -122.35, "US"),
    ("Prairies north of 49", 49.10, -100.00, "CA"),
    ("Prairies south of 49", 48.90, -100.00, "US"),
    ("Eastport ME", 44.906, -66.99, "US"),
    ("Campobello Island", 44.88, -66.93, "CA"),
    ("Deer Island NB", 44.99, -66.95, "CA"),
    ("Grand Manan", 44.70, -66.80, "CA"),
    ("Georges Bank, Canadian part", 42.00, -65.50, "CA"),
    ("Georges Bank, US part", 42.00, -67.50, "US"),
    ("Halifax", 44.63, -63.55, "CA"),
    ("Boston", 42.35, -71.00, "US"),
    ("Prince Rupert", 54.31, -130.33, "CA"),
    ("Ketchikan", 55.34, -131.65, "US"),
    ("Stewart BC", 55.94, -129.99, "CA"),
    ("Hyder AK", 55.92, -130.02, "US"),
    ("Juneau", 58.30, -134.42, "US"),
    ("Whitehorse", 60.72, -135.06, "CA"),
    ("Dawson City", 64.06, -139.43, "CA"),
    ("Eagle AK", 64.79, -141.20, "US"),
    ("Anchorage", 61.20, -149.90, "US"),
]


@pytest.mark.parametrize(("name", "lat", "lon", "side"), SIDES)
def test_side_of_boundary(geo: Geography, name: str, lat: float, lon: float, side: str) -> None:
    assert geo.side_of_boundary(lat, lon) == side, name


@pytest.mark.parametrize(
    ("lat", "lon"), [(21.3, -157.8), (18.45, -66.1), (23.0, -82.0), (50.0, 10.0)]
)
def test_no_side_outside_the_region(geo: Geography, lat: float, lon: float) -> None:
    assert geo.side_of_boundary(lat, lon) is None


MONITORED = [
    ("Lake Ontario mid-lake", 43.60, -77.80),
    ("Lake Michigan", 43.00, -87.00),
    ("Lake Superior", 47.50, -87.50),
    ("Lake St. Clair", 42.45, -82.70),
    ("Detroit River", 42.32, -83.04),
    ("St. Clair River at Corunna", 42.90, -82.46),
    ("Niagara River", 43.20, -79.05),
    ("Welland Canal", 43.00, -79.215),
    ("St. Marys River", 46.50, -84.35),
    ("Thousand Islands", 44.30, -76.00),
    ("Toronto harbour", 43.64, -79.37),
    ("Chicago harbour", 41.88, -87.60),
    ("Duluth harbour", 46.77, -92.10),
    ("St. Lawrence at Cornwall", 45.00, -74.75),
    ("Port of Montréal", 45.51, -73.54),
    ("Québec City", 46.81, -71.20),
    ("Gulf of St. Lawrence", 48.50, -61.50),
    ("Cabot Strait", 47.30, -59.90),
    ("Strait of Belle Isle", 51.50, -56.50),
    ("Halifax approaches", 44.40, -63.40),
    ("St. John's approaches", 47.57, -52.68),
    ("Boston harbour", 42.35, -70.95),
    ("New York approaches", 40.45, -73.80),
    ("Off Cape Hatteras", 35.20, -75.30),
    ("Off New Jersey, about 28 nm", 39.50, -73.50),
    ("Chesapeake Bay at Baltimore", 39.26, -76.58),
    ("Elliott Bay, Seattle", 47.60, -122.36),
    ("Strait of Georgia", 49.30, -123.70),
    ("Hecate Strait", 53.50, -130.80),
    ("Dixon Entrance", 54.50, -132.00),
    ("Off the Washington coast", 47.00, -124.50),
    ("San Francisco approaches", 37.80, -122.60),
]


@pytest.mark.parametrize(("name", "lat", "lon"), MONITORED)
def test_monitored(geo: Geography, name: str, lat: float, lon: float) -> None:
    assert geo.in_monitored_area(lat, lon), name
    assert geo.zones_at(lat, lon), name


@pytest.mark.parametrize(
    ("name", "lat", "lon"),
    [
        ("Chicago, inland", 41.85, -87.75),
        ("Atlantic far offshore", 40.00, -50.50),
        ("Off New Jersey, about 56 nm", 39.50, -72.90),
        ("Lake Winnipeg", 52.00, -97.50),
        ("Gulf of Mexico", 27.00, -90.00),
        ("Hudson Bay", 58.00, -85.00),
        ("Ottawa", 45.42, -75.70),
    ],
)
def test_not_monitored(geo: Geography, name: str, lat: float, lon: float) -> None:
    assert not geo.in_monitored_area(lat, lon), name
    assert geo.zones_at(lat, lon) == (), name


def _boundary_lat_at(bound_id: str, lon: float) -> float:
    """Latitude of a shipped boundary line at ``lon``, read straight from the GeoJSON."""
    doc = json.loads((DATA / "us_canada_boundary.geojson").read_text(encoding="utf-8"))
    (coords,) = [
        f["geometry"]["coordinates"]
        for f in doc["features"]
        if f["properties"]["BOUND_ID"] == bound_id
    ]
    for (x0, y0), (x1, y1) in itertools.pairwise(coords):
        if min(x0, x1) <= lon <= max(x0, x1) and x0 != x1:
            return float(y0 + (y1 - y0) * (lon - x0) / (x1 - x0))
    raise AssertionError(f"{bound_id} does not cross {lon}")


def test_distance_on_the_line_is_zero(geo: Geography) -> None:
    doc = json.loads((DATA / "us_canada_boundary.geojson").read_text(encoding="utf-8"))
    for feature in doc["features"]:
        lon, lat = feature["geometry"]["coordinates"][len(feature["geometry"]["coordinates"]) // 2]
        assert geo.boundary_distance_m(lat, lon) < 1.0, feature["properties"]["BOUND_ID"]


def test_distance_north_of_the_49th_parallel(geo: Geography) -> None:
    line_lat = _boundary_lat_at("B0086", -100.0)
    assert abs(line_lat - 49.0) < 0.01
    expected_m = distance_m(line_lat, -100.0, line_lat + 0.1, -100.0)  # ~11.1 km
    assert expected_m == pytest.approx(11_120, rel=0.01)
    got = geo.boundary_distance_m(line_lat + 0.1, -100.0)
    assert got == pytest.approx(expected_m, rel=0.02)


def test_distance_far_away_is_sane(geo: Geography) -> None:
    # Chicago is about 380 km from the nearest boundary point (Lake Huron / St. Clair side is
    # further; the Lake Superior line off the Keweenaw is nearest): order of magnitude only.
    assert 250_000 < geo.boundary_distance_m(41.85, -87.75) < 500_000
    # Halifax: nearest is the Gulf of Maine line, roughly 250–300 km west.
    assert 200_000 < geo.boundary_distance_m(44.63, -63.55) < 330_000


def test_near_boundary_agrees_with_the_distance(geo: Geography) -> None:
    """The cell bounds of near_boundary change its speed, never its answer: positions along
    and across the line (Great Lakes, St. Lawrence, 49th parallel, far away), including
    positions a few metres either side of the threshold, against boundary_distance_m."""
    import random

    rng = random.Random(7)
    fresh = Geography.load()  # its own memos, filled by these queries in this order
    thresholds = (500.0, 5_000.0, 9_260.0, 20_000.0)
    positions = [(rng.uniform(41.5, 49.5), rng.uniform(-92.5, -66.5)) for _ in range(3_000)]
    for lat, lon in list(positions[:300]):
        # Put some exactly around a threshold: walk north until the distance crosses it.
        d0 = geo.boundary_distance_m(lat, lon)
        for within in thresholds:
            if d0 < within:
                step = (within - d0) / 111_000
                positions += [(lat + step * f, lon) for f in (0.999, 1.0, 1.001)]
    decided = {True: 0, False: 0}
    for lat, lon in positions:
        exact = geo.boundary_distance_m(lat, lon)
        for within in thresholds:
            near = fresh.near_boundary(lat, lon, within)
            assert near == (exact <= within), (lat, lon, within, exact)
            decided[near] += 1
    assert decided[True] > 500 and decided[False] > 5_000  # both answers were exercised


def test_boundary_distance_is_the_nearest_of_every_segment() -> None:
    """The per-cell candidate memos (0.05° cells, chosen from their 1° and 5° cells) change
    the speed of the distance search, never its answer: against every segment of the lines,
    at random places over the continent and its waters, at places close to the line, and on
    the edges and corners of the coarse cells (where a wrong parent cell would show)."""
    import math
    import random

    import numpy as np

    rng = random.Random(11)
    line = Geography.load()._boundary.legal  # a fresh index: its memos fill in this order
    positions = [(rng.uniform(24.0, 72.0), rng.uniform(-170.0, -50.0)) for _ in range(1_500)]
    positions += [(rng.uniform(41.0, 50.0), rng.uniform(-96.0, -66.0)) for _ in range(500)]
    for lat, lon in [(46.0, -84.0), (45.0, -75.0), (49.0, -95.0), (48.0, -123.0)]:
        positions += [
            (lat + dlat, lon + dlon)
            for dlat in (-5.0, -1.0, -1e-9, 0.0, 1e-9, 0.05, 1.0)
            for dlon in (-5.0, -1.0, -1e-9, 0.0, 1e-9, 0.05, 1.0)
        ]
    for lat, lon in positions:
        d2, points = line._chords(_unit_vectors(lon, lat), line._ua, line._ud, line._ud2)
        px, py, pz = (float(v) for v in points[int(np.argmin(d2))])
        near_lat = math.degrees(math.atan2(pz, math.hypot(px, py)))
        near_lon = math.degrees(math.atan2(py, px))
        expected = distance_m(lat, lon, near_lat, near_lon)
        assert line.nearest(lat, lon)[0] == pytest.approx(expected, abs=1e-3), (lat, lon)


@pytest.mark.parametrize(
    ("name", "lat", "lon", "expected"),
    [
        ("Toronto harbour", 43.63, -79.38, "CA"),
        ("Lake Ontario off Rochester", 43.30, -77.60, "US"),
        ("Lake Erie near Long Point", 42.55, -80.20, "CA"),
        ("Lake Erie off Cleveland", 41.60, -81.70, "US"),
        ("Victoria", 48.40, -123.38, "CA"),
        ("Port Angeles", 48.13, -123.43, "US"),
        ("Halifax approaches", 44.40, -63.40, "CA"),
        ("Boston harbour", 42.35, -70.95, "US"),
        ("Elliott Bay, Seattle", 47.60, -122.36, "US"),
        ("Vancouver harbour", 49.29, -123.10, "CA"),
        ("Detroit River mid-channel", 42.32, -83.04, "BI"),
        ("Thousand Islands", 44.30, -76.00, "BI"),
        ("Atlantic far offshore", 40.00, -50.50, "INTL"),
        ("Chicago, inland", 41.85, -87.75, "INTL"),
        ("Prairies, 11 km north of the 49th (not monitored)", 49.10, -100.00, "INTL"),
    ],
)
def test_jurisdiction(geo: Geography, name: str, lat: float, lon: float, expected: str) -> None:
    assert geo.jurisdiction(lat, lon) == expected, name


def test_releasability_policy() -> None:
    assert releasability("CA") == ["CAN"]
    assert releasability("US") == ["USA"]
    assert releasability("BI") == ["CAN", "USA"]
    assert releasability("INTL") == ["CAN", "USA"]


def test_confirmed_side_hysteresis(geo: Geography) -> None:
    line_lat = _boundary_lat_at("B0086", -100.0)
    m_per_deg = distance_m(line_lat, -100.0, line_lat + 1.0, -100.0)

    def north(metres: float) -> float:
        return line_lat + metres / m_per_deg

    assert geo.confirmed_side("US", north(400), -100.0) == "US"
    assert geo.confirmed_side("US", north(600), -100.0) == "CA"
    assert geo.confirmed_side("CA", north(-400), -100.0) == "CA"
    assert geo.confirmed_side("CA", north(-600), -100.0) == "US"
    assert geo.confirmed_side("US", north(400), -100.0, hysteresis_m=300.0) == "CA"
    assert geo.confirmed_side(None, north(100), -100.0) == "CA"
    assert geo.confirmed_side("CA", 21.3, -157.8) == "CA"  # no side out there: keep


def test_default_zones_file() -> None:
    path = DATA / "zones_default.geojson"
    assert path.stat().st_size < 2_000_000
    zones = load_zones(path)
    # The monitored regions are bi-national; ports, locks etc. are in test_zones_default.py.
    regions = [z for z in zones if z.zone_id.startswith("mon-")]
    assert len(regions) == 9
    assert {(z.kind, z.jurisdiction) for z in regions} == {("monitored", "BI")}
    assert all(z.geometry.is_valid and z.source for z in zones)
    assert len({z.zone_id for z in zones}) == len(zones)


def _feature(**props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "zone_id": "sec-toronto",
        "name": "Toronto harbour security zone",
        "kind": "security",
        "jurisdiction": "CA",
    }
    base.update(props)
    return {
        "type": "Feature",
        "properties": {k: v for k, v in base.items() if v is not None},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [-79.40, 43.62],
                    [-79.35, 43.62],
                    [-79.35, 43.65],
                    [-79.40, 43.65],
                    [-79.40, 43.62],
                ]
            ],
        },
    }


def _write(tmp_path: Path, *features: dict[str, Any]) -> Path:
    path = tmp_path / "zones.geojson"
    doc = {"type": "FeatureCollection", "features": list(features)}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"kind": "harbour"}, "feature 1: kind 'harbour'"),
        ({"jurisdiction": "FR"}, "feature 1: jurisdiction 'FR'"),
        ({"zone_id": None}, "feature 1: zone_id"),
        ({"speed_limit_kn": "ten"}, "feature 1: speed_limit_kn"),
        ({"inbound_bearing_deg": 360}, "feature 1: inbound_bearing_deg"),
        ({"facility_id": "Toronto"}, "feature 1: facility_id"),
        ({"zone_id": "ok-0"}, "feature 1: zone_id 'ok-0' repeats"),
    ],
)
def test_load_zones_names_feature_and_field(
    tmp_path: Path, props: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, _feature(zone_id="ok-0"), _feature(**props))
    with pytest.raises(ReferenceDataError, match=message.replace("(", r"\(")):
        load_zones(path)


def test_load_zones_rejects_points(tmp_path: Path) -> None:
    feature = _feature()
    feature["geometry"] = {"type": "Point", "coordinates": [-79.38, 43.63]}
    with pytest.raises(ReferenceDataError, match="feature 0: geometry must be a Polygon"):
        load_zones(_write(tmp_path, feature))


def test_merge_replaces_by_zone_id() -> None:
    defaults = load_zones(DATA / "zones_default.geojson")
    replacement = Zone(
        zone_id="mon-great-lakes",
        name="smaller",
        kind="monitored",
        jurisdiction="BI",
        speed_limit_kn=None,
        facility_id=None,
        inbound_bearing_deg=None,
        geometry=defaults[0].geometry.buffer(-0.01),
    )
    merged = merge_zones(defaults, [replacement])
    assert len(merged) == len(defaults)
    assert [z for z in merged if z.zone_id == "mon-great-lakes"] == [replacement]


def test_added_zone_sets_jurisdiction_and_is_innermost(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _feature(speed_limit_kn=8, facility_id="CATOR-0001"),
        _feature(zone_id="sec-inland", kind="restricted", jurisdiction="US", name="inland test")
        | {
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-87.8, 41.8], [-87.7, 41.8], [-87.7, 41.9], [-87.8, 41.8]]],
            }
        },
    )
    geo = Geography.load(path)
    zones = geo.zones_at(43.63, -79.38)
    ids = [z.zone_id for z in zones]
    assert ids[0] == "sec-toronto" and ids[-1] == "mon-great-lakes"
    assert set(ids) == {"sec-toronto", "port-cator", "appr-cator", "mon-great-lakes"}
    assert zones[0].speed_limit_kn == 8.0 and zones[0].facility_id == "CATOR-0001"
    assert geo.jurisdiction(43.63, -79.38) == "CA"
    # Monitored area = union of all zones: the added inland zone counts.
    assert geo.in_monitored_area(41.82, -87.72)
    assert not Geography.load().in_monitored_area(41.82, -87.72)
    assert Geography.load() is Geography.load()
