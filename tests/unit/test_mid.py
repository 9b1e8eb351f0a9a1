"""MMSI classes and flags, with MMSIs taken from the recordings in ../shared/data/ais_nmea."""

from __future__ import annotations

from pathlib import Path

import pytest

from mda.errors import ReferenceDataError
from mda.mid import MidTable, MmsiClass, classify_mmsi, country_of, flag_of, mid_of


@pytest.mark.parametrize(
    ("mmsi", "expected", "where"),
    [
        # ships
        (316001234, MmsiClass.SHIP, "MID 316 Canada"),
        (366999707, MmsiClass.SHIP, "MID 366 USA"),
        (636091234, MmsiClass.SHIP, "MID 636 Liberia"),
        # placeholders seen in the recordings
        (0, MmsiClass.PLACEHOLDER, "dma_gatehouse_stream_example"),
        (111111111, MmsiClass.PLACEHOLDER, "dma_socal_ais250 (9 reports)"),
        (123456789, MmsiClass.PLACEHOLDER, "dma_gatehouse / aisdb_tagblock"),
        (999999999, MmsiClass.PLACEHOLDER, "dma_socal_ais250 type 4"),
        (222222222, MmsiClass.PLACEHOLDER, "dma_gatehouse / gpsd type6"),
        (987654321, MmsiClass.PLACEHOLDER, "noaadata_uscg_nais type 1"),
        (1193046, MmsiClass.PLACEHOLDER, "noaadata_uscg_nais: 0x123456 default"),
        (123456781, MmsiClass.PLACEHOLDER, "12345678x sequence"),
        # wrong length
        (1006551025, MmsiClass.BAD_LENGTH, "libais_uscg_test: 10 digits"),
        (3638, MmsiClass.BAD_LENGTH, "dma_gatehouse: 4 significant digits"),
        # unallocated MIDs
        (803733463, MmsiClass.UNALLOCATED_MID, "gfw mixed_types: handheld form, MID 037"),
        (980900281, MmsiClass.UNALLOCATED_MID, "libais_uscg_test: auxiliary form, MID 090"),
        (217000000, MmsiClass.UNALLOCATED_MID, "ship form, MID 217 not allocated"),
        # 9 digits but no format
        (122292919, MmsiClass.NOT_A_FORMAT, "dma_socal_ais250 type 1"),
        # legitimate non-ship stations
        (3669141, MmsiClass.COAST_STATION, "dma_socal_ais250 type 4 base station, MID 366"),
        (2311200, MmsiClass.COAST_STATION, "dma_gatehouse type 4, MID 231 Faroe"),
        (36699870, MmsiClass.GROUP, "noaadata_uscg_nais, 0 + MID 366"),
        (111232501, MmsiClass.SAR_AIRCRAFT, "dma_gatehouse type 9 (SAR aircraft), MID 232"),
        (993692029, MmsiClass.ATON, "dma_socal_ais250 type 21, MID 369"),
        (992190002, MmsiClass.ATON, "dma_gatehouse type 21, MID 219"),
        (970227235, MmsiClass.SART_MOB_EPIRB, "gfw mixed_types type 14 (SART)"),
        (972158237, MmsiClass.SART_MOB_EPIRB, "gpsd sample (MOB)"),
        (974291422, MmsiClass.SART_MOB_EPIRB, "libais typeexamples (EPIRB-AIS)"),
        (866770250, MmsiClass.HANDHELD, "noaadata_uscg_nais type 1, 8 + MID 667"),
        (983160001, MmsiClass.AUXILIARY_CRAFT, "form example 98 + MID 316"),
    ],
)
def test_classify_mmsi(mmsi: int, expected: MmsiClass, where: str) -> None:
    assert classify_mmsi(mmsi) is expected, where


def test_invalid_classes_are_exactly_the_ones_to_flag() -> None:
    flagged = {c for c in MmsiClass if c.is_invalid}
    assert flagged == {
        MmsiClass.PLACEHOLDER,
        MmsiClass.UNALLOCATED_MID,
        MmsiClass.BAD_LENGTH,
        MmsiClass.NOT_A_FORMAT,
    }
    assert all(c.description for c in MmsiClass)


@pytest.mark.parametrize(
    ("mmsi", "iso2"),
    [
        (316001234, "CA"),
        (303123456, "US"),  # Alaska
        (338123456, "US"),
        (366999707, "US"),
        (367123456, "US"),
        (368123456, "US"),
        (369123456, "US"),
        (204123456, "PT"),  # Azores
        (255123456, "PT"),  # Madeira
        (236111000, "GI"),
        (538001234, "MH"),
        (636012345, "LR"),
        (358123456, "PR"),
    ],
)
def test_flag_of(mmsi: int, iso2: str) -> None:
    assert flag_of(mmsi) == iso2


def test_flag_and_country_only_for_ship_numbers() -> None:
    assert flag_of(3669141) is None  # coast station: no ship flag
    assert flag_of(993692029) is None
    assert flag_of(217000000) is None  # unallocated
    assert country_of(316001234) == "Canada"
    assert country_of(366999707) == "United States of America"
    assert country_of(111232501) is None


def test_mid_of_each_format() -> None:
    assert mid_of(316001234) == 316
    assert mid_of(3669141) == 366
    assert mid_of(36699870) == 366
    assert mid_of(111232501) == 232
    assert mid_of(993692029) == 369
    assert mid_of(866770250) == 667
    assert mid_of(970227235) is None
    assert mid_of(1006551025) is None


def test_mid_306_several_territories() -> None:
    table = MidTable.load_default()
    assert table.iso2_by_mid[306] == "BQ"
    assert "Curaçao" in table.name_by_mid[306]


def test_shipped_table_is_complete() -> None:
    table = MidTable.load_default()
    assert len(table.iso2_by_mid) == 292  # 294 rows, MID 306 on three
    assert table is MidTable.load_default()


def test_bad_table_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mid.csv"
    path.write_text("MID,Allocated_to,iso2\n316,Canada,CA\n999,Nowhere,XX\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="line 3"):
        MidTable.load(path)
    path.write_text("MID,Allocated_to,iso2\n316,Canada,Canada\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="iso2"):
        MidTable.load(path)
