"""The land mask (POSITION_ON_LAND) on real places whose answer is known independently.

Water points are mid-lake positions, harbours and channels every chart shows as navigable
(several taken from Natural Earth's own river centerlines, which the mask must keep as water);
land points are city centres well away from any shore or river.
"""

from __future__ import annotations

import time

import pytest

from mda.landmask import ON_LAND_MARGIN_M, LandMask


@pytest.fixture(scope="module")
def mask() -> LandMask:
    return LandMask.load_default()


WATER = [
    ("Lake Superior, mid-lake", 47.70, -87.50),
    ("Lake Michigan, mid-lake", 43.50, -87.00),
    ("Lake Huron, mid-lake", 44.80, -82.40),
    ("Lake Erie, mid-lake", 42.20, -81.20),
    ("Lake Ontario, mid-lake", 43.60, -77.90),
    ("St. Clair River at Marine City", 42.72, -82.49),
    ("St. Clair River centerline near Corunna", 42.9192, -82.4540),
    ("St. Clair River centerline near St. Clair MI", 42.8354, -82.4831),
    ("Welland Canal", 43.08, -79.21),
    ("Niagara River below the falls (Queenston-Lewiston)", 43.1601, -79.0501),
    ("St. Lawrence centerline between Massena and Cornwall", 45.0096, -74.8873),
    ("St. Lawrence centerline near Morrisburg", 44.9357, -75.0764),
    ("St. Lawrence centerline near Brockville", 44.5819, -75.7005),
    ("Thousand Islands, off Brockville", 44.50, -75.80),
    ("Montréal harbour", 45.50, -73.55),
    ("Halifax harbour", 44.64, -63.57),
    ("Vancouver harbour (Burrard Inlet)", 49.29, -123.10),
    ("Strait of Juan de Fuca", 48.30, -124.00),
    ("Detroit River at the Ambassador Bridge", 42.3119, -83.0739),
    ("Hamilton Harbour", 43.29, -79.83),
]

LAND = [
    ("Toronto, ~5 km inland", 43.70, -79.42),
    ("Chicago, west side", 41.85, -87.75),
    ("Ottawa, south of downtown (Carleton/airport side)", 45.35, -75.67),
    ("Denver", 39.74, -104.99),
]


@pytest.mark.parametrize(("name", "lat", "lon"), WATER)
def test_water(mask: LandMask, name: str, lat: float, lon: float) -> None:
    assert not mask.is_on_land(lat, lon), name
    assert mask.distance_to_water_m(lat, lon) < ON_LAND_MARGIN_M, name


@pytest.mark.parametrize(("name", "lat", "lon"), LAND)
def test_land(mask: LandMask, name: str, lat: float, lon: float) -> None:
    assert mask.is_on_land(lat, lon), name
    assert mask.distance_to_water_m(lat, lon) > 2_000.0, name


def test_mid_lake_is_exactly_zero(mask: LandMask) -> None:
    assert mask.distance_to_water_m(47.70, -87.50) == 0.0


def test_distances_are_plausible(mask: LandMask) -> None:
    # Toronto at 43.70 N is ~7 km north of the lake shore at the harbour (43.64 N).
    assert 3_000 < mask.distance_to_water_m(43.70, -79.42) < 9_000
    # Denver is far from the sea, but the South Platte River (a Natural Earth centerline,
    # hence a corridor) runs through the city: a few km at most.
    assert mask.distance_to_water_m(39.74, -104.99) < 10_000
    # Kansas: no major river within ~20 km of this point near Russell.
    assert mask.distance_to_water_m(38.90, -98.86) > 10_000


def test_margin_is_the_threshold(mask: LandMask) -> None:
    lat, lon = 43.70, -79.42
    d = mask.distance_to_water_m(lat, lon)
    assert mask.is_on_land(lat, lon, margin_m=d - 1.0)
    assert not mask.is_on_land(lat, lon, margin_m=d + 1.0)


def test_outside_coverage_is_water(mask: LandMask) -> None:
    assert mask.distance_to_water_m(19.43, -99.13) == 0.0  # Mexico City, south of 20 N
    assert not mask.is_on_land(51.5, 10.0)  # Germany


def test_default_is_cached() -> None:
    assert LandMask.load_default() is LandMask.load_default()


def test_water_lookups_are_fast(mask: LandMask) -> None:
    points = [(43.45 + i * 0.0005, -78.3 + i * 0.002) for i in range(500)]  # Lake Ontario
    for lat, lon in points:
        mask.is_on_land(lat, lon)  # fill the cell memo
    start = time.perf_counter()
    for _ in range(10):
        for lat, lon in points:
            mask.is_on_land(lat, lon)
    per_call_s = (time.perf_counter() - start) / (10 * len(points))
    assert per_call_s < 50e-6  # ~1-3 µs measured; generous for slow CI
