"""Boundaries of the "not available" normalisation (mda.invalid_values), value by value."""

from __future__ import annotations

import pytest

from mda import invalid_values as iv


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (90.0, 10.0, (90.0, 10.0)),  # the pole is a position
        (-90.0, 10.0, (-90.0, 10.0)),
        (90.000001, 10.0, (None, None)),  # one AIS unit (1/600000°) past the pole
        (90.999997, 10.0, (None, None)),
        (91.0, 10.0, (None, None)),  # the sentinel
        (-91.0, 10.0, (None, None)),
        (45.0, 180.0, (45.0, 180.0)),
        (45.0, -180.0, (45.0, -180.0)),
        (45.0, 180.000001, (None, None)),
        (45.0, 181.0, (None, None)),  # the sentinel
        (91.0, 181.0, (None, None)),
        (0.0, 0.0, (None, None)),  # transponder default (GFW practice)
        (0.0, 10.0, (0.0, 10.0)),  # the equator alone is fine
        (10.0, 0.0, (10.0, 0.0)),  # so is the prime meridian
        (None, 10.0, (None, None)),
        (10.0, None, (None, None)),
    ],
)
def test_position(lat: float | None, lon: float | None, expected: tuple[object, object]) -> None:
    assert iv.position_or_none(lat, lon) == expected


@pytest.mark.parametrize(
    ("sog", "expected"),
    [(0.0, 0.0), (102.2, 102.2), (102.29, 102.29), (102.3, None), (102.4, None), (-0.1, None)],
)
def test_sog(sog: float, expected: float | None) -> None:
    assert iv.sog_kn_or_none(sog) == expected


def test_type27_sog() -> None:
    assert iv.type27_sog_kn_or_none(62.0) == 62.0
    assert iv.type27_sog_kn_or_none(63.0) is None
    assert iv.type27_sog_kn_or_none(None) is None


@pytest.mark.parametrize(
    ("cog", "expected"), [(0.0, 0.0), (359.9, 359.9), (360.0, None), (409.5, None), (-1, None)]
)
def test_cog(cog: float, expected: float | None) -> None:
    assert iv.cog_deg_or_none(cog) == expected


@pytest.mark.parametrize(
    ("hdg", "expected"), [(0, 0), (359, 359), (360, None), (510, None), (511, None), (359.0, 359)]
)
def test_heading(hdg: float, expected: int | None) -> None:
    assert iv.heading_deg_or_none(hdg) == expected


@pytest.mark.parametrize(("status", "expected"), [(0, 0), (14, 14), (15, None), (16, None)])
def test_nav_status(status: int, expected: int | None) -> None:
    assert iv.nav_status_or_none(status) == expected


def test_ship_type_and_imo() -> None:
    assert iv.ship_type_or_none(0) is None
    assert iv.ship_type_or_none(1) == 1
    assert iv.ship_type_or_none(70) == 70
    assert iv.ship_type_or_none(255) == 255
    assert iv.ship_type_or_none(256) is None
    assert iv.imo_or_none(0) is None
    assert iv.imo_or_none(9307839) == 9307839
    assert iv.imo_or_none(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MSC NAISHA III@@@@@", "MSC NAISHA III"),
        ("@@@@@@@@@@@@@@@@@@@@", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("ABC@DEF", "ABC"),  # '@' ends the text: the rest is padding or garbage
        ("  PILOT 7  ", "PILOT 7"),
    ],
)
def test_text(text: str | None, expected: str | None) -> None:
    assert iv.text_or_none(text) == expected


def test_table_matches_functions() -> None:
    # The sentinels in the table are exactly the values the functions turn into None.
    t = iv.VALID_RANGES
    assert iv.position_or_none(t["lat"].not_available, 0.5) == (None, None)
    assert iv.position_or_none(0.5, t["lon"].not_available) == (None, None)
    assert iv.sog_kn_or_none(t["sog_kn"].not_available) is None
    assert iv.cog_deg_or_none(t["cog_deg"].not_available) is None
    assert iv.heading_deg_or_none(t["heading_deg"].not_available) is None
    assert iv.nav_status_or_none(int(t["nav_status"].not_available)) is None
    assert iv.ship_type_or_none(int(t["ship_type"].not_available)) is None
    assert iv.imo_or_none(int(t["imo"].not_available)) is None
    for r in t.values():
        assert not r.contains(r.not_available)
