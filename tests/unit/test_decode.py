"""mda.decode.Decoder: one behaviour per test, real sentences where the data has them."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from pyais.encode import encode_dict
from pyais.util import compute_checksum

from mda.csv_reports import MARINECADASTRE_HEADER
from mda.decode import REPORT_FIELDS, Decoder
from mda.model import RawLine, Report

INGEST_MS = 1_700_000_000_000
# gpsd AIVDM/AIVDO protocol decoding (gpsd.gitlab.io/gpsd/AIVDM.html), type 1 example.
GPSD_TYPE1 = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"
# Same document, type 5 example (two fragments).
GPSD_TYPE5 = (
    "!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
    "!AIVDM,2,2,1,A,88888888880,2*25",
)


def with_checksum(sentence: str) -> str:
    body = sentence[: sentence.index("*")]
    return f"{body}*{compute_checksum(body):02X}"


def raw(text: str, line_no: int = 1, source: str = "test", ingest_ms: int = INGEST_MS) -> RawLine:
    return RawLine(source, line_no, text, ingest_ms)


def test_report_field_order() -> None:
    # decode._build_report fills Report slots in this order; a new field must be added there.
    assert tuple(f.name for f in dataclasses.fields(Report)) == REPORT_FIELDS


def test_rawline_wire_round_trip() -> None:
    r = RawLine("f.csv", 3, "1,2", 5, ("MMSI", "LAT"))
    assert RawLine.from_dict(r.to_dict()) == r
    r2 = RawLine("f", 1, "x", 5)
    assert RawLine.from_dict(r2.to_dict()) == r2


def test_type1_gpsd_example() -> None:
    result = Decoder().feed(raw(GPSD_TYPE1))
    assert result.rejects == [] and result.decoded_types == [1]
    (r,) = result.reports
    # Expected values from the gpsd AIVDM document.
    assert r.mmsi == 477553000
    assert r.nav_status == 5
    assert r.lon == -122.345833 and r.lat == 47.582833
    assert r.sog_kn == 0.0 and r.cog_deg == 51.0 and r.heading_deg == 181
    assert (r.ais_class, r.msg_type) == ("A", 1)
    assert (r.event_ms, r.time_source, r.station) == (INGEST_MS, "ingest", None)
    assert r.dedup_key == "177KQJ5000G?tO`K>RA1wUbN0TKH,0"


def test_type5_two_fragments() -> None:
    d = Decoder()
    first = d.feed(raw(GPSD_TYPE5[0], 1))
    assert (first.reports, first.rejects, first.decoded_types) == ([], [], [])
    assert d.pending_count("test") == 1
    second = d.feed(raw(GPSD_TYPE5[1], 2))
    (r,) = second.reports
    assert (r.mmsi, r.imo, r.callsign, r.name, r.ship_type) == (
        351759000,
        9134270,
        "3FOF8",
        "EVER DIADEM",
        70,
    )
    assert r.lat is None and r.sog_kn is None and r.ais_class == "A"
    assert r.dedup_key.endswith("88888888880,2")
    assert d.pending_count("test") == 0 and d.flush("test") == []


def test_fragments_of_other_sources_do_not_mix() -> None:
    d = Decoder()
    d.feed(raw(GPSD_TYPE5[0], source="a"))
    other = d.feed(raw(GPSD_TYPE5[1], source="b"))
    assert [x.reason for x in other.rejects] == ["orphan_fragment"]
    assert [x.reason for x in d.flush("a")] == ["incomplete_multipart"]


def test_flush_releases_the_source_state() -> None:
    d = Decoder()
    # a: a pending fragment and a $PGHP time (line context); b: a plain report.
    d.feed(raw("$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B", 1, source="a"))
    d.feed(raw(rf"\c:1000000000*00\{GPSD_TYPE5[0]}", 2, source="a"))
    d.feed(raw(GPSD_TYPE1, source="b"))
    assert d.sources() == {"a", "b"}
    assert [(x.reason, x.line_no) for x in d.flush("a")] == [("incomplete_multipart", 2)]
    assert d.sources() == {"b"} and d.pending_count("a") == 0
    assert d.flush("a") == []  # a second end of input: nothing left, nothing created
    assert d.sources() == {"b"}
    # The same name fed again starts afresh: no fragment or clock carried over.
    again = d.feed(raw(GPSD_TYPE5[1], 3, source="a"))
    assert [x.reason for x in again.rejects] == ["orphan_fragment"]
    # The PGHP time went with the old state: an untimed line of the new "a" gets ingest time.
    assert d.feed(raw(GPSD_TYPE1, 4, source="a")).reports[0].time_source == "ingest"
    d.flush_all()
    assert d.sources() == frozenset()


def test_many_finished_sources_leave_no_state() -> None:
    d = Decoder()
    for i in range(2_000):
        source = f"file-{i}.nmea"
        d.feed(raw(GPSD_TYPE5[0], 1, source=source))
        d.feed(raw(GPSD_TYPE1, 2, source=source))
        assert len(d.flush(source)) == 1
    assert d.sources() == frozenset()


def test_orphan_and_replaced_first_fragment() -> None:
    d = Decoder()
    assert [x.reason for x in d.feed(raw(GPSD_TYPE5[1], 1)).rejects] == ["orphan_fragment"]
    d.feed(raw(GPSD_TYPE5[0], 2))
    replaced = d.feed(raw(GPSD_TYPE5[0], 3))
    (rej,) = replaced.rejects
    assert (rej.reason, rej.line_no) == ("incomplete_multipart", 2)
    assert len(d.feed(raw(GPSD_TYPE5[1], 4)).reports) == 1


def test_fragment_expires_by_event_time() -> None:
    d = Decoder(fragment_ttl_ms=60_000)
    d.feed(raw(rf"\c:1000000000*00\{GPSD_TYPE5[0]}", 1))
    # 60 s of event time later: still pending (the TTL is "more than 60 s")
    assert d.feed(raw(rf"\c:1000000060*00\{GPSD_TYPE1}", 2)).rejects == []
    assert d.pending_count("test") == 1
    late = d.feed(raw(rf"\c:1000000061*00\{GPSD_TYPE1}", 3))
    (rej,) = late.rejects
    assert (rej.reason, rej.line_no, rej.event_ms) == ("incomplete_multipart", 1, 1000000000000)
    assert d.pending_count("test") == 0


def test_wall_clock_never_expires_fragments() -> None:
    # Ingest times far apart but no event time moving on the fragment's clock: still pending.
    d = Decoder()
    d.feed(raw(rf"\s:X,c:1000000000*00\{GPSD_TYPE5[0]}", 1, ingest_ms=0))
    d.feed(raw(GPSD_TYPE1, 2, ingest_ms=10**12))
    assert d.pending_count("test") == 1


def test_pending_buffer_is_bounded() -> None:
    d = Decoder(max_pending_per_source=3)
    rejects = []
    for seq in range(5):
        first = with_checksum(GPSD_TYPE5[0].replace(",2,1,1,A,", f",2,1,{seq},A,"))
        rejects += d.feed(raw(first, seq + 1)).rejects
    assert [r.line_no for r in rejects] == [1, 2]
    assert all(r.reason == "incomplete_multipart" for r in rejects)
    assert d.pending_count("test") == 3
    assert len(d.flush("test")) == 3


def test_tag_block_groups_assemble() -> None:  # aisdb_tagblock_20211101.nm4 style
    d = Decoder()
    first = rf"\g:1-2-3454,s:42809,c:1635731889*00\{GPSD_TYPE5[0]}"
    second = rf"\g:2-2-3454*00\{GPSD_TYPE5[1]}"
    assert d.feed(raw(first, 1)).reports == []
    (r,) = d.feed(raw(second, 2)).reports
    # time and station come from the fragment that has them
    assert (r.event_ms, r.time_source, r.station) == (1635731889000, "tagblock", "42809")
    # a different group id with the same NMEA ids does not complete it
    d.feed(raw(first, 3))
    other = d.feed(raw(rf"\g:2-2-9999*00\{GPSD_TYPE5[1]}", 4))
    assert [x.reason for x in other.rejects] == ["orphan_fragment"]


def test_bad_checksum_empty_payload_decode_error() -> None:
    d = Decoder()
    bad = d.feed(raw(GPSD_TYPE1[:-2] + "00"))
    assert [x.reason for x in bad.rejects] == ["bad_checksum"]
    empty = d.feed(raw("!AIVDM,1,1,,B,,0*25"))  # pyais_nmea_data_sample.txt
    assert [x.reason for x in empty.rejects] == ["empty_payload"]
    # gpsd_ais-18-27.log: type 24 pyais 3.3.1 cannot decode (UnknownPartNoException)
    err = d.feed(raw("!AIVDM,1,1,,A,H3KLehdt00000000?6ekkjm000000,0*2C"))
    assert [x.reason for x in err.rejects] == ["decode_error"]
    assert "UnknownPartNoException" in err.rejects[0].detail
    assert err.rejects[0].raw == "!AIVDM,1,1,,A,H3KLehdt00000000?6ekkjm000000,0*2C"


def test_mmsi_zero_is_rejected_but_counted_as_decoded() -> None:
    (line,) = encode_dict({"type": 1, "mmsi": 0, "lat": 10, "lon": 10}, sentence_type="VDM")
    result = Decoder().feed(raw(line))
    assert result.decoded_types == [1]
    assert [x.reason for x in result.rejects] == ["bad_mmsi"]


def test_types_without_reports_are_counted() -> None:
    # libais_uscg_typeexamples.nmea line 1: a type 4 base station report
    line = (
        "!AIVDM,1,1,,A,403Ovl@000Htt<tSF0l4Q@100`Pq,0*28,d-109,S2105,t050056.00,"
        "r003669946,1325394060"
    )
    result = Decoder().feed(raw(line))
    assert (result.decoded_types, result.reports, result.rejects) == ([4], [], [])


def test_not_available_values_are_none() -> None:
    (line,) = encode_dict(
        {"type": 1, "mmsi": 316001234, "lat": 91, "lon": 181, "speed": 102.3, "course": 360,
         "heading": 511, "status": 15},
        sentence_type="VDM",
    )  # fmt: skip
    (r,) = Decoder().feed(raw(line)).reports
    assert (r.lat, r.lon, r.sog_kn, r.cog_deg, r.heading_deg, r.nav_status) == (None,) * 6


def test_time_source_precedence() -> None:
    d = Decoder()
    # tag block beats the USCG trailer and a line prefix
    tb = d.feed(raw(rf"1600000000 \c:1500000000*00\{GPSD_TYPE1},r1,1400000000")).reports[0]
    assert (tb.event_ms, tb.time_source) == (1500000000000, "tagblock")
    uscg = d.feed(raw(f"1600000000 {GPSD_TYPE1},r1,1400000000")).reports[0]
    assert (uscg.event_ms, uscg.time_source, uscg.station) == (1400000000000, "uscg", "r1")
    line = d.feed(raw(f"1600000000 {GPSD_TYPE1}")).reports[0]
    assert (line.event_ms, line.time_source) == (1600000000000, "line")


def test_pghp_dates_following_lines_of_its_source() -> None:
    d = Decoder()
    ctx = d.feed(raw("$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B", 1))
    assert (ctx.reports, ctx.rejects, ctx.decoded_types) == ([], [], [])
    (r,) = d.feed(raw(GPSD_TYPE1, 2)).reports
    assert (r.event_ms, r.time_source) == (1276256771390, "line")
    (other,) = d.feed(raw(GPSD_TYPE1, 1, source="elsewhere")).reports
    assert other.time_source == "ingest"


def test_class_b_and_type24() -> None:
    d = Decoder()
    # gpsd_ais-18-27.log line 5: type 18
    (b,) = d.feed(raw("!AIVDM,1,1,,A,B3KLehP0B@LTN6`Vl;rrBE063P06,0*5A")).reports
    assert (b.msg_type, b.ais_class) == (18, "B")
    assert b.nav_status is None
    (a,) = encode_dict({"type": 24, "mmsi": 316001234, "partno": 0, "shipname": "SEA DOG"},
                       sentence_type="VDM")  # fmt: skip
    (pa,) = d.feed(raw(a)).reports
    assert (pa.name, pa.callsign, pa.ais_class) == ("SEA DOG", None, "B")
    (p_b,) = encode_dict({"type": 24, "mmsi": 316001234, "partno": 1, "callsign": "VC1234",
                          "ship_type": 37}, sentence_type="VDM")  # fmt: skip
    (pb,) = d.feed(raw(p_b)).reports
    assert (pb.name, pb.callsign, pb.ship_type) == (None, "VC1234", 37)


def test_csv_rows_go_through_feed() -> None:
    header = MARINECADASTRE_HEADER
    # aisdb_noaa_marinecadastre_20230111.csv row 2
    row = (
        "636021061,2023-01-11T00:00:00,26.09241,-80.04806,8.8,272.7,270.0,MSC NAISHA III,"
        "IMO9307839,5LCB4,70,8.0,208.0,30.0,8.0,70.0,A"
    )
    result = Decoder().feed(RawLine("noaa.csv", 2, row, INGEST_MS, tuple(header)))
    (r,) = result.reports
    assert (r.mmsi, r.imo, r.event_ms, r.time_source) == (636021061, 9307839, 1673395200000, "line")
    bad = Decoder().feed(RawLine("noaa.csv", 3, "1,2,3", INGEST_MS, tuple(header)))
    assert [x.reason for x in bad.rejects] == ["bad_csv_row"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_feed_never_raises_and_accounts_for_every_line(text: str) -> None:
    d = Decoder()
    result = d.feed(raw(text))
    assert result.decoded_types or result.rejects or d.pending_count("test") or text.strip(
    ).startswith("$PGHP")  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([GPSD_TYPE1, *GPSD_TYPE5, "!AIVDM,2,2,7,B,00,2*2F"]), max_size=12))
def test_fragment_accounting(lines: list[str]) -> None:
    # Every fragment ends in exactly one place: a decoded message, a reject, or the flush.
    d = Decoder()
    fragments_in = decoded_fragments = rejected = 0
    for i, line in enumerate(lines):
        result = d.feed(raw(line, i))
        fragments_in += 1
        decoded_fragments += sum(2 if t == 5 else 1 for t in result.decoded_types)
        rejected += sum(r.raw.count("\n") + 1 for r in result.rejects)
    rejected += sum(r.raw.count("\n") + 1 for r in d.flush("test"))
    assert decoded_fragments + rejected == fragments_in
