"""The harbour allowance of the land mask: real berths that Natural Earth 10m calls land.

Positions are from the MarineCadastre day of 2023-01-11 and the USCG 2006 excerpt (moored
vessels, SOG 0), each in a harbour that the 10m shoreline leaves out.
"""

from __future__ import annotations

import pytest

from mda.landmask import LandMask

MASK = LandMask.load_default()


@pytest.mark.parametrize(
    ("lat", "lon", "where"),
    [
        (47.64683, -122.340132, "Lake Union, Seattle"),
        (48.4224, -123.373383, "Victoria inner harbour (VICTORIA CLIPPER at her berth)"),
        (40.697567, -74.14616, "Newark Bay, Port Newark"),
        (36.83697, -76.27093, "Elizabeth River, Norfolk"),
    ],
)
def test_berths_in_listed_harbours_are_not_on_land(lat: float, lon: float, where: str) -> None:
    assert MASK.distance_to_water_m(lat, lon) > 1_000.0, f"{where}: the mask alone says water"
    assert MASK.in_harbour(lat, lon)
    assert not MASK.is_on_land(lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon", "where"),
    [
        (41.85, -87.75, "Cicero, 12 km inland of Chicago harbour"),
        (39.74, -104.99, "Denver"),
        (43.70, -79.42, "Toronto, 5 km inland"),
    ],
)
def test_inland_points_stay_on_land(lat: float, lon: float, where: str) -> None:
    assert not MASK.in_harbour(lat, lon), where
    assert MASK.is_on_land(lat, lon), where
