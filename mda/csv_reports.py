"""Rows of already-decoded AIS CSV files → :class:`~mda.model.Report`.

Two layouts are recognised by their header:

- NOAA MarineCadastre (``MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,
  VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass``), the contract format of
  DESIGN.md §6. A row holds a position and the vessel's static data at once; it becomes one
  report of type 1 (class A) or 18 (class B) carrying both.
- AISdb decoded CSV (``MMSI,Message_ID,…,Time,Millisecond,…,Longitude,Latitude,…``, time
  ``YYYYMMDD_HHMMSS``): one decoded message per row, so ``msg_type`` is its ``Message_ID``.

Event time comes from the row (``time_source`` "line"); values pass through
:mod:`mda.invalid_values` like decoded NMEA. A malformed row raises
:class:`~mda.errors.DecodeError` with ``BAD_CSV_ROW``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from mda import invalid_values as iv
from mda.errors import DecodeError, RejectReason
from mda.model import CLASS_BY_TYPE, MAX_MMSI, POSITION_TYPES, STATIC_TYPES, Report

MARINECADASTRE_HEADER: Final = (
    "MMSI",
    "BaseDateTime",
    "LAT",
    "LON",
    "SOG",
    "COG",
    "Heading",
    "VesselName",
    "IMO",
    "CallSign",
    "VesselType",
    "Status",
    "Length",
    "Width",
    "Draft",
    "Cargo",
    "TransceiverClass",
)
#: Columns of the AISdb decoded CSV that we read (the file has 87+ more).
AISDB_COLUMNS: Final = (
    "MMSI",
    "Message_ID",
    "Time",
    "Millisecond",
    "Vessel_Name",
    "Call_sign",
    "IMO",
    "Ship_Type",
    "Navigational_status",
    "SOG",
    "Longitude",
    "Latitude",
    "COG",
    "Heading",
)
_CLASS_BY_TYPE: Final = CLASS_BY_TYPE


def _bad(detail: str) -> DecodeError:
    return DecodeError(RejectReason.BAD_CSV_ROW, detail)


def _split(text: str) -> list[str]:
    try:
        rows = list(csv.reader([text]))
    except csv.Error as exc:
        raise _bad(f"csv: {exc}") from exc
    if len(rows) != 1:
        raise _bad("not one CSV row")
    return rows[0]


def _int(value: str, column: str) -> int | None:
    """An integer column; empty is ``None``; ``'70.0'`` is accepted (MarineCadastre floats)."""
    v = value.strip()
    if not v or v == "None":
        return None
    try:
        return int(v)
    except ValueError:
        pass
    try:
        f = float(v)
    except ValueError as exc:
        raise _bad(f"{column}={v[:20]!r} is not a number") from exc
    if not f.is_integer():
        raise _bad(f"{column}={v[:20]!r} is not an integer")
    return int(f)


def _float(value: str, column: str) -> float | None:
    v = value.strip()
    if not v or v == "None":
        return None
    try:
        f = float(v)
    except ValueError as exc:
        raise _bad(f"{column}={v[:20]!r} is not a number") from exc
    if f != f or f in (float("inf"), float("-inf")):
        raise _bad(f"{column}={v[:20]!r} is not finite")
    return f


def _text(value: str) -> str | None:
    return iv.text_or_none(value.strip())


def _imo(value: str) -> int | None:
    """``IMO9307839`` (MarineCadastre) or ``9307839`` → 9307839."""
    v = value.strip()
    if v[:3].upper() == "IMO":
        v = v[3:]
    return iv.imo_or_none(_int(v, "IMO"))


def _mmsi(value: str) -> int:
    """The MMSI column: what an AIS message's 30-bit field can hold, and not 0. Before, any
    positive number was taken, and one of 25 digits made the decode stage's message an int
    over 64 bits, which orjson cannot write (the agent crashed and the batch was lost)."""
    mmsi = _int(value, "MMSI")
    if mmsi is None or not 0 < mmsi <= MAX_MMSI:
        raise DecodeError(RejectReason.BAD_MMSI, f"MMSI={value[:20]!r}")
    return mmsi


def _marinecadastre(
    header: Sequence[str], fields: list[str], source: str, text: str
) -> tuple[Report | None, int]:
    if len(fields) != len(header):
        raise _bad(f"{len(fields)} fields, header has {len(header)}")
    row = dict(zip(header, fields, strict=True))
    try:
        dt = datetime.fromisoformat(row["BaseDateTime"].strip())
    except ValueError as exc:
        raise _bad(f"BaseDateTime={row['BaseDateTime'][:30]!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # MarineCadastre times are UTC
    cls = row["TransceiverClass"].strip().upper()
    if cls not in ("A", "B"):
        raise _bad(f"TransceiverClass={cls[:10]!r}")
    msg_type = 1 if cls == "A" else 18
    lat, lon = iv.position_or_none(_float(row["LAT"], "LAT"), _float(row["LON"], "LON"))
    report = Report(
        mmsi=_mmsi(row["MMSI"]),
        msg_type=msg_type,
        event_ms=round(dt.timestamp() * 1000),
        time_source="line",
        source=source,
        lat=lat,
        lon=lon,
        sog_kn=iv.sog_kn_or_none(_float(row["SOG"], "SOG")),
        cog_deg=iv.cog_deg_or_none(_float(row["COG"], "COG")),
        heading_deg=iv.heading_deg_or_none(_float(row["Heading"], "Heading")),
        nav_status=iv.nav_status_or_none(_int(row["Status"], "Status")),
        ais_class="A" if cls == "A" else "B",
        name=_text(row["VesselName"]),
        callsign=_text(row["CallSign"]),
        imo=_imo(row["IMO"]),
        ship_type=iv.ship_type_or_none(_int(row["VesselType"], "VesselType")),
        dedup_key=text,
    )
    return report, msg_type


def _aisdb(
    header: Sequence[str], fields: list[str], source: str, text: str
) -> tuple[Report | None, int]:
    if len(fields) != len(header):
        raise _bad(f"{len(fields)} fields, header has {len(header)}")
    row = dict(zip(header, fields, strict=True))
    msg_type = _int(row["Message_ID"], "Message_ID")
    if msg_type is None or not 1 <= msg_type <= 27:
        raise _bad(f"Message_ID={row['Message_ID'][:10]!r}")
    try:
        dt = datetime.strptime(row["Time"].strip(), "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise _bad(f"Time={row['Time'][:30]!r}") from exc
    # Added as an offset: real rows carry values just above 999 (e.g. 1002).
    ms = _int(row["Millisecond"], "Millisecond") or 0
    if not 0 <= ms < 60_000:
        raise _bad(f"Millisecond={ms}")
    if msg_type not in POSITION_TYPES and msg_type not in STATIC_TYPES:
        return None, msg_type
    mmsi = _mmsi(row["MMSI"])
    lat = lon = sog = cog = None
    heading = status = None
    if msg_type in POSITION_TYPES:
        lat, lon = iv.position_or_none(
            _float(row["Latitude"], "Latitude"), _float(row["Longitude"], "Longitude")
        )
        sog_raw = _float(row["SOG"], "SOG")
        sog = iv.type27_sog_kn_or_none(sog_raw) if msg_type == 27 else iv.sog_kn_or_none(sog_raw)
        cog = iv.cog_deg_or_none(_float(row["COG"], "COG"))
        if msg_type != 27:
            heading = iv.heading_deg_or_none(_float(row["Heading"], "Heading"))
        if msg_type <= 3 or msg_type == 27:
            status = iv.nav_status_or_none(_int(row["Navigational_status"], "Navigational_status"))
    static = msg_type in STATIC_TYPES
    report = Report(
        mmsi=mmsi,
        msg_type=msg_type,
        event_ms=round(dt.timestamp() * 1000) + ms,
        time_source="line",
        source=source,
        lat=lat,
        lon=lon,
        sog_kn=sog,
        cog_deg=cog,
        heading_deg=heading,
        nav_status=status,
        ais_class=_CLASS_BY_TYPE.get(msg_type),
        name=_text(row["Vessel_Name"]) if static else None,
        callsign=_text(row["Call_sign"]) if static else None,
        imo=_imo(row["IMO"]) if msg_type == 5 else None,
        ship_type=iv.ship_type_or_none(_int(row["Ship_Type"], "Ship_Type")) if static else None,
        dedup_key=text,
    )
    return report, msg_type


_Layout = Callable[[Sequence[str], list[str], str, str], tuple[Report | None, int]]


def _layout(header: Sequence[str]) -> _Layout | None:
    if tuple(header) == MARINECADASTRE_HEADER:
        return _marinecadastre
    if len(header) > 1 and header[1] == "Message_ID" and set(AISDB_COLUMNS) <= set(header):
        return _aisdb
    return None


def row_to_report(header: Sequence[str], text: str, *, source: str) -> tuple[Report | None, int]:
    """Parse one CSV row (``text``) under ``header`` → (report or ``None``, message type).

    ``None`` means a valid row of a message type we do not turn into reports (AISdb rows of
    types 4, 8, 21 …); the type is still returned so that it is counted as decoded.
    Raises :class:`DecodeError` (``BAD_CSV_ROW``, or ``BAD_MMSI``) for a malformed row.
    """
    layout = _layout(header)
    if layout is None:
        raise _bad(f"unknown CSV layout ({len(header)} columns, first {header[:3]!r})")
    return layout(header, _split(text), source, text)
