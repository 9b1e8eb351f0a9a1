"""The one place where AIS "not available" values become ``None``.

AIS encodes "not available" as an out-of-range sentinel in the field itself: latitude 91,
longitude 181, SOG 102.3 kn, COG 360, true heading 511, navigation status 15, ship type 0,
IMO 0, text padded with ``@``. Downstream code (tracks, rules, alerts) must never see a
sentinel as a value (a ship at 91° N, a speed of 102.3 kn), so every decoder and reader runs
its fields through the functions here, and the valid ranges live in one table
(:data:`VALID_RANGES`) after GFW pipe-segment's ``invalid_values.py``.

Anything outside the valid range is treated like the sentinel: a garbled value is no better
than a missing one. Position (0, 0) is also dropped (both coordinates ``None``): it is the
default of misconfigured transponders, and Global Fishing Watch treats it as "no position".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ValidRange:
    """Valid values are ``low <= v <= high`` (or ``< high`` when ``high_open``).

    ``not_available`` is the sentinel the standard defines (ITU-R M.1371), kept for the
    documentation and the tests: values outside the range are ``None`` whether or not they are
    the sentinel.
    """

    low: float
    high: float
    high_open: bool
    not_available: float

    def contains(self, v: float) -> bool:
        """True when ``v`` is a valid (available) value of the field."""
        if self.high_open:
            return self.low <= v < self.high
        return self.low <= v <= self.high


#: Field name (the :class:`mda.model.Report` attribute) → valid range.
VALID_RANGES: Final[dict[str, ValidRange]] = {
    "lat": ValidRange(-90.0, 90.0, high_open=False, not_available=91.0),
    "lon": ValidRange(-180.0, 180.0, high_open=False, not_available=181.0),
    # 102.3 means "not available", 102.2 means "102.2 kn or more": still a valid value.
    "sog_kn": ValidRange(0.0, 102.3, high_open=True, not_available=102.3),
    "cog_deg": ValidRange(0.0, 360.0, high_open=True, not_available=360.0),
    "heading_deg": ValidRange(0, 360, high_open=True, not_available=511),
    # 15 is "not defined (default)": it says nothing, so it is None like the others.
    "nav_status": ValidRange(0, 15, high_open=True, not_available=15),
    "ship_type": ValidRange(1, 256, high_open=True, not_available=0),
    "imo": ValidRange(1, 2**30, high_open=True, not_available=0),
}

#: Type 27 (long-range broadcast) carries SOG in whole knots in 6 bits: 63 = not available.
TYPE27_SOG_NOT_AVAILABLE_KN: Final = 63.0
#: Type 27 carries COG in whole degrees in 9 bits: 511 = not available (caught by the range).

# The functions below run for every decoded report: they compare with bounds unpacked from
# the table once, here, instead of calling ValidRange.contains per field.
_LAT_LO, _LAT_HI = VALID_RANGES["lat"].low, VALID_RANGES["lat"].high
_LON_LO, _LON_HI = VALID_RANGES["lon"].low, VALID_RANGES["lon"].high
_SOG_LO, _SOG_HI = VALID_RANGES["sog_kn"].low, VALID_RANGES["sog_kn"].high
_COG_LO, _COG_HI = VALID_RANGES["cog_deg"].low, VALID_RANGES["cog_deg"].high
_HDG_LO, _HDG_HI = VALID_RANGES["heading_deg"].low, VALID_RANGES["heading_deg"].high
_NAV_LO, _NAV_HI = VALID_RANGES["nav_status"].low, VALID_RANGES["nav_status"].high
_SHIP_LO, _SHIP_HI = VALID_RANGES["ship_type"].low, VALID_RANGES["ship_type"].high
_IMO_LO, _IMO_HI = VALID_RANGES["imo"].low, VALID_RANGES["imo"].high
# Which bounds are open is fixed by the table; the functions below are written for it.
assert not VALID_RANGES["lat"].high_open and not VALID_RANGES["lon"].high_open
assert all(
    r.high_open
    for k, r in VALID_RANGES.items()
    if k in ("sog_kn", "cog_deg", "heading_deg", "nav_status", "ship_type", "imo")
)


def position_or_none(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Return ``(lat, lon)``, or ``(None, None)`` when either coordinate is unavailable.

    A position is useful only as a pair, so if either coordinate is unavailable both are
    ``None``; (0, 0) is a transponder default, not a position (GFW practice).
    """
    if lat is None or lon is None:
        return None, None
    if not (_LAT_LO <= lat <= _LAT_HI and _LON_LO <= lon <= _LON_HI):
        return None, None
    if lat == 0.0 and lon == 0.0:
        return None, None
    return lat, lon


def sog_kn_or_none(sog_kn: float | None) -> float | None:
    """Speed over ground in knots, ``None`` for 102.3 (not available) and anything out of range."""
    if sog_kn is None or not _SOG_LO <= sog_kn < _SOG_HI:
        return None
    return sog_kn


def type27_sog_kn_or_none(sog_kn: float | None) -> float | None:
    """Type 27 SOG (whole knots, 63 = not available)."""
    if sog_kn is None or not 0.0 <= sog_kn < TYPE27_SOG_NOT_AVAILABLE_KN:
        return None
    return sog_kn


def cog_deg_or_none(cog_deg: float | None) -> float | None:
    """Course over ground in degrees, ``None`` for 360 (not available) and anything ≥ 360."""
    if cog_deg is None or not _COG_LO <= cog_deg < _COG_HI:
        return None
    return cog_deg


def heading_deg_or_none(heading_deg: float | None) -> int | None:
    """True heading in whole degrees, ``None`` for 511 (not available) and anything > 359."""
    if heading_deg is None or not _HDG_LO <= heading_deg < _HDG_HI:
        return None
    return int(heading_deg)


def nav_status_or_none(nav_status: int | None) -> int | None:
    """Navigation status 0–14; 15 ("not defined", the default) and garbage become ``None``."""
    if nav_status is None or not _NAV_LO <= nav_status < _NAV_HI:
        return None
    return int(nav_status)


def ship_type_or_none(ship_type: int | None) -> int | None:
    """Ship and cargo type 1–255; 0 ("not available") becomes ``None``."""
    if ship_type is None or not _SHIP_LO <= ship_type < _SHIP_HI:
        return None
    return int(ship_type)


def imo_or_none(imo: int | None) -> int | None:
    """IMO number; 0 ("not available") becomes ``None``.

    The 7-digit check-digit validation belongs to the identity rules, not here: a wrong IMO is
    evidence, a missing one is not.
    """
    if imo is None or not _IMO_LO <= imo < _IMO_HI:
        return None
    return int(imo)


def text_or_none(text: str | None) -> str | None:
    """AIS 6-bit text without its ``@`` padding and spaces; empty or all-``@`` becomes ``None``.

    ``@`` (6-bit 0) means "no more characters": whatever follows the first ``@`` is padding or
    garbage, so the text is cut there (GFW practice), then stripped of blanks.
    """
    if not text:
        return None
    at = text.find("@")
    if at >= 0:
        text = text[:at]
    text = text.strip()
    return text or None
