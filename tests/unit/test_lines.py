"""mda.lines: real lines from ../shared/data beside the parts expected from them."""

from __future__ import annotations

from mda.errors import RejectReason
from mda.lines import MAX_LINE_CHARS, ParsedLine, SentencePart, epoch_to_ms, parse_line


def one(line: str) -> SentencePart:
    parsed = parse_line(line)
    assert parsed.problems == (), parsed
    assert len(parsed.sentences) == 1, parsed
    return parsed.sentences[0]


def reasons(parsed: ParsedLine) -> list[RejectReason]:
    return [p.reason for p in parsed.problems]


def test_plain_sentence() -> None:  # gfw_listener_gdansk_nmea.txt line 1
    line = "!AIVDM,1,1,,A,13prmQ?P001EOA4OC3h@u?vl20SR,0*7F"
    assert one(line) == SentencePart(line.encode())


def test_other_talkers() -> None:
    # dma_gatehouse_stream_example.txt line 158 (non-standard talker) and a !BSVDM line
    for line in (
        "!--VDM,1,1,,A,802R5Ph0BkAgoPNCkQn0Q@sMKgwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwt,2*57",
        "!BSVDM,1,1,,A,13:WB@0vC2PmgjpP`WO=DbdF0<0U,0*5D",
        "!AIVDO,1,1,,,11auciwP00GRV:4CBpK8N?wF2000,0*51",  # dma_socal_ais250.txt line 6
    ):
        assert one(line).nmea == line.encode()


def test_uscg_short_trailer() -> None:  # noaadata_uscg_nais_2006-07-15.ais line 2
    p = one("!AIVDM,1,1,,A,14`qQb0000o?u?DK>Smo2E`v0404,0*1A,r003669987,1152921693")
    assert p.nmea == b"!AIVDM,1,1,,A,14`qQb0000o?u?DK>Smo2E`v0404,0*1A"
    assert (p.station, p.event_ms, p.time_source) == ("r003669987", 1152921693000, "uscg")


def test_uscg_b_station() -> None:  # libais_uscg_test.aivdm
    p = one("!AIVDM,1,1,,A,15B4FT5000JRP>PE6E68Nbkl0PS5,0*70,b003669794,1272412827")
    assert (p.station, p.event_ms) == ("b003669794", 1272412827000)


def test_uscg_long_trailer() -> None:  # libais_uscg_typeexamples.nmea line 1
    p = one(
        "!AIVDM,1,1,,A,403Ovl@000Htt<tSF0l4Q@100`Pq,0*28,d-109,S2105,t050056.00,"
        "T56.13718694,r003669946,1325394060,1325394001"
    )
    assert p.nmea == b"!AIVDM,1,1,,A,403Ovl@000Htt<tSF0l4Q@100`Pq,0*28"
    # station from r, event time = first plain integer after the checksum
    assert (p.station, p.event_ms, p.time_source) == ("r003669946", 1325394060000, "uscg")


def test_uscg_x_s_fields() -> None:  # noaadata line 8: 's28320' is not a station field
    p = one(
        "!AIVDM,1,1,,B,18154?h01uJDDGH>q0<7fV7400S9,0*57,x259906,s28320,d-098,"
        "T33.71033565,r003669973,1152921694"
    )
    assert (p.station, p.event_ms) == ("r003669973", 1152921694000)


def test_gatehouse_trailing_epoch() -> None:  # dma_gatehouse_stream_example.txt line 4187
    p = one("!AIVDM,1,1,,B,15@:Ip002k3Dr;`78KwapWp@0H5b,0*0F,1276256770")
    assert (p.station, p.event_ms, p.time_source) == (None, 1276256770000, "uscg")


def test_tag_block() -> None:  # aisdb_tagblock_20211101.nm4 line 1
    p = one(r"\s:42809,c:1635731889,t:1635731965*6A\!AIVDM,1,1,,,403t>B1vFhQr5`NonbBw?>G00<0n,0*7B")
    assert p.nmea == b"!AIVDM,1,1,,,403t>B1vFhQr5`NonbBw?>G00<0n,0*7B"
    assert (p.station, p.event_ms, p.time_source) == ("42809", 1635731889000, "tagblock")


def test_tag_block_c_only_and_group() -> None:  # kystverket_ais1000lines.nm4 lines 1, 13
    assert one(r"\c:1565218798*53\!BSVDM,1,1,,A,13mb9U0P00PRk8fT5nw>4?wj2006,0*5D").event_ms == (
        1565218798000
    )
    p = one(
        r"\g:1-2-9999,c:1565218798*53\!BSVDM,2,1,3,A,"
        "53nPnh800000ha@J2218UH60U@4hT6000000000t2PD33t?P008000000000,0*72"
    )
    assert p.group_id == 9999  # its tag-block checksum is stale: accepted (see module doc)


def test_tag_block_fields_any_order_and_ms() -> None:  # libais_tagblock.nmea line 1
    p = one(
        r"\g:1-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*37\!AIVDM,2,1,6,A,"
        "53@o0E000001Q0CG37U8u<Tp4q@D00000000000018330400000000000000,0*63"
    )
    assert (p.station, p.event_ms, p.group_id) == ("rORBCOMM008", 1418169601000, 1604)
    assert epoch_to_ms("1635731889123") == 1635731889123  # > 1e11: milliseconds
    assert epoch_to_ms("1635731889") == 1635731889000
    assert epoch_to_ms("1635731889.5") == 1635731889500
    assert epoch_to_ms("abc") is None


def test_malformed_groups_are_ignored() -> None:
    # gfw_tools_spire-test.nmea line 2: "\g:2-1-1" (part 2 of 1) is not a valid group
    parsed = parse_line(
        r"\c:1662052384,s:FM112*00\!AIVDM,2,1,1,A,502CuBh0000000000000000000000000000000000000"
        r"040Ht00000000000,0*37\g:2-1-1*00\!AIVDM,2,2,1,A,00000000000,2*25"
    )
    assert parsed.problems == ()
    assert [s.group_id for s in parsed.sentences] == [None, None]
    assert parsed.sentences[0].station == "FM112"
    # gfw_tools_bad-tagblock-group.nmea: "\g:1-2--001"
    p = one(
        r"\g:1-2--001,c:1326055296*3C\!AIVDM,2,1,3,A,E7`B1:dW7oHth@@@@@@@@@@@@@@6@6R;mMQM@10888"
        "Qr8`8888888888,0*65"
    )
    assert p.group_id is None and p.event_ms == 1326055296000


def test_two_sentences_each_with_tag_block() -> None:  # gfw_tools_bad-type5 line 2
    parsed = parse_line(
        r"\s:rMT2083,t:marinetraffic,c:1698785962*4C\!AIVDM,2,1,9,A,53do3d800003TP7CK?8=9U=@4j0@"
        r"D9E==T00001521o484d@04A3i1Eh,0*68\s:rMT2083,t:marinetraffic,c:1698785961*4F\!AIVDM,2,2,"
        "9,A,88888888880,2*2D"
    )
    assert parsed.problems == ()
    assert [s.event_ms for s in parsed.sentences] == [1698785962000, 1698785961000]
    assert [s.station for s in parsed.sentences] == ["rMT2083", "rMT2083"]


def test_literal_crlf_join() -> None:  # dma_socal_ais250.txt line 27
    parsed = parse_line(
        r"!AIVDM,2,1,2,B,552H<Dl00001HDL62210ThuB08t5B1HDL622220j1083340Ht3h00000,0*4B\r\n"
        "!AIVDM,2,2,2,B,000000000000000,2*25"
    )
    assert parsed.problems == ()
    assert [s.nmea for s in parsed.sentences] == [
        b"!AIVDM,2,1,2,B,552H<Dl00001HDL62210ThuB08t5B1HDL622220j1083340Ht3h00000,0*4B",
        b"!AIVDM,2,2,2,B,000000000000000,2*25",
    ]
    # gpsd_sample_annotated.aivdm line 1080 writes "\x0d\x0a" after the checksum
    p = one(r"!AIVDM,2,2,8,B,00,4*19\x0d\x0a")
    assert p.nmea == b"!AIVDM,2,2,8,B,00,4*19"


def test_line_prefix_timestamps() -> None:
    base = "!AIVDM,1,1,,A,13prmQ?P001EOA4OC3h@u?vl20SR,0*7F"
    cases = {
        f"1152921693 {base}": 1152921693000,
        f"1152921693123;{base}": 1152921693123,
        f"2021-11-01T01:58:07Z {base}": 1635731887000,
        f"2021-11-01 01:58:07.123 {base}": 1635731887123,
        f"2021-11-01T01:58:07+01:00 ; {base}": 1635731887000 - 3_600_000,
    }
    for line, ms in cases.items():
        p = one(line)
        assert (p.nmea, p.event_ms, p.time_source) == (base.encode(), ms, "line"), line


def test_pghp_is_time_context() -> None:  # dma_gatehouse_stream_example.txt line 1
    parsed = parse_line("$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B")
    assert parsed.problems == () and parsed.sentences == ()
    assert parsed.context_ms == 1276256771390  # 2010-06-11T11:46:11.390Z


def test_signalk_eight_field_vdm() -> None:  # signalk_gofree-merrimac_nonstd_vdm.log line 1
    line = "!AIVDM,1,1,1,,13aI8e?P00PGpU:NR6s00?vT2000,0,0*1C"
    assert one(line).nmea == line.encode()


def test_rejected_lines() -> None:
    assert reasons(parse_line("")) == [RejectReason.EMPTY_LINE]
    assert reasons(parse_line("   \r")) == [RejectReason.EMPTY_LINE]
    assert reasons(parse_line("# 2006-07-15")) == [RejectReason.NOT_NMEA]  # noaadata line 1
    assert reasons(parse_line("# From: Владимир Калачихин")) == [RejectReason.NOT_NMEA]
    assert reasons(parse_line("foobar")) == [RejectReason.NOT_NMEA]  # pyais_mixed.txt
    # gpsd_sample_annotated.aivdm: the line without its leading '!'
    assert reasons(parse_line("AIVDM,2,2,1,B,00000000000,2*26")) == [RejectReason.NOT_NMEA]
    # gpsd_ais-nmea_mixed_gps.log
    gprmc = "$GPRMC,213950.00,A,5250.53669,N,00542.34920,E,0.020,,070420,,,A*7D"
    assert reasons(parse_line(gprmc)) == [RejectReason.UNSUPPORTED_SENTENCE]
    assert reasons(parse_line("!AI\ufffd\ufffdVDM,1,1")) == [RejectReason.BAD_ENCODING]
    assert reasons(parse_line("!" * (MAX_LINE_CHARS + 1))) == [RejectReason.LINE_TOO_LONG]
    # a garbled instrument line with several '$' is one reject (signalk gofree $SDVLW)
    garbled = "$SDVLW,$SDVLW,,N,322.0,N,$SDVLW,$SDVLW,,N,322.0,N,2328.9,N*59"
    assert reasons(parse_line(garbled)) == [RejectReason.UNSUPPORTED_SENTENCE]


def test_tag_block_without_checksum_is_rejected() -> None:
    parsed = parse_line(r"\s:abc\!AIVDM,1,1,,A,13prmQ?P001EOA4OC3h@u?vl20SR,0*7F")
    assert reasons(parsed) == [RejectReason.BAD_TAG_BLOCK]
    parsed = parse_line(r"\c:notatime*00\!AIVDM,1,1,,A,13prmQ?P001EOA4OC3h@u?vl20SR,0*7F")
    assert reasons(parsed) == [RejectReason.BAD_TAG_BLOCK]


def test_junk_after_checksum() -> None:
    parsed = parse_line("!AIVDM,1,1,,A,13prmQ?P001EOA4OC3h@u?vl20SR,0*7Fjunk")
    assert reasons(parsed) == [RejectReason.MALFORMED_SENTENCE]


def test_one_dollar_sentence_fast_path_matches_the_segment_scan() -> None:
    """A line that is one ``$`` sentence skips the segment regex; it must give exactly what
    the scan gives, on every such line of the real recordings and on generated ones."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mda.lines import _parse_segments
    from tests.conftest import SHARED_DATA

    def check(text: str) -> None:
        s = text.strip()
        if s[:1] == "$" and s.isascii() and len(text) <= MAX_LINE_CHARS:
            assert parse_line(text) == _parse_segments(s, None), text

    seen = 0
    for path in sorted(SHARED_DATA.glob("ais_nmea/*")):
        for line in path.read_text(encoding="ascii", errors="replace").splitlines():
            if line.strip()[:1] == "$":
                check(line)
                seen += 1
    assert seen > 1000

    body = st.text(alphabet="$!,*PGHPSDGAIVDMO0123456789ABCDEFrb \t.-", max_size=80)

    @settings(max_examples=400, deadline=None)
    @given(st.sampled_from(["$PGHP,1,2010,6,11,11,46,15,657,219,,2190065,1,06*21", "$SDHDG"]), body)
    def prop(head: str, tail: str) -> None:
        check(head + tail)
        check("$" + tail)

    prop()
