"""mda.csv_reports: NOAA MarineCadastre and AISdb decoded CSV rows → Report."""

from __future__ import annotations

import pytest

from mda.csv_reports import MARINECADASTRE_HEADER, row_to_report
from mda.errors import DecodeError, RejectReason
from mda.model import RawLine, raw_batch_to_json
from streams.pipeline import DecodeStage
from streams.settings import Settings
from streams.topics import TopicNames

NAMES = TopicNames.from_settings(Settings())

# aisdb_noaa_marinecadastre_20230111.csv, rows 1 and 2
ROW_A_NO_IMO = "367752440,2023-01-11T00:00:00,43.07917,-70.75733,0.0,360.0,95.0,SAN JOSE,,WDI9818,31,0.0,,,,52.0,A"  # noqa: E501
ROW_A = "636021061,2023-01-11T00:00:00,26.09241,-80.04806,8.8,272.7,270.0,MSC NAISHA III,IMO9307839,5LCB4,70,8.0,208.0,30.0,8.0,70.0,A"  # noqa: E501


def test_marinecadastre_row() -> None:
    r, msg_type = row_to_report(MARINECADASTRE_HEADER, ROW_A, source="noaa")
    assert r is not None and msg_type == 1
    assert (r.mmsi, r.msg_type, r.ais_class) == (636021061, 1, "A")
    assert (r.event_ms, r.time_source, r.source) == (1673395200000, "line", "noaa")
    assert (r.lat, r.lon, r.sog_kn, r.cog_deg, r.heading_deg) == (
        26.09241,
        -80.04806,
        8.8,
        272.7,
        270,
    )
    assert (r.name, r.imo, r.callsign, r.ship_type, r.nav_status) == (
        "MSC NAISHA III",
        9307839,
        "5LCB4",
        70,
        8,
    )


def test_marinecadastre_not_available_values() -> None:
    r, _ = row_to_report(MARINECADASTRE_HEADER, ROW_A_NO_IMO, source="noaa")
    assert r is not None
    assert r.imo is None  # empty IMO
    assert r.cog_deg is None  # COG 360.0 = not available
    assert r.nav_status == 0
    row = ROW_A.replace("270.0,MSC", "511.0,MSC").replace(",8.8,", ",102.3,")
    r2, _ = row_to_report(MARINECADASTRE_HEADER, row, source="noaa")
    assert r2 is not None and r2.heading_deg is None and r2.sog_kn is None


def test_marinecadastre_class_b_is_type18() -> None:
    r, msg_type = row_to_report(MARINECADASTRE_HEADER, ROW_A[:-1] + "B", source="noaa")
    assert r is not None and (msg_type, r.msg_type, r.ais_class) == (18, 18, "B")


@pytest.mark.parametrize(
    "row",
    [
        ROW_A + ",extra",  # extra column
        ROW_A.rsplit(",", 1)[0],  # missing column
        ROW_A.replace("26.09241", "north"),  # bad number
        ROW_A.replace("2023-01-11T00:00:00", "2023-13-45T00:00:00"),  # bad date
        ROW_A[:-1] + "X",  # unknown transceiver class
        ROW_A.replace(",70,8.0,", ",7.5,8.0,"),  # non-integer ship type
        "",
    ],
)
def test_malformed_rows(row: str) -> None:
    with pytest.raises(DecodeError) as exc:
        row_to_report(MARINECADASTRE_HEADER, row, source="noaa")
    assert exc.value.reason == RejectReason.BAD_CSV_ROW


def test_unknown_layout() -> None:
    with pytest.raises(DecodeError) as exc:
        row_to_report(("MMSI", "X"), "1,2", source="x")
    assert exc.value.reason == RejectReason.BAD_CSV_ROW


AISDB_HEADER = tuple(
    [
        "MMSI",
        "Message_ID",
        "Repeat_indicator",
        "Time",
        "Millisecond",
        "Region",
        "Country",
        "Base_station",
        "Online_data",
        "Group_code",
        "Sequence_ID",
        "Channel",
        "Data_length",
        "Vessel_Name",
        "Call_sign",
        "IMO",
        "Ship_Type",
        "Dimension_to_Bow",
        "Dimension_to_stern",
        "Dimension_to_port",
        "Dimension_to_starboard",
        "Draught",
        "Destination",
        "AIS_version",
        "Navigational_status",
        "ROT",
        "SOG",
        "Accuracy",
        "Longitude",
        "Latitude",
        "COG",
        "Heading",
    ]
)


def aisdb_row(**values: str) -> str:
    row = dict.fromkeys(AISDB_HEADER, "")
    row.update(values)
    return ",".join(f'"{row[h]}"' for h in AISDB_HEADER)


def test_aisdb_position_row() -> None:
    # values of aisdb_decoded_20210701.csv row 1
    text = aisdb_row(
        MMSI="432905000",
        Message_ID="1",
        Time="20210701_185151",
        Millisecond="680",
        Navigational_status="0",
        SOG="13.6",
        Longitude="-103.63687",
        Latitude="8.87747666667",
        COG="314.8",
        Heading="315.0",
    )
    r, msg_type = row_to_report(AISDB_HEADER, text, source="aisdb")
    assert r is not None and msg_type == 1
    assert (r.mmsi, r.event_ms, r.lat, r.lon) == (
        432905000,
        1625165511680,
        8.87747666667,
        -103.63687,
    )
    assert (r.sog_kn, r.cog_deg, r.heading_deg, r.nav_status) == (13.6, 314.8, 315, 0)


def test_aisdb_static_and_other_types() -> None:
    text = aisdb_row(
        MMSI="316001234", Message_ID="5", Time="20210701_000041", Millisecond="0",
        Vessel_Name="ALGOMA SPIRIT@@", Call_sign="CFK1234", IMO="9127174", Ship_Type="70",
    )  # fmt: skip
    r, _ = row_to_report(AISDB_HEADER, text, source="aisdb")
    assert r is not None
    assert (r.name, r.callsign, r.imo, r.ship_type, r.lat) == (
        "ALGOMA SPIRIT",
        "CFK1234",
        9127174,
        70,
        None,
    )
    base = aisdb_row(MMSI="2573535", Message_ID="4", Time="20210701_000041")
    assert row_to_report(AISDB_HEADER, base, source="aisdb") == (None, 4)
    with pytest.raises(DecodeError):
        row_to_report(
            AISDB_HEADER, aisdb_row(MMSI="1", Message_ID="1", Time="2021"), source="aisdb"
        )


@pytest.mark.parametrize(
    ("mmsi", "accepted"),
    [("1", True), (str(2**30 - 1), True), (str(2**30), False), ("0", False), ("9" * 25, False)],
)
def test_an_mmsi_an_ais_message_cannot_carry_is_refused(mmsi: str, accepted: bool) -> None:
    """A CSV MMSI is what the 30-bit AIS field can hold. One of 25 digits was taken, and the
    decode stage then failed to write its message (an int over 64 bits) and lost the batch."""
    row = ROW_A.replace("636021061", mmsi, 1)
    if accepted:
        r, _ = row_to_report(MARINECADASTRE_HEADER, row, source="noaa")
        assert r is not None and r.mmsi == int(mmsi)
    else:
        with pytest.raises(DecodeError) as info:
            row_to_report(MARINECADASTRE_HEADER, row, source="noaa")
        assert info.value.reason is RejectReason.BAD_MMSI
    lines = [RawLine("c", 1, row, 0, MARINECADASTRE_HEADER)]
    outs = DecodeStage(NAMES, 2).handle(raw_batch_to_json(lines))  # (it raised before)
    assert any(o.topic == (NAMES.reports if accepted else NAMES.rejected) for o in outs)
