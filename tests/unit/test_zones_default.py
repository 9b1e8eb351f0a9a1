"""The shipped default zones (mda/data/zones_default.geojson) beyond the monitored regions.

Containment points are real places (a plant's lake side, a harbour, a bridge's midspan) whose
location is known independently of the zones file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mda.geo import Geography, Zone, load_zones
from mda.landmask import LandMask

DATA = Path(__file__).resolve().parents[2] / "mda" / "data"
PORT_SLUGS = [
    "camtr",
    "caque",
    "cahal",
    "casjb",
    "cavan",
    "caprr",
    "ussea",
    "ustiw",
    "cator",
    "caham",
    "detroit-windsor",
    "uscle",
    "uschi",
    "duluth-superior",
    "cathu",
    "sault-ste-marie",
    "usbuf",
]
REQUIRED = {
    **{f"appr-{s}": "approach" for s in PORT_SLUGS},
    **{f"port-{s}": "port" for s in PORT_SLUGS if s != "duluth-superior"},
    "port-usdlh": "port",
    "port-ussuw": "port",
    "seaway-entry-st-lambert": "seaway_entry",
    **{
        f"sec-{s}": "security"
        for s in [
            "pickering",
            "darlington",
            "bruce",
            "fermi",
            "perry",
            "davis-besse",
            "ginna",
            "nine-mile-point",
            "point-beach",
            "palisades",
            "ambassador-bridge",
            "blue-water-bridge",
            "peace-bridge",
        ]
    },
    **{
        f"lock-{s}": "lock"
        for s in [
            "soo",
            "sault-canal",
            "stlambert",
            "cote-ste-catherine",
            "beauharnois-lower",
            "beauharnois-upper",
            "snell",
            "eisenhower",
            "iroquois",
            *[f"welland-{i}" for i in range(1, 9)],
        ]
    },
    "speed-detroit-river": "monitored",
    "speed-st-clair-river": "monitored",
    "speed-seaway-montreal-lake-st-francis": "monitored",
}


@pytest.fixture(scope="module")
def zones() -> dict[str, Zone]:
    return {z.zone_id: z for z in load_zones(DATA / "zones_default.geojson")}


def test_file_is_small_and_loads(zones: dict[str, Zone]) -> None:
    assert (DATA / "zones_default.geojson").stat().st_size < 2_000_000
    assert all(z.geometry.is_valid and not z.geometry.is_empty for z in zones.values())


@pytest.mark.parametrize(("zone_id", "kind"), sorted(REQUIRED.items()))
def test_required_zone_present(zones: dict[str, Zone], zone_id: str, kind: str) -> None:
    assert zone_id in zones
    assert zones[zone_id].kind == kind


def test_every_zone_has_a_source(zones: dict[str, Zone]) -> None:
    assert all(len(z.source) > 40 for z in zones.values())
    for z in zones.values():
        if z.kind in ("approach", "port"):
            assert "World Port Index" in z.source, z.zone_id
        if z.kind == "lock":
            assert "approximate" in z.source, z.zone_id
        if z.kind == "anchorage":
            assert "judgement" in z.source, z.zone_id


def test_jurisdictions(zones: dict[str, Zone]) -> None:
    assert zones["appr-detroit-windsor"].jurisdiction == "BI"
    assert zones["appr-camtr"].jurisdiction == "CA"
    assert zones["appr-uschi"].jurisdiction == "US"
    assert zones["sec-peace-bridge"].jurisdiction == "BI"
    assert zones["lock-snell"].jurisdiction == "US"
    assert zones["lock-iroquois"].jurisdiction == "CA"


def test_bearings_and_speeds(zones: dict[str, Zone]) -> None:
    assert zones["seaway-entry-st-lambert"].inbound_bearing_deg == 225.0
    assert zones["appr-cahal"].inbound_bearing_deg == 330.0
    assert zones["appr-detroit-windsor"].inbound_bearing_deg is None  # through channel
    assert zones["speed-detroit-river"].speed_limit_kn == pytest.approx(10.4)
    assert all(z.speed_limit_kn is None for z in zones.values() if z.kind != "monitored")


def test_port_and_approach_zones_lie_on_water(zones: dict[str, Zone]) -> None:
    mask = LandMask.load_default()
    for z in zones.values():
        if z.kind in ("approach", "port", "anchorage", "security", "restricted", "seaway_entry"):
            # Zones are water grown by a 500 m shore margin: every interior point is at most
            # that far from water, and the representative point is well inside.
            p = z.geometry.representative_point()
            assert mask.distance_to_water_m(p.y, p.x) <= 500.0, z.zone_id
            assert not mask.is_on_land(p.y, p.x), z.zone_id


@pytest.mark.parametrize(
    ("zone_id", "lat", "lon"),
    [
        ("sec-pickering", 43.805, -79.066),  # Lake Ontario ~700 m off the plant
        ("sec-ambassador-bridge", 42.3119, -83.0739),  # midspan
        ("sec-blue-water-bridge", 42.9986, -82.4231),  # midspan
        ("sec-peace-bridge", 42.9069, -78.9047),  # midspan
        ("port-camtr", 45.513, -73.540),  # river off the Old Port clock tower
        ("port-cahal", 44.64, -63.57),  # Halifax harbour
        ("port-cavan", 49.29, -123.10),  # Burrard Inlet
        ("appr-cahal", 44.55, -63.52),  # harbour mouth off Point Pleasant
        ("appr-cator", 43.60, -79.35),  # Lake Ontario off the Toronto Islands
        ("anch-halifax-bedford-basin", 44.70, -63.64),
        ("seaway-entry-st-lambert", 45.505, -73.525),
        ("speed-st-clair-river", 42.9192, -82.4540),  # river centerline
        ("speed-detroit-river", 42.20, -83.13),  # off Grosse Ile / Amherstburg
    ],
)
def test_known_points_inside(zones: dict[str, Zone], zone_id: str, lat: float, lon: float) -> None:
    assert zones[zone_id].contains(lat, lon)


def test_inland_points_outside_port_zones(zones: dict[str, Zone]) -> None:
    assert not zones["port-uschi"].contains(41.85, -87.75)  # Chicago west side
    assert not zones["appr-cator"].contains(43.70, -79.42)  # Toronto inland


def test_geography_uses_them() -> None:
    geo = Geography.load()
    ids = [z.zone_id for z in geo.zones_at(42.3119, -83.0739)]
    assert ids[0] == "sec-ambassador-bridge"
    assert "appr-detroit-windsor" in ids and "mon-great-lakes" in ids
    assert geo.jurisdiction(45.50, -73.55) == "CA"  # port of Montréal
