"""Golden files: every real recording in ../shared/data goes through replay + Decoder.

Expected numbers are independent of the code under test: each comes from
/work/shared/data/SOURCES.md (a separate pyais 3.3.1 pass) or from a grep/wc command written
next to it. Where our decoder intentionally differs from SOURCES.md the reason is stated.
The data directory is required: if it is missing these tests fail, they do not skip.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mda.decode import Decoder
from mda.model import POSITION_TYPES, STATIC_TYPES
from replay.files import iter_raw_lines

DATA = Path(
    os.environ.get("MDA_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
NMEA = DATA / "ais_nmea"
CSV = DATA / "ais_csv"
REPORT_TYPES = POSITION_TYPES | STATIC_TYPES


@dataclass
class Counts:
    lines: int = 0
    types: Counter[int] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    reports: int = 0
    time_sources: Counter[str] = field(default_factory=Counter)
    max_pending: int = 0

    @property
    def decoded(self) -> int:
        return sum(self.types.values())

    def report_type_msgs(self) -> int:
        return sum(n for t, n in self.types.items() if t in REPORT_TYPES)


def run(path: Path) -> Counts:
    decoder = Decoder()
    c = Counts()
    for raw in iter_raw_lines(path, ingest_ms=1_700_000_000_000):
        c.lines += 1
        result = decoder.feed(raw)
        c.types.update(result.decoded_types)
        c.rejects.update(r.reason for r in result.rejects)
        c.reports += len(result.reports)
        c.time_sources.update(r.time_source for r in result.reports)
        c.max_pending = max(c.max_pending, decoder.pending_count(path.name))
        # Accounting: a line is decoded, rejected, pending, or a $PGHP time context.
        if not (result.decoded_types or result.rejects):
            assert decoder.pending_count(path.name) > 0 or raw.text.startswith("$PGHP"), raw
    c.rejects.update(r.reason for r in decoder.flush(path.name))
    return c


def test_data_directory_exists() -> None:
    assert NMEA.is_dir(), f"shared data missing at {NMEA} (set MDA_SHARED_DATA)"
    assert len(list(NMEA.iterdir())) >= 29


@pytest.mark.parametrize("path", sorted(NMEA.iterdir()) + sorted(CSV.iterdir()), ids=str)
def test_every_file_decodes_without_crashing(path: Path) -> None:
    c = run(path)
    # `wc -l` undercounts files without a final newline by one; the reader counts lines.
    assert c.lines > 0
    assert c.decoded + sum(c.rejects.values()) > 0


def test_noaadata_uscg_nais() -> None:
    c = run(NMEA / "noaadata_uscg_nais_2006-07-15.ais")
    assert c.lines == 1001  # SOURCES.md: lines 1001
    # SOURCES.md: types 1:569, 3:104, 4:21, 5:131, 8:1, 15:11, 20:16
    assert c.types == Counter({1: 569, 3: 104, 4: 21, 5: 131, 8: 1, 15: 11, 20: 16})
    # SOURCES.md: 985 VDM sentences, 264 fragments make 132 two-part messages → 853
    assert c.decoded == 985 - 132
    # SOURCES.md: the comment "# 2006-07-15"; 15 other sentences ($PAIS, $AIABK, ...)
    assert c.rejects == Counter({"not_nmea": 1, "unsupported_sentence": 15})
    # SOURCES.md: every VDM sentence carries a USCG trailing epoch.
    assert set(c.time_sources) == {"uscg"}
    assert c.reports == c.report_type_msgs()  # no MMSI 0 in this file


def test_gfw_listener_gdansk() -> None:
    c = run(NMEA / "gfw_listener_gdansk_nmea.txt")
    assert c.lines == 5414  # SOURCES.md: 5414 !AIVDM lines
    # SOURCES.md: types 1:2240, 3:905, 4:243, 5:786, 18:236, 20:143, 21:18, 24:54, 8:2, 27:1
    assert c.types == Counter(
        {1: 2240, 3: 905, 4: 243, 5: 786, 18: 236, 20: 143, 21: 18, 24: 54, 8: 2, 27: 1}
    )
    assert c.decoded == 5414 - 786  # SOURCES.md: 786 two-part messages
    # Every message of a report type is a report, except MMSI 0 ones (BAD_MMSI).
    assert set(c.rejects) <= {"bad_mmsi"}
    assert c.reports + c.rejects["bad_mmsi"] == c.report_type_msgs()
    assert set(c.time_sources) == {"ingest"}  # SOURCES.md: no timestamps


def test_dma_gatehouse_stream() -> None:
    c = run(NMEA / "dma_gatehouse_stream_example.txt")
    assert c.lines == 8551  # SOURCES.md
    # SOURCES.md types; it counts 4482 VDM sentences and leaves out the 18 `!--VDM` lines,
    # which we accept (non-standard talker): all 18 are single-part type 8
    # (grep -c '^!--VDM,1,1,,[AB],8' → 18), so type 8 is 45 + 18.
    assert c.types == Counter(
        {
            1: 2511,
            2: 7,
            3: 369,
            4: 129,
            5: 424,
            6: 37,
            7: 9,
            8: 45 + 18,
            9: 1,
            15: 66,
            16: 23,
            17: 5,
            18: 101,
            20: 191,
            21: 37,
            23: 4,
            24: 74,
        }
    )
    assert c.decoded == 4482 - 449 + 18  # SOURCES.md: 449 two-part messages
    # 4051 $PGHP lines (SOURCES.md) are time context, not rejects.
    assert set(c.rejects) <= {"bad_mmsi"}
    assert c.reports + c.rejects["bad_mmsi"] == c.report_type_msgs()
    # SOURCES.md: "2 lines carry a trailing epoch" (both type 1/3, grep ',0\*..,[0-9]*$');
    # every other line is dated by the $PGHP line before it.
    assert c.time_sources["uscg"] == 2
    assert c.time_sources["line"] == c.reports - 2


def test_aisdb_tagblock() -> None:
    c = run(NMEA / "aisdb_tagblock_20211101.nm4")
    assert c.lines == 1000  # SOURCES.md
    # SOURCES.md: types 1:608, 3:104, 4:5, 5:18, 6:1, 8:1, 18:74, 19:4, 21:11, 24:24, 25:2, 27:127
    assert c.types == Counter(
        {1: 608, 3: 104, 4: 5, 5: 18, 6: 1, 8: 1, 18: 74, 19: 4, 21: 11, 24: 24, 25: 2, 27: 127}
    )
    assert c.decoded == 997 - 18  # SOURCES.md: 997 sentences, 18 multipart messages
    assert c.rejects["empty_line"] == 3  # SOURCES.md: 3 blank lines
    assert set(c.rejects) <= {"empty_line", "bad_mmsi"}
    assert c.reports + c.rejects["bad_mmsi"] == c.report_type_msgs()
    assert set(c.time_sources) == {"tagblock"}  # SOURCES.md: tag blocks on every sentence


def test_kystverket() -> None:
    c = run(NMEA / "kystverket_ais1000lines.nm4")
    assert c.lines == 1000  # SOURCES.md (wc -l 999 + a last line without newline)
    assert c.decoded == 1000 - 123  # SOURCES.md: 123 two-part messages
    # grep -c 'VDM,2,1,[0-9]*,[AB],5' → 123: every two-part message is a type 5.
    assert c.types[5] == 123
    # 246 of its tag blocks have a stale checksum (the g: blocks reuse the c: block's *53):
    # we do not enforce tag-block checksums (see mda/lines.py), so nothing is rejected.
    assert sum(c.rejects.values()) == 0
    assert set(c.time_sources) == {"tagblock"}  # SOURCES.md: every line has c:


def test_dma_socal_recovers_joined_type5() -> None:
    c = run(NMEA / "dma_socal_ais250.txt")
    assert c.lines == 243  # SOURCES.md
    # SOURCES.md: types 1:162, 3:13, 4:19, 8:1, 18:23, 21:3, 24:14. Its pyais pass dropped the
    # 8 lines holding both fragments of a type 5 joined by the literal text `\r\n`
    # (grep -c 'VDM,2,1' → 8, all on those lines); we split them, so 5:8 is added.
    assert c.types == Counter({1: 162, 3: 13, 4: 19, 5: 8, 8: 1, 18: 23, 21: 3, 24: 14})
    assert sum(c.rejects.values()) == 0


def test_pyais_nmea_data_sample() -> None:
    c = run(NMEA / "pyais_nmea_data_sample.txt")
    assert c.lines == 898  # SOURCES.md
    assert c.rejects["empty_payload"] == 100  # SOURCES.md: 100 lines have an empty payload
    # SOURCES.md: 20 two-part first fragments never get a second (grep -c 'AIVDM,2,2' → 0).
    assert c.rejects["incomplete_multipart"] == 20
    assert c.decoded == 898 - 100 - 20


def test_gpsd_ais_18_27() -> None:
    c = run(NMEA / "gpsd_ais-18-27.log")
    assert c.lines == 280  # SOURCES.md
    # SOURCES.md: 69 type-24 sentences pyais 3.3.1 rejects with UnknownPartNoException.
    assert c.rejects["decode_error"] == 69
    assert c.rejects["not_nmea"] == 4  # grep -c '^#' → 4 header comments
    # grep -c '^!AIVDM,1,1,,[AB],H' → 138 type-24 sentences, 69 of them decodable;
    # grep -c '^!AIVDM,1,1,,[AB],B' → 69 (type 18), grep -c '^!AIVDM,1,1,,[AB],K' → 69 (27).
    assert c.types == Counter({18: 69, 24: 138 - 69, 27: 69})


def test_gpsd_mixed_gps() -> None:
    c = run(NMEA / "gpsd_ais-nmea_mixed_gps.log")
    assert c.lines == 1500  # SOURCES.md
    assert c.rejects["unsupported_sentence"] == 1313  # SOURCES.md: 1313 GPS sentences
    assert c.rejects["not_nmea"] == 4  # grep -c '^#' → 4
    # SOURCES.md: 183 VDM sentences; grep -c 'AIVDM,2,2' → 12 two-part messages.
    assert c.decoded == 183 - 12


def test_signalk_gofree_nonstandard_vdm() -> None:
    c = run(NMEA / "signalk_gofree-merrimac_nonstd_vdm.log")
    assert c.lines == 6324  # SOURCES.md: 1507 VDM + 4817 instrument sentences
    # SOURCES.md: types 1:1198, 3:114, 5:48, 18:10, 21:77, 24:12
    assert c.types == Counter({1: 1198, 3: 114, 5: 48, 18: 10, 21: 77, 24: 12})
    # One reject per instrument line, also for the garbled multi-'$' $SDVLW lines.
    assert c.rejects == Counter({"unsupported_sentence": 4817})


def test_signalk_nais400() -> None:
    c = run(NMEA / "signalk_nais400-merrimac.log")
    assert c.lines == 765  # SOURCES.md
    # SOURCES.md: 703 VDM sentences (grep -c '^!' → 703); grep -c '^\$' → 62 GPS sentences;
    # grep -c 'VDM,2,1' → 35 two-part messages.
    assert c.rejects == Counter({"unsupported_sentence": 62})
    assert c.decoded == 703 - 35


def test_libais_typeexamples_uscg_long_trailer() -> None:
    c = run(NMEA / "libais_uscg_typeexamples.nmea")
    assert c.lines == 26  # SOURCES.md
    # SOURCES.md: one example each of types 1–27, no type 19.
    assert c.types == Counter({t: 1 for t in range(1, 28) if t != 19})
    assert set(c.time_sources) == {"uscg"}
    assert sum(c.rejects.values()) == 0


def test_libais_uscg_test() -> None:
    c = run(NMEA / "libais_uscg_test.aivdm")
    assert c.lines == 345  # SOURCES.md
    # SOURCES.md: 47 '#' comment lines and 35 blank lines.
    assert c.rejects == Counter({"not_nmea": 47, "empty_line": 35})
    # SOURCES.md: 263 VDM sentences; grep -c 'VDM,2,2' → 2 two-part messages.
    assert c.decoded == 263 - 2
    assert set(c.time_sources) == {"uscg"}


def test_gpsd_sample_annotated() -> None:
    c = run(NMEA / "gpsd_sample_annotated.aivdm")
    # SOURCES.md: 1001 '#' annotation lines and one line without its leading '!'.
    assert c.rejects["not_nmea"] == 1001 + 1
    assert c.rejects["incomplete_multipart"] == 0
    assert c.rejects["orphan_fragment"] == 0


def test_gfw_edge_cases() -> None:
    # Both fragments on one line, each with its own tag block (3 lines), then a blank line
    # and the 3 bare payloads (grep -vc '^\\' minus the blank one → 3).
    c = run(NMEA / "gfw_tools_bad-type5_multi_per_line.nmea")
    assert c.rejects["not_nmea"] == 3
    assert c.rejects["empty_line"] == 1
    # Line 1 has fragment 1 from talker AB and fragment 2 from talker AI: the buffer keys by
    # talker like pyais's stream.py, so that message is lost (orphan + incomplete).
    assert c.types == Counter({5: 2})
    assert c.rejects["orphan_fragment"] == 1
    assert c.rejects["incomplete_multipart"] == 1

    c = run(NMEA / "gfw_tools_errors_mt.nmea")
    assert c.rejects == Counter({"bad_checksum": 2})  # SOURCES.md: 2 bad checksums

    c = run(NMEA / "gfw_tools_ee-multiline.nmea")
    # 10 lines, 2 `\g:` groups of two (grep -c 'g:1-2' → 2): 8 messages. Its c: times are
    # out of order by up to 2 min; the groups must still assemble.
    assert c.decoded == 8
    assert sum(c.rejects.values()) == 0

    c = run(NMEA / "gfw_tools_spire-test.nmea")
    # Two lines, each holding both fragments of a type 5 (SOURCES.md); the second line's
    # malformed `\g:2-1-1` group is ignored and the NMEA fields still pair the fragments.
    assert c.types == Counter({5: 2})

    c = run(NMEA / "gfw_tools_bad-tagblock-group.nmea")
    assert c.decoded == 1  # one two-part message with a garbled group id `1-2--001`

    c = run(NMEA / "gfw_tools_multi-part.nmea")
    assert c.decoded == 43  # SOURCES.md: 43 multipart messages
    assert sum(c.rejects.values()) == 0


def test_pyais_timestamped_pghp() -> None:
    c = run(NMEA / "pyais_timestamped_pghp.ais")
    assert c.lines == 11  # SOURCES.md
    # SOURCES.md: it has $PGHP lines and an empty-payload line; the PGHP lines date the
    # VDM lines after them (time_source "line").
    assert set(c.time_sources) == {"line"}


def test_marinecadastre_csv() -> None:
    c = run(CSV / "aisdb_noaa_marinecadastre_20230111.csv")
    assert c.lines == 1000  # SOURCES.md: 1000 rows (the header line is consumed)
    assert c.types == Counter({1: 954, 18: 46})  # SOURCES.md: Class A 954, Class B 46
    assert c.reports == 1000
    assert set(c.time_sources) == {"line"}


def test_aisdb_decoded_csv() -> None:
    c = run(CSV / "aisdb_decoded_20210701.csv")
    # SOURCES.md: message ids 1:1062, 27:978, 3:206, 18:85, 19:41, 24:33, 5:31, …
    assert c.types[27] == 978
    assert c.types[3] == 206
    assert c.types[19] == 41
    assert c.types[24] == 33
    assert c.types[5] == 31
    assert c.types[1] == 1062
    # The one type-18 row with MMSI 0 is rejected (line 678: "0","18",...), so it is not
    # counted as decoded: type 18 is SOURCES.md's 85 minus that row.
    assert c.rejects == Counter({"bad_mmsi": 1})
    assert c.types[18] == 85 - 1
