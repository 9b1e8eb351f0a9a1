"""Build ``mda/data/zones_default.geojson``: the default zones (DESIGN.md §7).

Reproducibility script (shapely only). Inputs: the Natural Earth 10m clips in
``../shared/data/naturalearth/`` (public domain, v4.0.0; see mda/data/ATTRIBUTION.md), the NGA
World Port Index rows in ``../shared/data/reference/wpi_us_canada_ports.csv`` and the land mask
``mda/data/land_na.bin.gz`` (build it first with scripts/build_landmask.py).

Two parts: the nine ``monitored`` regions described next (geometry unchanged since they were
first shipped), then — see the constants after ``build`` — ports and approaches (WPI
positions), anchorages, the Seaway entry, security zones (nuclear plants on the lakes and the
three boundary bridges), restricted naval areas, locks, and speed reaches. Every feature's
``source`` property names where its coordinates come from and what is judgement.

Speed reaches are kind ``monitored`` with ``speed_limit_kn``: the eight kinds are fixed by
contract, ``restricted`` would raise ZONE_ENTRY (medium) for every ship in an ordinary channel,
and a monitored zone raises nothing on entry and adds nothing to the monitored area (it lies
inside the regions). SPEEDING reads ``speed_limit_kn`` from any zone.

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

Usage: python scripts/build_default_zones.py NATURALEARTH_DIR OUT_GEOJSON [REFERENCE_DIR]
(REFERENCE_DIR defaults to NATURALEARTH_DIR/../reference.)
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely
from _metric import buffer_m, circle_m, rectangle_m
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry

from mda.landmask import LandMask

NM_M = 1852.0
APPROACH_M = 40 * NM_M  # 74,080 m
LAKE_BUFFER_M = 2_000.0
RIVER_HALF_WIDTH_M = 1_500.0
SHORE_MARGIN_M = 1_000.0
SIMPLIFY_DEG = 0.01

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


# ---------------------------------------------------------------------------------------------
# Ports, approaches, anchorages, the Seaway entry, security, restricted, lock and speed zones.
#
# Every disc below is clipped to water by the land mask (mda/data/land_na.bin.gz, built by
# scripts/build_landmask.py: run that first), then grown by ``ZONE_SHORE_MARGIN_M`` inside its
# disc so that berths the generalised 1:10m shoreline puts just inland stay inside. Only the
# part nearest the centre and the parts that touch the monitored regions are kept, so a disc
# never picks up an unrelated inland lake or pond. A centre
# that the mask puts on land (a plant on the shore) widens its disc by its distance to water.
# Locks are small rectangles and are not clipped.
# ---------------------------------------------------------------------------------------------

APPROACH_RADIUS_M = 12_000.0
PORT_RADIUS_M = 3_000.0
ZONE_SHORE_MARGIN_M = 500.0
ZONE_SIMPLIFY_DEG = 0.0002  # ~20 m
WPI = "NGA World Port Index (Pub 150) via wpi_us_canada_ports.csv"

# (slug, name, jurisdiction, WPI index numbers, inbound_bearing_deg, why that bearing)
PORTS: list[tuple[str, str, str, tuple[int, ...], float | None, str]] = [
    ("camtr", "Montréal", "CA", (2235,), 220.0, "upbound St. Lawrence ship channel (SW)"),
    ("caque", "Québec", "CA", (2180,), 225.0, "upbound St. Lawrence from the estuary (SW)"),
    ("cahal", "Halifax", "CA", (6340,), 330.0, "in from the Atlantic up Halifax Harbour (NNW)"),
    ("casjb", "Saint John", "CA", (6550,), 350.0, "in from the Bay of Fundy (N)"),
    ("cavan", "Vancouver", "CA", (18150,), 90.0, "from English Bay through First Narrows (E)"),
    ("caprr", "Prince Rupert", "CA", (18950,), 90.0, "from Chatham Sound into the harbour (E)"),
    ("ussea", "Seattle", "US", (17730,), 90.0, "from Puget Sound main basin into Elliott Bay"),
    ("ustiw", "Tacoma", "US", (17700,), 135.0, "from Puget Sound into Commencement Bay (SE)"),
    ("cator", "Toronto", "CA", (3000,), 0.0, "from Lake Ontario to the harbour gaps (N)"),
    ("caham", "Hamilton", "CA", (3050,), 230.0, "from Lake Ontario via the Burlington Canal"),
    ("detroit-windsor", "Detroit/Windsor", "BI", (3620, 3390), None, ""),
    ("uscle", "Cleveland", "US", (3490,), 180.0, "from Lake Erie to the harbour (S)"),
    ("uschi", "Chicago", "US", (4800,), 270.0, "from Lake Michigan to the harbour (W)"),
    ("duluth-superior", "Duluth-Superior", "US", (5460, 5450), 235.0, "from Lake Superior (SW)"),
    ("cathu", "Thunder Bay", "CA", (5210,), 290.0, "from Lake Superior past Thunder Cape (WNW)"),
    ("sault-ste-marie", "Sault Ste. Marie", "BI", (4560, 4290), None, ""),
    ("usbuf", "Buffalo", "US", (3430,), 70.0, "from Lake Erie to the harbour (ENE)"),
]
THROUGH_CHANNEL = (
    "no inbound_bearing_deg: a through channel with two-way traffic, where any one bearing "
    "would call half the through traffic inbound; per DESIGN.md §9 every entry then counts "
    "as inbound"
)

# (zone_id, name, jurisdiction, lat, lon, radius_m, why)
ANCHORAGES = [
    (
        "anch-montreal-contrecoeur",
        "Contrecoeur anchorage (Montréal)",
        "CA",
        45.875,
        -73.215,
        1_500.0,
        "river anchorage off Contrecoeur",
    ),
    (
        "anch-quebec-beauport",
        "Beauport anchorage (Québec)",
        "CA",
        46.845,
        -71.160,
        2_000.0,
        "anchorage off Beauport, north channel below Québec",
    ),
    (
        "anch-halifax-bedford-basin",
        "Bedford Basin anchorage (Halifax)",
        "CA",
        44.700,
        -63.640,
        2_500.0,
        "Bedford Basin",
    ),
    (
        "anch-vancouver-english-bay",
        "English Bay anchorage (Vancouver)",
        "CA",
        49.290,
        -123.200,
        2_500.0,
        "English Bay anchorages",
    ),
    (
        "anch-seattle-elliott-bay",
        "Elliott Bay anchorage (Seattle)",
        "US",
        47.615,
        -122.375,
        1_200.0,
        "Elliott Bay anchorage",
    ),
    (
        "anch-hamilton",
        "Hamilton anchorage (Lake Ontario off the Burlington Canal)",
        "CA",
        43.300,
        -79.740,
        2_000.0,
        "open-lake anchorage off the Burlington Canal",
    ),
    (
        "anch-thunder-bay",
        "Thunder Bay anchorage",
        "CA",
        48.400,
        -89.150,
        2_000.0,
        "anchorage outside the Thunder Bay breakwaters",
    ),
    (
        "anch-duluth",
        "Duluth anchorage (Lake Superior off the ship canal)",
        "US",
        46.800,
        -92.040,
        2_500.0,
        "open-lake anchorage off the Duluth Ship Canal",
    ),
]

PUBLISHED = "published coordinates (e.g. NRC/CNSC/Wikipedia)"
# (zone_id, name, jurisdiction, lat, lon, radius_m, what the position is)
SECURITY = [
    (
        "sec-pickering",
        "Pickering Nuclear Generating Station (water side)",
        "CA",
        43.8117,
        -79.0658,
        1_500.0,
        "CNSC",
    ),
    (
        "sec-darlington",
        "Darlington Nuclear Generating Station (water side)",
        "CA",
        43.8728,
        -78.7197,
        1_500.0,
        "CNSC",
    ),
    (
        "sec-bruce",
        "Bruce Nuclear Generating Station (water side)",
        "CA",
        44.3253,
        -81.5994,
        2_000.0,
        "CNSC",
    ),
    (
        "sec-fermi",
        "Fermi 2 Nuclear Power Plant (water side)",
        "US",
        41.9628,
        -83.2581,
        1_500.0,
        "NRC",
    ),
    (
        "sec-perry",
        "Perry Nuclear Power Plant (water side)",
        "US",
        41.8008,
        -81.1433,
        1_500.0,
        "NRC",
    ),
    (
        "sec-davis-besse",
        "Davis-Besse Nuclear Power Station (water side)",
        "US",
        41.5964,
        -83.0864,
        1_500.0,
        "NRC",
    ),
    (
        "sec-ginna",
        "R.E. Ginna Nuclear Power Plant (water side)",
        "US",
        43.2778,
        -77.3097,
        1_500.0,
        "NRC",
    ),
    (
        "sec-nine-mile-point",
        "Nine Mile Point and James A. FitzPatrick plants (water side)",
        "US",
        43.5228,
        -76.4042,
        2_000.0,
        "NRC; midpoint of Nine Mile Point 43.5222, -76.4100 and FitzPatrick 43.5233, -76.3983",
    ),
    (
        "sec-point-beach",
        "Point Beach Nuclear Plant (water side)",
        "US",
        44.2806,
        -87.5364,
        1_500.0,
        "NRC",
    ),
    (
        "sec-palisades",
        "Palisades Nuclear Plant (water side)",
        "US",
        42.3231,
        -86.3150,
        1_500.0,
        "NRC",
    ),
    (
        "sec-ambassador-bridge",
        "Ambassador Bridge (Detroit–Windsor)",
        "BI",
        42.3119,
        -83.0739,
        1_000.0,
        "Wikipedia, midspan",
    ),
    (
        "sec-blue-water-bridge",
        "Blue Water Bridge (Port Huron–Sarnia)",
        "BI",
        42.9986,
        -82.4231,
        1_000.0,
        "Wikipedia, midspan",
    ),
    (
        "sec-peace-bridge",
        "Peace Bridge (Buffalo–Fort Erie)",
        "BI",
        42.9069,
        -78.9047,
        1_000.0,
        "Wikipedia, midspan",
    ),
]

# (zone_id, name, jurisdiction, lat, lon, radius_m, why)
RESTRICTED = [
    (
        "rst-esquimalt",
        "CFB Esquimalt naval harbour",
        "CA",
        48.4350,
        -123.4400,
        1_200.0,
        "Esquimalt Harbour (Department of National Defence); disc drawn by judgement, the "
        "legal harbour limits are not reproduced",
    ),
    (
        "rst-bangor",
        "Naval Base Kitsap-Bangor waterfront",
        "US",
        47.7300,
        -122.7250,
        1_500.0,
        "Hood Canal at Bangor (restricted area of 33 CFR 334.1220); disc drawn by judgement, "
        "the legal limits are not reproduced",
    ),
]

# (zone_id, name, jurisdiction, lat, lon, length_m, width_m, axis_deg)
LOCKS = [
    ("lock-soo", "Soo Locks (MacArthur and Poe)", "US", 46.5030, -84.3510, 800.0, 300.0, 100.0),
    (
        "lock-sault-canal",
        "Sault Ste. Marie Canal lock",
        "CA",
        46.5140,
        -84.3520,
        300.0,
        100.0,
        110.0,
    ),
    (
        "lock-stlambert",
        "St-Lambert Lock (Seaway lock 1)",
        "CA",
        45.4990,
        -73.5210,
        500.0,
        150.0,
        30.0,
    ),
    (
        "lock-cote-ste-catherine",
        "Côte-Ste-Catherine Lock (Seaway lock 2)",
        "CA",
        45.4085,
        -73.5660,
        500.0,
        150.0,
        60.0,
    ),
    (
        "lock-beauharnois-lower",
        "Beauharnois lower lock (Seaway lock 3)",
        "CA",
        45.3170,
        -73.9120,
        500.0,
        150.0,
        60.0,
    ),
    (
        "lock-beauharnois-upper",
        "Beauharnois upper lock (Seaway lock 4)",
        "CA",
        45.3120,
        -73.9220,
        500.0,
        150.0,
        60.0,
    ),
    ("lock-snell", "Snell Lock (Seaway, Massena)", "US", 44.9860, -74.8080, 500.0, 150.0, 70.0),
    (
        "lock-eisenhower",
        "Eisenhower Lock (Seaway, Massena)",
        "US",
        44.9950,
        -74.8480,
        500.0,
        150.0,
        70.0,
    ),
    ("lock-iroquois", "Iroquois Lock (Seaway)", "CA", 44.8300, -75.3110, 500.0, 150.0, 60.0),
    (
        "lock-welland-1",
        "Welland Canal Lock 1 (Port Weller)",
        "CA",
        43.2195,
        -79.2130,
        400.0,
        120.0,
        0.0,
    ),
    ("lock-welland-2", "Welland Canal Lock 2", "CA", 43.1930, -79.2020, 400.0, 120.0, 0.0),
    (
        "lock-welland-3",
        "Welland Canal Lock 3 (St. Catharines)",
        "CA",
        43.1550,
        -79.1930,
        400.0,
        120.0,
        0.0,
    ),
    (
        "lock-welland-4",
        "Welland Canal Lock 4 (flight locks)",
        "CA",
        43.1260,
        -79.1915,
        250.0,
        120.0,
        0.0,
    ),
    (
        "lock-welland-5",
        "Welland Canal Lock 5 (flight locks)",
        "CA",
        43.1235,
        -79.1920,
        250.0,
        120.0,
        0.0,
    ),
    (
        "lock-welland-6",
        "Welland Canal Lock 6 (flight locks)",
        "CA",
        43.1210,
        -79.1925,
        250.0,
        120.0,
        0.0,
    ),
    (
        "lock-welland-7",
        "Welland Canal Lock 7 (Thorold)",
        "CA",
        43.1090,
        -79.1950,
        400.0,
        120.0,
        0.0,
    ),
    (
        "lock-welland-8",
        "Welland Canal Lock 8 (Port Colborne guard lock)",
        "CA",
        42.9040,
        -79.2460,
        400.0,
        120.0,
        0.0,
    ),
]

CFR_SPEED = (
    "33 CFR 162.138 (connecting waters Lake Huron to Lake Erie, speed rules) as recalled: 12 "
    "statute mph over the ground (10.4 kn) for power-driven vessels of 20 m or more; recalled, "
    "not verified against the current text here, and the zone cannot restrict it to vessels "
    "of 20 m or more"
)
# (zone_id, name, jurisdiction, speed_limit_kn, extent (lon, lat) drawn by judgement, why)
SPEED_REACHES = [
    (
        "speed-seaway-montreal-lake-st-francis",
        "St. Lawrence Seaway, Montréal (St-Lambert) to Lake St. Francis",
        "CA",
        10.5,
        [(-73.50, 45.52), (-73.50, 45.36), (-74.20, 45.22), (-74.20, 45.36), (-73.62, 45.52)],
        "10.5 kn as a Seaway-practice value for the canal/lake reaches (the Seaway Practices "
        "and Procedures set section-by-section maximum speeds that were not available here: "
        "judgement, verify)",
    ),
    (
        "speed-detroit-river",
        "Detroit River (Lake Erie to Lake St. Clair)",
        "BI",
        10.4,
        [
            (-83.22, 42.02),
            (-83.02, 42.02),
            (-82.90, 42.34),
            (-82.90, 42.37),
            (-83.10, 42.37),
            (-83.22, 42.20),
        ],
        CFR_SPEED,
    ),
    (
        "speed-st-clair-river",
        "St. Clair River (Lake Huron to the St. Clair Flats)",
        "BI",
        10.4,
        [(-82.55, 42.60), (-82.38, 42.60), (-82.38, 43.02), (-82.55, 43.02)],
        CFR_SPEED,
    ),
]

SEAWAY_ENTRY = (
    "seaway-entry-st-lambert",
    "St. Lawrence Seaway entrance (St-Lambert)",
    "CA",
    45.5050,
    -73.5250,
    2_500.0,
    225.0,
)


def read_wpi(path: Path) -> dict[int, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {int(row["World Port Index Number"]): row for row in csv.DictReader(fh)}


class WaterClipper:
    """Discs clipped to the land mask's water, keeping the water connected to the centre."""

    def __init__(self, mask: LandMask, navigable: BaseGeometry) -> None:
        self._mask = mask
        self._navigable = navigable
        shapely.prepare(navigable)
        self._pieces = list(mask.pieces)
        self._tree = shapely.STRtree(self._pieces)

    def water_in(self, area: BaseGeometry) -> BaseGeometry:
        near = self._tree.query(area, predicate="intersects")
        land = shapely.unary_union([self._pieces[i] for i in near])
        return polygons_only(shapely.difference(area, land))

    def disc(self, lat: float, lon: float, radius_m: float) -> BaseGeometry:
        # A centre the generalised shoreline puts inland (a plant on the shore, a berth) gets
        # its distance to water added, so the disc still reaches radius_m into the water.
        radius_m += self._mask.distance_to_water_m(lat, lon)
        area = circle_m(lat, lon, radius_m)
        water = self.water_in(area)
        if water.is_empty:
            raise SystemExit(f"no water within {radius_m} m of {lat}, {lon}")
        grown = polygons_only(shapely.intersection(buffer_m(water, ZONE_SHORE_MARGIN_M), area))
        everything = list(getattr(grown, "geoms", [grown]))
        centre = shapely.Point(lon, lat)
        nearest = min(everything, key=lambda p: p.distance(centre))
        parts = [p for p in everything if p is nearest or p.intersects(self._navigable)]
        return shapely.unary_union(parts)

    def extent(self, coords: list[tuple[float, float]]) -> BaseGeometry:
        area = Polygon(coords)
        water = self.water_in(area)
        return polygons_only(shapely.intersection(buffer_m(water, ZONE_SHORE_MARGIN_M), area))


def feature(props: dict[str, Any], geom: BaseGeometry) -> dict[str, Any]:
    slim = geom.simplify(ZONE_SIMPLIFY_DEG, preserve_topology=True)
    slim = polygons_only(shapely.make_valid(shapely.set_precision(slim, 1e-5)))
    if slim.is_empty:
        raise SystemExit(f"{props['zone_id']}: empty geometry")
    return {
        "type": "Feature",
        "properties": {k: v for k, v in props.items() if v is not None},
        "geometry": mapping(slim),
    }


def build_facility_zones(reference: Path, monitored: BaseGeometry) -> list[dict[str, Any]]:
    wpi = read_wpi(reference / "wpi_us_canada_ports.csv")
    clip = WaterClipper(LandMask.load_default(), monitored)
    out: list[dict[str, Any]] = []
    judged = "clipped to water (land mask) and grown 500 m as a shore margin"
    for slug, name, jur, numbers, bearing, why in PORTS:
        rows = [wpi[n] for n in numbers]
        lats = [float(r["Latitude"]) for r in rows]
        lons = [float(r["Longitude"]) for r in rows]
        cited = "; ".join(
            f"WPI {n} {r['Main Port Name']} ({r['unlocode_compact'] or 'no LOCODE'}) "
            f"{float(r['Latitude']):.6f}, {float(r['Longitude']):.6f}"
            for n, r in zip(numbers, rows, strict=True)
        )
        lat, lon = sum(lats) / len(lats), sum(lons) / len(lons)
        centre = "the midpoint of " if len(rows) > 1 else ""
        bearing_note = (
            f"inbound_bearing_deg {bearing:.0f} = {why} (judgement)"
            if bearing is not None
            else THROUGH_CHANNEL
        )
        out.append(
            feature(
                {
                    "zone_id": f"appr-{slug}",
                    "name": f"{name} approach",
                    "kind": "approach",
                    "jurisdiction": jur,
                    "inbound_bearing_deg": bearing,
                    "source": f"{WPI}: {cited}. Disc of {APPROACH_RADIUS_M / 1000:.0f} km "
                    f"around {centre}the port position, {judged}; {bearing_note}.",
                },
                clip.disc(lat, lon, APPROACH_RADIUS_M),
            )
        )
        port_slugs = (
            [(slug, lat, lon, cited, jur)]
            if slug in ("detroit-windsor", "sault-ste-marie")
            else [
                (
                    r["unlocode_compact"].lower(),
                    float(r["Latitude"]),
                    float(r["Longitude"]),
                    f"WPI {n} {r['Main Port Name']} ({r['unlocode_compact']}) "
                    f"{float(r['Latitude']):.6f}, {float(r['Longitude']):.6f}",
                    jur,
                )
                for n, r in zip(numbers, rows, strict=True)
            ]
        )
        for pslug, plat, plon, pcited, pjur in port_slugs:
            out.append(
                feature(
                    {
                        "zone_id": f"port-{pslug}",
                        "name": f"Port of {name}"
                        if len(port_slugs) == 1
                        else f"Port of {pcited.split(' ', 2)[2].split(' (')[0]}",
                        "kind": "port",
                        "jurisdiction": pjur,
                        "source": f"{WPI}: {pcited}. Disc of {PORT_RADIUS_M / 1000:.0f} km "
                        f"around {'the midpoint of ' if pslug == slug and len(rows) > 1 else ''}"
                        f"the port position, {judged}.",
                    },
                    clip.disc(plat, plon, PORT_RADIUS_M),
                )
            )
    for zone_id, name, jur, lat, lon, radius, why in ANCHORAGES:
        out.append(
            feature(
                {
                    "zone_id": zone_id,
                    "name": name,
                    "kind": "anchorage",
                    "jurisdiction": jur,
                    "source": f"Drawn by judgement: {why}, a disc of {radius:.0f} m around "
                    f"{lat:.4f}, {lon:.4f} (not the charted anchorage limits), {judged}.",
                },
                clip.disc(lat, lon, radius),
            )
        )
    zid, name, jur, lat, lon, radius, bearing = SEAWAY_ENTRY
    out.append(
        feature(
            {
                "zone_id": zid,
                "name": name,
                "kind": "seaway_entry",
                "jurisdiction": jur,
                "inbound_bearing_deg": bearing,
                "source": f"Drawn by judgement: disc of {radius:.0f} m around {lat:.4f}, "
                f"{lon:.4f} (Montréal harbour off the St-Lambert Lock, the Seaway's downstream "
                f"entrance), {judged}; inbound_bearing_deg {bearing:.0f} = upbound course into "
                "the South Shore Canal (judgement).",
            },
            clip.disc(lat, lon, radius),
        )
    )
    for zone_id, name, jur, lat, lon, radius, who in SECURITY:
        out.append(
            feature(
                {
                    "zone_id": zone_id,
                    "name": name,
                    "kind": "security",
                    "jurisdiction": jur,
                    "source": f"Position {lat:.4f}, {lon:.4f}: {PUBLISHED} ({who}). Disc of "
                    f"{radius:.0f} m drawn by judgement (not a legal security zone), {judged}.",
                },
                clip.disc(lat, lon, radius),
            )
        )
    for zone_id, name, jur, lat, lon, radius, why in RESTRICTED:
        out.append(
            feature(
                {
                    "zone_id": zone_id,
                    "name": name,
                    "kind": "restricted",
                    "jurisdiction": jur,
                    "source": f"{why}. Disc of {radius:.0f} m around {lat:.4f}, {lon:.4f}, "
                    f"{judged}.",
                },
                clip.disc(lat, lon, radius),
            )
        )
    for zone_id, name, jur, lat, lon, length, width, axis in LOCKS:
        out.append(
            feature(
                {
                    "zone_id": zone_id,
                    "name": name,
                    "kind": "lock",
                    "jurisdiction": jur,
                    "source": f"Lock position {lat:.4f}, {lon:.4f}: published coordinates "
                    "recalled from general references (Wikipedia, Seaway and USACE pages), "
                    "approximate (a few hundred metres; no machine-readable source in "
                    f"../shared/data). Rectangle {length:.0f} m x {width:.0f} m along "
                    f"{axis:.0f}° (axis is judgement), not clipped.",
                },
                rectangle_m(lat, lon, length, width, axis),
            )
        )
    for zone_id, name, jur, speed, extent, why in SPEED_REACHES:
        out.append(
            feature(
                {
                    "zone_id": zone_id,
                    "name": name,
                    "kind": "monitored",
                    "jurisdiction": jur,
                    "speed_limit_kn": speed,
                    "source": f"Speed reach, kind monitored on purpose (entry raises nothing; "
                    f"only SPEEDING reads speed_limit_kn): water of the land mask inside a "
                    f"hand-drawn extent (judgement), {judged}. speed_limit_kn {speed}: {why}.",
                },
                clip.extent(extent),
            )
        )
    return out


def round_coords(obj: Any, decimals: int = 4) -> Any:
    if isinstance(obj, float):
        return round(obj, decimals)
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return [round_coords(x, decimals) for x in obj]
    return obj


def main(argv: list[str]) -> int:
    nat, out = Path(argv[1]), Path(argv[2])
    reference = Path(argv[3]) if len(argv) > 3 else nat.parent / "reference"
    features = build(nat)
    for f in features:
        f["geometry"]["coordinates"] = round_coords(f["geometry"]["coordinates"])
    # Small zones (locks are a few hundred metres) keep 5 decimals (~1 m).
    monitored = shapely.unary_union([shape(f["geometry"]) for f in features])
    extra = build_facility_zones(reference, monitored)
    for f in extra:
        f["geometry"]["coordinates"] = round_coords(f["geometry"]["coordinates"], 5)
    features.extend(extra)
    doc = {"type": "FeatureCollection", "name": "zones_default", "features": features}
    out.write_text(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n", "utf-8")
    sys.stderr.write(f"wrote {len(features)} zones, {out.stat().st_size} bytes to {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
