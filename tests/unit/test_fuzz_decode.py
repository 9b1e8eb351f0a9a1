"""Fuzz properties of the decode path: ``Decoder.feed`` on hostile lines (issue 7).

Invariants, for every input:

- ``Decoder.feed`` never raises;
- every line is accounted for: it gives a decoded message, a reject with a
  :class:`~mda.errors.RejectReason`, a fragment held for assembly, or a ``$PGHP`` time context;
  at the end of input every held fragment comes back as an ``incomplete_multipart`` reject;
- the good lines around a bad one still decode, to exactly the reports they give alone;
- the fragment buffer stays bounded under a flood of first fragments, and fragments expire
  by event time.

Inputs: arbitrary text and bytes, and mutations of the real recordings in
``../shared/data/ais_nmea`` (the malformed ones named in the issue are sampled more often).
The budget is ``tests/hypothesis_profiles.py``'s (``make fuzz`` for the long run).
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache, reduce
from pathlib import Path

import orjson
from hypothesis import example, given
from hypothesis import strategies as st
from pyais.util import compute_checksum

from mda.decode import Decoder, DecodeResult
from mda.errors import RejectReason
from mda.lines import LIVE_AHEAD_OF_RECEIPT_MS, implausible_event_time, parse_line
from mda.model import RawLine, Report, raw_batch_to_json
from replay.files import iter_raw_lines
from streams.pipeline import DecodeStage
from streams.settings import Settings
from streams.topics import TopicNames
from tests.conftest import SHARED_DATA
from tests.hypothesis_profiles import FUZZ

NAMES = TopicNames.from_settings(Settings())

NMEA = SHARED_DATA / "ais_nmea"
INGEST_MS = 1_700_000_000_000
REASONS = frozenset(r.value for r in RejectReason)
#: The malformed recordings the issue names: bad checksums, bad bit counts, two sentences on a
#: line, broken tag-block groups, empty payloads, non-standard talkers.
MALFORMED = (
    "gfw_tools_bad-tagblock-group.nmea",
    "gfw_tools_bad-type5_multi_per_line.nmea",
    "gfw_tools_ee-multiline.nmea",
    "gfw_tools_errors_mt.nmea",
    "gfw_tools_mixed_types.nmea",
    "gfw_tools_multi-part.nmea",
    "gfw_tools_spire-test.nmea",
    "gfw_tools_type1-bad-bitcount.nmea",
    "signalk_gofree-merrimac_nonstd_vdm.log",
    "dma_replay_dump_pghp_bsvdm.txt",
    "dma_socal_ais250.txt",
    "gpsd_ais-nmea_mixed_gps.log",
    "pyais_mixed.txt",
)
_INCOMPLETE_RE = re.compile(r"^(\d+) of \d+ fragments")


def _lines(path: Path) -> list[str]:
    return [r.text for r in iter_raw_lines(path, ingest_ms=INGEST_MS)]


@cache
def all_lines() -> tuple[str, ...]:
    return tuple(t for p in sorted(NMEA.iterdir()) for t in _lines(p))


@cache
def malformed_lines() -> tuple[str, ...]:
    return tuple(t for name in MALFORMED for t in _lines(NMEA / name))


@cache
def good_lines() -> tuple[str, ...]:
    """Real lines that decode alone to at least one report, with no reject."""
    out = []
    for text in all_lines():
        result = Decoder().feed(RawLine("good", 1, text, INGEST_MS))
        if result.reports and not result.rejects:
            out.append(text)
    return tuple(out)


def feed_accounted(decoder: Decoder, raw: RawLine, live: bool = False) -> DecodeResult:
    """Feed one line and check that it is accounted for (module docstring); only a live
    line is ever dated by its receipt instead of its own time."""
    before = decoder.pending_count(raw.source)
    result = decoder.feed(raw, live=live)
    after = decoder.pending_count(raw.source)
    for r in result.rejects:
        assert r.reason in REASONS, r
        assert r.source == raw.source
    for t in result.retimed:
        assert live and t.line_no == raw.line_no and t.received_ms == raw.ingest_ms > 0
        assert implausible_event_time(t.event_ms, t.received_ms, LIVE_AHEAD_OF_RECEIPT_MS)
    if not (result.decoded_types or result.rejects):
        # Held as a fragment, or a $PGHP line dating the lines after it.
        assert after > before or parse_line(raw.text).context_ms is not None, raw
    return result


def flush_accounted(decoder: Decoder, source: str) -> None:
    """End of input: every held fragment comes back as an incomplete_multipart reject."""
    held = decoder.pending_count(source)
    rejects = decoder.flush(source)
    assert {r.reason for r in rejects} <= {RejectReason.INCOMPLETE_MULTIPART.value}
    returned = 0
    for r in rejects:
        m = _INCOMPLETE_RE.match(r.detail)
        assert m, r.detail
        returned += int(m.group(1))
    assert returned == held
    assert decoder.pending_count(source) == 0


def undated(r: Report) -> Report:
    return dataclasses.replace(r, event_ms=0, time_source="ingest")


def with_checksum(body: str) -> str:
    return f"{body}*{compute_checksum(body):02X}"


# -- mutations of real lines ---------------------------------------------------------------

MUTATIONS = (
    "flip",
    "truncate",
    "duplicate",
    "tag_block",
    "break_checksum",
    "join",
    "megabyte",
    "non_utf8",
    "nul",
    "insert",
    "delete",
)


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    """A real line (malformed seeds often) with 1–3 mutations applied."""
    pool = draw(st.sampled_from(["malformed", "all"]))
    text = draw(st.sampled_from(malformed_lines() if pool == "malformed" else all_lines()))
    for op in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        n = len(text)
        i = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            text = text[:i] + draw(st.characters(codec="ascii")) + text[i + 1 :]
        elif op == "truncate":
            text = text[:i]
        elif op == "duplicate":
            text = text + text
        elif op == "tag_block":
            # Any number of digits (22 made an int over 64 bits), with the tag block's own
            # checksum right half the time, so that the time is read.
            digits = st.integers(1, 25).flatmap(
                lambda n: st.text("0123456789", min_size=n, max_size=n)
            )
            # ... or near the lines' receipt: behind it, within a minute, hours or days ahead.
            near = st.integers(INGEST_MS // 1000 - 3_600, INGEST_MS // 1000 + 2 * 86_400)
            c = draw(st.one_of(digits, st.text(max_size=12), near.map(str)))
            g = draw(st.sampled_from(["", ",g:1-2-77", ",g:2-2-77", ",g:x-y-z", ",g:3-2-1"]))
            body = f"s:FZ,c:{c}{g}"
            right = reduce(lambda a, ch: a ^ ord(ch), body, 0)
            checksum = right if draw(st.booleans()) else draw(st.integers(0, 255))
            text = f"\\{body}*{checksum:02X}\\{text}"
        elif op == "break_checksum":
            star = text.rfind("*")
            if star >= 0:
                text = text[: star + 1] + draw(st.sampled_from(["00", "ZZ", "", "1", "GG0"]))
        elif op == "join":
            other = draw(st.sampled_from(all_lines()))
            sep = draw(st.sampled_from(["", " ", "\\r\\n", "\\x0d\\x0a", ";", "\r"]))
            text = text + sep + other
        elif op == "megabyte":
            text = (text or "!") * (1_048_576 // max(n, 1) + 1)
        elif op == "non_utf8":
            junk = draw(st.binary(min_size=1, max_size=8))
            as_bytes = text.encode("utf-8", "surrogatepass")
            mixed = as_bytes[:i] + junk + as_bytes[i:]
            # As the file reader decodes it, or as a latin-1 reader would.
            codec = draw(st.sampled_from(["utf-8", "latin-1"]))
            text = mixed.decode(codec, errors="replace")
        elif op == "nul":
            text = text[:i] + "\x00" * draw(st.integers(1, 4)) + text[i:]
        elif op == "insert":
            text = text[:i] + draw(st.text(max_size=10)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 5)) :]
    return text


# -- properties ------------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.text(max_size=200), max_size=20))
@example(["", " ", "\x00", "\\", "!", "$", "*", "!AIVDM,", "\\c:*00\\!AIVDM,1,1,,A,1,0*00"])
def test_arbitrary_text_lines(lines: list[str]) -> None:
    d = Decoder()
    for i, text in enumerate(lines):
        feed_accounted(d, RawLine("fuzz", i + 1, text, INGEST_MS))
    flush_accounted(d, "fuzz")


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_arbitrary_bytes_lines(chunks: list[bytes]) -> None:
    d = Decoder()
    for i, chunk in enumerate(chunks):
        text = chunk.decode("utf-8", errors="replace")
        feed_accounted(d, RawLine("fuzz", i + 1, text, INGEST_MS))
    flush_accounted(d, "fuzz")


@FUZZ
@given(st.lists(mutated_line(), min_size=1, max_size=15), st.booleans())
def test_mutated_real_lines(lines: list[str], live: bool) -> None:
    """Every line accounted for by the decoder, replayed or live; the decode stage, given them
    as one batch, writes every message it sends (an int over 64 bits in a report once made it
    raise)."""
    d = Decoder()
    raws = [RawLine("fuzz", i + 1, text, INGEST_MS) for i, text in enumerate(lines)]
    for raw in raws:
        feed_accounted(d, raw, live)
    flush_accounted(d, "fuzz")
    for out in DecodeStage(NAMES, 3).handle(raw_batch_to_json(raws, live=live)):
        assert type(orjson.loads(out.value)) is dict


@FUZZ
@given(st.data())
def test_good_lines_around_bad_ones_decode_as_alone(data: st.DataObject) -> None:
    goods = data.draw(st.lists(st.sampled_from(good_lines()), min_size=1, max_size=8))
    d = Decoder()
    line_no = 0
    for text in goods:
        for bad in data.draw(st.lists(mutated_line(), max_size=3)):
            line_no += 1
            feed_accounted(d, RawLine("feed", line_no, bad, INGEST_MS))
        line_no += 1
        got = feed_accounted(d, RawLine("feed", line_no, text, INGEST_MS))
        alone = Decoder().feed(RawLine("feed", line_no, text, INGEST_MS))
        if alone.reports[0].time_source == "ingest":
            # An undated line takes its time from a preceding $PGHP line (by design), and a
            # bad line may be one: everything but the time must match.
            got.reports = [undated(r) for r in got.reports]
            alone.reports = [undated(r) for r in alone.reports]
        assert got.reports == alone.reports, text
        assert got.decoded_types == alone.decoded_types
    flush_accounted(d, "feed")


FIRST = "!AIVDM,2,1,{seq},{ch},55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0"


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, 9),  # sequence id (0 = empty)
            st.sampled_from("AB12"),
            st.one_of(st.none(), st.integers(0, 10**6)),  # tag-block g: group id
            st.integers(0, 5),  # seconds of event time since the previous line
        ),
        min_size=1,
        max_size=400,
    ),
    st.integers(1, 50),
)
def test_flood_of_first_fragments_stays_bounded(
    floods: list[tuple[int, str, int | None, int]], max_pending: int
) -> None:
    d = Decoder(max_pending_per_source=max_pending)
    t_s = 1_000_000_000
    for i, (seq, ch, group, dt_s) in enumerate(floods):
        t_s += dt_s
        sentence = with_checksum(FIRST.format(seq=seq or "", ch=ch))
        g = "" if group is None else f",g:1-2-{group}"
        raw = RawLine("flood", i + 1, f"\\s:S1,c:{t_s}{g}*00\\{sentence}", INGEST_MS)
        feed_accounted(d, raw)
        # One fragment per entry here (all first fragments): entries ≤ the bound.
        assert d.pending_count("flood") <= max_pending
    flush_accounted(d, "flood")


@FUZZ
@given(st.lists(st.integers(0, 90), min_size=1, max_size=30), st.integers(1, 120))
def test_fragments_expire_by_event_time(steps_s: list[int], ttl_s: int) -> None:
    d = Decoder(fragment_ttl_ms=ttl_s * 1000)
    t0 = 1_000_000_000
    first = with_checksum(FIRST.format(seq=3, ch="A"))
    feed_accounted(d, RawLine("exp", 1, f"\\s:S1,c:{t0}*00\\{first}", INGEST_MS))
    single = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"
    t = t0
    expired_at = None
    for i, dt in enumerate(steps_s):
        t += dt
        result = feed_accounted(d, RawLine("exp", i + 2, f"\\s:S1,c:{t}*00\\{single}", INGEST_MS))
        if any(r.reason == "incomplete_multipart" for r in result.rejects):
            expired_at = t
        held = d.pending_count("exp")
        # Pending while the fragment's clock is within the TTL, expired once it is beyond.
        assert held == (0 if t - t0 > ttl_s else 1)
    if expired_at is not None:
        assert expired_at - t0 > ttl_s
    flush_accounted(d, "exp")


def test_malformed_seed_files_fully_accounted() -> None:
    """Every line of the malformed recordings, in order, through one decoder."""
    for name in MALFORMED:
        d = Decoder()
        for raw in iter_raw_lines(NMEA / name, ingest_ms=INGEST_MS):
            feed_accounted(d, raw)
        flush_accounted(d, name)
