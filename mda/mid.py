"""MMSI structure (ITU-R M.585) and the ITU MID table: flag of a ship, and what an MMSI is.

The flag of an alert (DESIGN.md §8) is the ISO 3166-1 alpha-2 code of the country the MMSI's
Maritime Identification Digits are allocated to (``mda/data/mid.csv``, the ITU table with an
``iso2`` column added by ``scripts/build_mid_iso2.py``). It says who issued the number, not
which register the hull is in: a spoofed or re-used MMSI carries a false flag.

:func:`classify_mmsi` sorts a number into a small closed set so that INVALID_MMSI (§9) flags
numbers that cannot be a ship's (placeholders, unallocated MIDs, wrong length) and leaves the
legitimate non-ship stations alone (coast stations, aids to navigation, SAR aircraft, ...).
MMSIs are handled as integers, so the leading zeros of ``00MIDxxxx``/``0MIDxxxxx`` are implied:
an integer is read as its 9-digit zero-padded form.
"""

from __future__ import annotations

import csv
import enum
import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mda.errors import ReferenceDataError, RejectReason

__all__ = [
    "MidTable",
    "MmsiClass",
    "classify_mmsi",
    "country_of",
    "flag_of",
    "mid_of",
]

_MAX_MMSI = 999_999_999
#: Below this a zero-padded number has fewer than 7 significant digits, which no ITU format
#: allows (the shortest, a coast station ``00MIDxxxx`` with MID >= 201, is >= 2,010,000).
_MIN_MMSI = 1_000_000
#: Defaults that transponders and installers leave in the MMSI field. 1193046 is 0x123456, the
#: factory default of some Class B units (seen in the USCG N-AIS excerpt).
_KNOWN_PLACEHOLDERS = frozenset({123_456_789, 987_654_321, 1_193_046, 12_345_678})
_ISO2 = re.compile(r"^[A-Z]{2}$")
#: Most MMSIs whose class a table remembers (the memo is cleared when full).
_CLASS_MEMO_MAX = 500_000


class MmsiClass(enum.StrEnum):
    """What a 30-bit MMSI field holds, by the ITU-R M.585 formats (a closed set)."""

    SHIP = "ship"  # MIDxxxxxx, MID 201-775 allocated
    PLACEHOLDER = "placeholder"  # 000000000, 111111111, 123456789, 0x123456, ...
    UNALLOCATED_MID = "unallocated_mid"  # a known format whose MID is not in the ITU table
    BAD_LENGTH = "bad_length"  # > 999,999,999 or fewer than 7 significant digits
    NOT_A_FORMAT = "not_a_format"  # 9 digits, but no M.585 format (e.g. 1xxxxxxxx not 111)
    COAST_STATION = "coast_station"  # 00MIDxxxx
    GROUP = "group"  # 0MIDxxxxx (group call of ships)
    SAR_AIRCRAFT = "sar_aircraft"  # 111MIDxxx
    ATON = "aton"  # 99MIDxxxx (aid to navigation, incl. virtual)
    AUXILIARY_CRAFT = "auxiliary_craft"  # 98MIDxxxx (craft associated with a parent ship)
    SART_MOB_EPIRB = "sart_mob_epirb"  # 970xxyyyy AIS-SART, 972xxyyyy MOB, 974xxyyyy EPIRB-AIS
    HANDHELD = "handheld"  # 8MIDxxxxx (handheld VHF with DSC/AIS)

    @property
    def is_invalid(self) -> bool:
        """True for the classes INVALID_MMSI reports: no legitimate station uses them."""
        return self in _INVALID

    @property
    def is_ship(self) -> bool:
        return self is MmsiClass.SHIP

    @property
    def description(self) -> str:
        """One sentence for an alert summary or evidence."""
        return _DESCRIPTIONS[self]


_INVALID = frozenset(
    {
        MmsiClass.PLACEHOLDER,
        MmsiClass.UNALLOCATED_MID,
        MmsiClass.BAD_LENGTH,
        MmsiClass.NOT_A_FORMAT,
    }
)

_DESCRIPTIONS: dict[MmsiClass, str] = {
    MmsiClass.SHIP: "ship station MMSI with an allocated MID",
    MmsiClass.PLACEHOLDER: "placeholder or factory-default number, not an assigned MMSI",
    MmsiClass.UNALLOCATED_MID: "the MID is not allocated by the ITU",
    MmsiClass.BAD_LENGTH: "not a 9-digit MMSI",
    MmsiClass.NOT_A_FORMAT: "9 digits but matches no ITU-R M.585 MMSI format",
    MmsiClass.COAST_STATION: "coast station (00MIDxxxx)",
    MmsiClass.GROUP: "group call identity (0MIDxxxxx)",
    MmsiClass.SAR_AIRCRAFT: "search-and-rescue aircraft (111MIDxxx)",
    MmsiClass.ATON: "aid to navigation (99MIDxxxx)",
    MmsiClass.AUXILIARY_CRAFT: "craft associated with a parent ship (98MIDxxxx)",
    MmsiClass.SART_MOB_EPIRB: "AIS-SART, MOB or EPIRB-AIS device (970/972/974)",
    MmsiClass.HANDHELD: "handheld VHF transceiver (8MIDxxxxx)",
}


def _is_placeholder(mmsi: int) -> bool:
    digits = f"{mmsi:09d}"
    return (
        len(set(digits)) == 1  # 000000000, 111111111, ..., 999999999
        or mmsi in _KNOWN_PLACEHOLDERS
        or digits.startswith("12345678")  # 123456780 ... 123456789
    )


def _format_of(mmsi: int) -> tuple[MmsiClass, int | None]:
    """The M.585 format of a 9-digit number and the MID it carries (``None`` if none)."""
    d = f"{mmsi:09d}"
    first = d[0]
    if first == "0":
        if d[1] == "0":
            return MmsiClass.COAST_STATION, int(d[2:5])
        return MmsiClass.GROUP, int(d[1:4])
    if "2" <= first <= "7":
        return MmsiClass.SHIP, int(d[0:3])
    if first == "8":
        return MmsiClass.HANDHELD, int(d[1:4])
    if d.startswith("111"):
        return MmsiClass.SAR_AIRCRAFT, int(d[3:6])
    if d[:3] in ("970", "972", "974"):
        return MmsiClass.SART_MOB_EPIRB, None  # digits 4-5 are a manufacturer id, not a MID
    if d.startswith("98"):
        return MmsiClass.AUXILIARY_CRAFT, int(d[2:5])
    if d.startswith("99"):
        return MmsiClass.ATON, int(d[2:5])
    return MmsiClass.NOT_A_FORMAT, None


@dataclass(frozen=True, slots=True)
class MidTable:
    """ITU MID allocations: MID -> ISO2 and MID -> allocated name.

    A MID listed on several rows (306: Bonaire/Sint Eustatius/Saba, Curaçao, Sint Maarten)
    maps to the ISO2 of its first row and to all the names joined with "; ".
    """

    iso2_by_mid: dict[int, str]
    name_by_mid: dict[int, str]
    #: Memo of :meth:`classify_mmsi` (a pure function of the MMSI and this table): the track
    #: stage asks once per report, a vessel's class never changes.
    _classes: dict[int, MmsiClass] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def load(cls, path: Path) -> MidTable:
        """Read a ``MID,Allocated_to,iso2`` CSV; raise ReferenceDataError naming the row."""
        with path.open(newline="", encoding="utf-8") as f:
            return cls.from_rows(list(csv.DictReader(f)), str(path))

    @classmethod
    def from_rows(cls, rows: list[dict[str, str]], origin: str = "mid table") -> MidTable:
        iso2: dict[int, str] = {}
        names: dict[int, list[str]] = {}
        for line_no, row in enumerate(rows, start=2):
            mid_text = (row.get("MID") or "").strip()
            code = (row.get("iso2") or "").strip()
            name = (row.get("Allocated_to") or "").strip()
            if not (mid_text.isdigit() and 201 <= int(mid_text) <= 775):
                raise ReferenceDataError(
                    RejectReason.BAD_REFERENCE_DATA,
                    f"{origin} line {line_no}: MID {mid_text!r} is not 201-775",
                )
            if not _ISO2.match(code):
                raise ReferenceDataError(
                    RejectReason.BAD_REFERENCE_DATA,
                    f"{origin} line {line_no}: iso2 {code!r} is not two capital letters",
                )
            mid = int(mid_text)
            iso2.setdefault(mid, code)
            names.setdefault(mid, []).append(name)
        return cls(iso2, {mid: "; ".join(n) for mid, n in names.items()})

    @staticmethod
    def load_default() -> MidTable:
        """The shipped table (``mda/data/mid.csv``), read once per process."""
        return _default_table()

    def is_allocated(self, mid: int) -> bool:
        return mid in self.iso2_by_mid

    def classify_mmsi(self, mmsi: int) -> MmsiClass:
        """The class of ``mmsi``; placeholders win over any format they resemble."""
        found = self._classes.get(mmsi)
        if found is None:
            if len(self._classes) >= _CLASS_MEMO_MAX:
                self._classes.clear()
            found = self._classes[mmsi] = self._classify(mmsi)
        return found

    def _classify(self, mmsi: int) -> MmsiClass:
        if _is_placeholder(mmsi):
            return MmsiClass.PLACEHOLDER
        if not _MIN_MMSI <= mmsi <= _MAX_MMSI:
            return MmsiClass.BAD_LENGTH
        kind, mid = _format_of(mmsi)
        if mid is not None and mid not in self.iso2_by_mid:
            return MmsiClass.UNALLOCATED_MID
        return kind

    def flag_of(self, mmsi: int) -> str | None:
        """ISO2 of the MID of a ship MMSI (first 3 digits of 2xxxxxxxx-7xxxxxxxx), else None."""
        mid = _ship_mid(mmsi)
        return None if mid is None else self.iso2_by_mid.get(mid)

    def country_of(self, mmsi: int) -> str | None:
        """ITU name of the MID's allocation for a ship MMSI, else None."""
        mid = _ship_mid(mmsi)
        return None if mid is None else self.name_by_mid.get(mid)


def _ship_mid(mmsi: int) -> int | None:
    if 200_000_000 <= mmsi <= 799_999_999:
        return mmsi // 1_000_000
    return None


def mid_of(mmsi: int) -> int | None:
    """The MID inside any MMSI format that carries one (ship, coast, group, SAR, AtoN, ...)."""
    if not _MIN_MMSI <= mmsi <= _MAX_MMSI:
        return None
    return _format_of(mmsi)[1]


@functools.cache
def _default_table() -> MidTable:
    with resources.as_file(resources.files("mda") / "data" / "mid.csv") as path:
        return MidTable.load(path)


def flag_of(mmsi: int) -> str | None:
    """ISO2 flag from the MID of a ship MMSI, using the shipped table."""
    return _default_table().flag_of(mmsi)


def country_of(mmsi: int) -> str | None:
    """ITU allocation name of a ship MMSI's MID, using the shipped table."""
    return _default_table().country_of(mmsi)


def classify_mmsi(mmsi: int) -> MmsiClass:
    """The :class:`MmsiClass` of ``mmsi``, using the shipped table."""
    return _default_table().classify_mmsi(mmsi)
