"""Fuzz properties of the readers: files of arbitrary bytes, truncated gzip, hostile CSV rows.

Invariants: ``iter_raw_lines`` yields one line per physical line, each at most
``MAX_RAW_LINE_CHARS`` long, and raises nothing but :class:`TruncatedInputError` (after the
lines it could read, which are the file's own); a CSV row under a known header is decoded or
rejected with a reason (``BAD_CSV_ROW``/``BAD_MMSI``), never raised, and the good rows around
a bad one decode as they do alone.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import orjson
from hypothesis import given
from hypothesis import strategies as st

from mda.csv_reports import AISDB_COLUMNS, MARINECADASTRE_HEADER
from mda.decode import Decoder
from mda.errors import RejectReason
from mda.model import RawLine, raw_batch_to_json
from replay.files import MAX_RAW_LINE_CHARS, TruncatedInputError, iter_raw_lines
from streams.pipeline import DecodeStage
from tests.conftest import SHARED_DATA
from tests.hypothesis_profiles import FUZZ
from tests.unit.test_fuzz_decode import (
    INGEST_MS,
    NAMES,
    REASONS,
    feed_accounted,
    flush_accounted,
)

CSV = SHARED_DATA / "ais_csv"
CADASTRE = CSV / "aisdb_noaa_marinecadastre_20230111.csv"
AISDB = CSV / "aisdb_decoded_20210701.csv"
NOAADATA = SHARED_DATA / "ais_nmea" / "noaadata_uscg_nais_2006-07-15.ais"


@contextmanager
def temp_file(data: bytes) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix="mda-fuzz-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        yield Path(name)
    finally:
        os.unlink(name)


def read_all(path: Path) -> tuple[list[RawLine], bool]:
    """Every line the reader yields, and whether it ended with TruncatedInputError."""
    out: list[RawLine] = []
    try:
        for raw in iter_raw_lines(path, "f", ingest_ms=INGEST_MS):
            out.append(raw)
    except TruncatedInputError as exc:
        assert exc.reason == RejectReason.TRUNCATED_INPUT
        return out, True
    return out, False


def physical_lines(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=200),
            # Lines around and beyond the reader's limit.
            st.binary(min_size=1, max_size=2).map(lambda b: b * 40_000),
        ),
        max_size=4,
    ).map(lambda parts: b"\n".join(parts))
)
def test_reader_on_arbitrary_bytes(data: bytes) -> None:
    if data.startswith(b"\x1f\x8b"):
        data = b"x" + data  # gzip is fuzzed below
    with temp_file(data) as path:
        lines, truncated = read_all(path)
    assert not truncated
    # One line per physical line; only a CSV header line ("MMSI,...") is consumed.
    consumed = physical_lines(data) - len(lines)
    assert consumed == 0 or (consumed == 1 and b"MMSI," in data)
    assert all(len(r.text) <= MAX_RAW_LINE_CHARS for r in lines)
    d = Decoder()
    for r in lines:
        feed_accounted(d, r)
    flush_accounted(d, "f")


@cache
def noaadata_gz() -> tuple[bytes, tuple[str, ...]]:
    text = [r.text for r in iter_raw_lines(NOAADATA, ingest_ms=0)]
    return gzip.compress(NOAADATA.read_bytes(), mtime=0), tuple(text)


@FUZZ
@given(st.data())
def test_truncated_or_corrupt_gzip(data: st.DataObject) -> None:
    blob, original = noaadata_gz()
    cut = data.draw(st.integers(2, len(blob) - 1), label="cut")
    broken = blob[:cut]
    if data.draw(st.booleans(), label="corrupt a byte too"):
        i = data.draw(st.integers(10, max(10, cut - 1)), label="at")
        broken = broken[:i] + bytes([broken[i] ^ 0xFF]) + broken[i + 1 :] if i < cut else broken
    with temp_file(broken) as path:
        lines, truncated = read_all(path)
    assert truncated  # a cut gzip file always ends in the middle of its data
    texts = [r.text for r in lines]
    if broken == blob[:cut]:
        # Lines read before the cut are the file's own, in order (the last may be partial).
        n = len(texts)
        if n:
            assert texts[:-1] == list(original[: n - 1])
            assert original[n - 1].startswith(texts[-1])
    d = Decoder()
    for r in lines:
        feed_accounted(d, r)
    flush_accounted(d, "f")


# -- CSV rows ---------------------------------------------------------------------------------

garbage_number = st.sampled_from(
    ["", "None", "nan", "inf", "-inf", "1e400", "0x1F", "--1", "1,5", " 12 ", "9" * 40, "٣", "½"]
)
field_value = st.one_of(
    garbage_number,
    st.integers(-(10**12), 10**12).map(str),
    st.integers(-(10**30), 10**30).map(str),  # (an MMSI of 25 digits once crashed the stage)
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=15),
)


@cache
def real_rows(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    lines = list(iter_raw_lines(path, ingest_ms=0))
    header = lines[0].csv_header
    assert header is not None
    return header, tuple(r.text for r in lines[:300])


@st.composite
def csv_row(draw: st.DrawFn, path: Path) -> str:
    """A real row with columns replaced, dropped or added, or an arbitrary text row."""
    _, rows = real_rows(path)
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=300))
    fields = draw(st.sampled_from(rows)).split(",")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "drop", "add", "quote"]))
        i = draw(st.integers(0, len(fields) - 1)) if fields else 0
        if op == "replace" and fields:
            fields[i] = draw(field_value)
        elif op == "drop" and fields:
            del fields[i]
        elif op == "add":
            fields.insert(i, draw(field_value))
        elif op == "quote" and fields:
            fields[i] = '"' + fields[i]  # an unterminated quote
    return ",".join(fields)


def _csv_property(path: Path, rows: list[str], goods: list[int]) -> None:
    header, real = real_rows(path)
    d = Decoder()
    for i, text in enumerate(rows):
        result = feed_accounted(d, RawLine("csv", i + 1, text, INGEST_MS, header))
        assert {r.reason for r in result.rejects} <= REASONS
    # Good rows interleaved with the bad ones decode exactly as they do alone.
    for n, k in enumerate(goods):
        text = real[k % len(real)]
        got = d.feed(RawLine("csv", 10_000 + n, text, INGEST_MS, header))
        alone = Decoder().feed(RawLine("csv", 10_000 + n, text, INGEST_MS, header))
        assert (got.reports, got.rejects, got.decoded_types) == (
            alone.reports,
            alone.rejects,
            alone.decoded_types,
        )
    flush_accounted(d, "csv")
    # The decode stage, given the rows as one batch, writes every message it sends.
    batch = raw_batch_to_json(
        RawLine("csv", i + 1, t, INGEST_MS, header) for i, t in enumerate(rows)
    )
    for out in DecodeStage(NAMES, 3).handle(batch):
        assert type(orjson.loads(out.value)) is dict


@FUZZ
@given(st.lists(csv_row(CADASTRE), max_size=10), st.lists(st.integers(0, 299), max_size=3))
def test_marinecadastre_rows(rows: list[str], goods: list[int]) -> None:
    assert real_rows(CADASTRE)[0] == MARINECADASTRE_HEADER
    _csv_property(CADASTRE, rows, goods)


@FUZZ
@given(st.lists(csv_row(AISDB), max_size=10), st.lists(st.integers(0, 299), max_size=3))
def test_aisdb_rows(rows: list[str], goods: list[int]) -> None:
    assert set(AISDB_COLUMNS) <= set(real_rows(AISDB)[0])
    _csv_property(AISDB, rows, goods)


@FUZZ
@given(st.lists(st.text(max_size=20), max_size=20), st.text(max_size=200))
def test_unknown_csv_header(header: list[str], text: str) -> None:
    result = feed_accounted(Decoder(), RawLine("csv", 1, text, INGEST_MS, tuple(header)))
    assert result.rejects and not result.reports
