"""replay.files: gzip by magic bytes, garbage bytes, CSV headers, truncated gzip."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from mda.decode import Decoder
from mda.errors import RejectReason
from replay.files import MAX_RAW_LINE_CHARS, TruncatedInputError, iter_raw_lines

DATA = Path(
    os.environ.get("MDA_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
NOAADATA = DATA / "ais_nmea" / "noaadata_uscg_nais_2006-07-15.ais"


def test_plain_file_lines_and_source(tmp_path: Path) -> None:
    lines = list(iter_raw_lines(NOAADATA, ingest_ms=7))
    assert len(lines) == 1001  # SOURCES.md: 1001 lines
    assert lines[0].text == "# 2006-07-15"
    assert (lines[0].source, lines[0].line_no, lines[0].ingest_ms) == (NOAADATA.name, 1, 7)
    assert lines[1].text.endswith(",r003669987,1152921693")  # no trailing newline kept
    assert lines[-1].csv_header is None
    named = next(iter_raw_lines(NOAADATA, "feed-7", ingest_ms=7))
    assert named.source == "feed-7"


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    p = tmp_path / "looks_plain.txt"
    p.write_bytes(gzip.compress(NOAADATA.read_bytes()))
    plain = [r.text for r in iter_raw_lines(NOAADATA, ingest_ms=0)]
    assert [r.text for r in iter_raw_lines(p, ingest_ms=0)] == plain


def test_truncated_gzip_yields_what_it_can_then_raises(tmp_path: Path) -> None:
    p = tmp_path / "cut.ais.gz"
    data = gzip.compress(NOAADATA.read_bytes())
    p.write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(TruncatedInputError) as exc:
        for r in iter_raw_lines(p, ingest_ms=0):
            got.append(r)
    assert 0 < len(got) < 1001
    assert exc.value.reason == RejectReason.TRUNCATED_INPUT
    assert exc.value.lines_read == len(got)


def test_garbage_bytes_still_make_lines(tmp_path: Path) -> None:
    p = tmp_path / "garbage.bin"
    p.write_bytes(b"\xff\xfe\x00garbage\n!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\r\n")
    lines = list(iter_raw_lines(p, ingest_ms=0))
    assert len(lines) == 2
    d = Decoder()
    assert [r.reason for r in d.feed(lines[0]).rejects] == ["bad_encoding"]
    assert len(d.feed(lines[1]).reports) == 1


def test_overlong_line_is_capped_and_rejected(tmp_path: Path) -> None:
    p = tmp_path / "long.txt"
    p.write_bytes(b"!" * (3 * MAX_RAW_LINE_CHARS) + b"\nnext\n")
    lines = list(iter_raw_lines(p, ingest_ms=0))
    assert [len(r.text) for r in lines] == [MAX_RAW_LINE_CHARS, 4]
    assert [r.line_no for r in lines] == [1, 2]
    assert [r.reason for r in Decoder().feed(lines[0]).rejects] == ["line_too_long"]


def test_csv_header_detected_and_attached(tmp_path: Path) -> None:
    csv_path = DATA / "ais_csv" / "aisdb_noaa_marinecadastre_20230111.csv"
    rows = list(iter_raw_lines(csv_path, ingest_ms=0))
    assert len(rows) == 1000  # SOURCES.md: 1000 rows; the header line is consumed
    assert rows[0].line_no == 2
    assert rows[0].csv_header is not None and rows[0].csv_header[:2] == ("MMSI", "BaseDateTime")
