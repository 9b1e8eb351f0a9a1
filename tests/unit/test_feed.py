"""Several recorded files replayed together are one feed, merged in event-time order
(``replay.producer.feed_lines``); a CSV row's time paces a replay like a tag block's."""

from __future__ import annotations

import gzip
import os
import resource
from pathlib import Path
from typing import Any

import orjson
import pytest
from pyais.encode import encode_dict

from mda.errors import DecodeError
from mda.model import RawLine, raw_batch_to_json, raw_lines_from_wire
from replay.files import TruncatedInputError
from replay.producer import (
    Pacer,
    _paced,
    eof_record,
    event_ms_of,
    feed_key,
    feed_lines,
    replay_files,
    send_end,
)
from replay.scenarios import T0, tagged
from streams.pipeline import DecodeStage, Out, report_items
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import RecordingProducer

POS = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"
MC_HEADER = (
    "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
    "Length,Width,Draft,Cargo,TransceiverClass"
)


def at(s: int, station: str = "S") -> str:
    """A line heard at T0 + ``s`` seconds."""
    return tagged([POS], T0 + s * 1000, station)[0]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def merged(files: list[Path], ingest_ms: int = T0 + 86_400_000) -> list[tuple[str, int]]:
    broken: list[TruncatedInputError] = []
    out = [
        (ln.source, ln.line_no)
        for ln in feed_lines([(p, p.name) for p in files], ingest_ms, broken)
    ]
    assert broken == []
    return out


def test_files_are_merged_in_event_time_order_each_in_its_own_order(tmp_path: Path) -> None:
    a = write(tmp_path / "a", [at(0), at(10), at(20), at(30)])
    b = write(tmp_path / "b", [at(5), at(15), at(40)])
    assert merged([a, b]) == [
        ("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3), ("a", 4), ("b", 3)
    ]  # fmt: skip
    # Ties go by file name, whatever the order the files are given in.
    c = write(tmp_path / "c", [at(10), at(20)])
    assert merged([a, c]) == [("a", 1), ("a", 2), ("c", 1), ("a", 3), ("c", 2), ("a", 4)]
    assert merged([c, a]) == merged([a, c])
    # The same name in two folders: by path.
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    x = write(tmp_path / "x" / "r.nmea", [at(10)])
    y = write(tmp_path / "y" / "r.nmea", [at(10)])
    assert [ln.source for ln in feed_lines([(y, "y"), (x, "x")], T0 + 86_400_000, [])] == ["x", "y"]


def test_a_line_without_a_time_stays_behind_its_files_last_time(tmp_path: Path) -> None:
    # A header comment goes with the file's first time; a bare sentence stays at 10 s.
    a = write(tmp_path / "a", ["# recorded by S", at(10), POS, at(30)])
    b = write(tmp_path / "b", [at(0), at(12), at(20)])
    assert merged([a, b]) == [
        ("b", 1), ("a", 1), ("a", 2), ("a", 3), ("b", 2), ("b", 3), ("a", 4)
    ]  # fmt: skip
    # A file with no time at all goes first, whole.
    bare = write(tmp_path / "bare", [POS, POS])
    assert merged([b, bare]) == [("bare", 1), ("bare", 2), ("b", 1), ("b", 2), ("b", 3)]
    # A time a file gives is kept for its lines without one: a tie with another file's line
    # at that time goes by file name.
    c = write(tmp_path / "c", [at(10)])
    assert merged([c, a]) == [("a", 1), ("a", 2), ("a", 3), ("c", 1), ("a", 4)]
    assert merged([a, c]) == [("a", 1), ("a", 2), ("a", 3), ("c", 1), ("a", 4)]


def test_thousands_of_files_are_not_open_at_once(tmp_path: Path) -> None:
    """A day of minute files (1,440), with room for 256 more open files: the feed opens a file
    when it reaches the file's first time and closes it at its end (before, every file was
    open from the start: OSError, too many open files)."""
    files = [
        write(tmp_path / f"m{m:04d}.nmea", ["# minute file", at(60 * m), at(60 * m + 30)])
        for m in range(1440)
    ]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # 256 more than this process has open now (pytest's own, and what earlier tests left).
    limit = len(os.listdir("/proc/self/fd")) + 256
    assert limit < 1440
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        got = merged(list(reversed(files)))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert got == [(f"m{m:04d}.nmea", no) for m in range(1440) for no in (1, 2, 3)]


def test_a_file_out_of_order_is_never_reordered(tmp_path: Path) -> None:
    # Satellite recordings are not in time order; a line never moves before its file's earlier.
    a = write(tmp_path / "a", [at(30), at(0), at(40)])
    b = write(tmp_path / "b", [at(10), at(35)])
    assert merged([a, b]) == [("b", 1), ("a", 1), ("a", 2), ("b", 2), ("a", 3)]


def test_a_time_that_cannot_be_an_event_time_places_nothing(tmp_path: Path) -> None:
    # A corrupt c: (here a year ahead of the run) would hold the rest of its file
    # back to the end of the feed; the decoder refuses those lines as bad_timestamp anyway.
    ahead = tagged([POS], T0 + 400 * 86_400_000, "S")[0]
    a = write(tmp_path / "a", [at(0), ahead, at(20), at(30)])
    b = write(tmp_path / "b", [at(10), at(25)])
    assert merged([a, b]) == [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2), ("a", 4)]


def test_csv_rows_are_placed_by_their_time_column(tmp_path: Path) -> None:
    rows = [
        f"367752440,2026-06-01T12:00:{s:02d},43.07917,-70.75733,0.0,360.0,95.0,SAN JOSE,,"
        "WDI9818,31,0.0,,,,52.0,A"
        for s in (5, 25)
    ]
    csv_file = write(tmp_path / "mc.csv", [MC_HEADER, *rows])
    nmea = write(tmp_path / "n", [at(0), at(10), at(30)])
    assert merged([nmea, csv_file]) == [
        ("n", 1), ("mc.csv", 2), ("n", 2), ("mc.csv", 3), ("n", 3)
    ]  # fmt: skip


def test_one_file_is_sent_as_it_is(tmp_path: Path) -> None:
    a = write(tmp_path / "a", [at(30), "garbage", at(0)])
    assert merged([a]) == [("a", 1), ("a", 2), ("a", 3)]
    assert feed_key(["a"], "run") == "a"
    assert feed_key(["a", "b"], "run") == "run/feed"


def test_a_file_that_breaks_off_ends_there_and_the_others_go_on(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(at(s) for s in range(0, 4000, 2)) + "\n").encode())
    cut = tmp_path / "cut.gz"
    cut.write_bytes(data[: len(data) // 2])
    b = write(tmp_path / "b", [at(1), at(3), at(7999)])
    broken: list[TruncatedInputError] = []
    got = list(feed_lines([(cut, "cut"), (b, "b")], T0 + 86_400_000, broken))
    assert [e.path for e in broken] == [cut]
    from_cut = [ln for ln in got if ln.source == "cut"]
    assert len(from_cut) == broken[0].lines_read > 0
    assert [ln.line_no for ln in got if ln.source == "b"] == [1, 2, 3]
    assert got[-1].source == "b"


def merged_replay(tmp_path: Path) -> tuple[RecordingProducer, tuple[Path, Path]]:
    """Files a (0 s, 20 s) and b (10 s) replayed together under ``run/feed``."""
    a = write(tmp_path / "a", [at(0), at(20)])
    b = write(tmp_path / "b", [at(10)])
    producer = RecordingProducer()
    sent, broken = replay_files(
        producer,  # type: ignore[arg-type]
        "raw",
        [(a, "a"), (b, "b")],
        key="run/feed",
        speed=None,
        batch_lines=2,
    )
    assert (sent, broken) == (3, [])
    return producer, (a, b)


def test_a_merged_feed_goes_under_one_key(tmp_path: Path) -> None:
    producer, _ = merged_replay(tmp_path)
    assert {k for k, _ in producer.sent} == {b"run/feed"}
    lines = [ln for _, v in producer.sent for ln in raw_lines_from_wire(orjson.loads(v))]
    assert [(ln.source, ln.line_no) for ln in lines] == [("a", 1), ("b", 1), ("a", 2)]


def test_event_ms_of_reads_tag_blocks_and_csv_rows(tmp_path: Path) -> None:
    row = "367752440,2026-06-01T12:00:05,43.1,-70.7,0.0,360.0,95.0,X,,Y,31,0.0,,,,52.0,A"
    csv_file = write(tmp_path / "mc.csv", [MC_HEADER, row, "not,a,row"])
    good, bad = feed_lines([(csv_file, "mc")], 0, [])
    assert event_ms_of(good) == T0 + 5_000
    assert event_ms_of(bad) is None
    (nmea,) = feed_lines([(write(tmp_path / "n", [at(7)]), "n")], 0, [])
    assert event_ms_of(nmea) == T0 + 7_000


@pytest.mark.parametrize("kind", ["nmea", "csv"])
def test_a_paced_replay_waits_for_each_lines_time(tmp_path: Path, kind: str) -> None:
    """At speed 10, lines 60 s apart in event time are sent ~6 s apart, CSV rows as well as
    tagged lines (before, CSV rows were never paced: ``--speed`` was max for a CSV file)."""
    if kind == "csv":
        rows = [
            f"367752440,2026-06-01T12:{m:02d}:00,43.1,-70.7,0.0,360.0,95.0,X,,Y,31,0.0,,,,52.0,A"
            for m in range(4)
        ]
        path = write(tmp_path / "mc.csv", [MC_HEADER, *rows])
    else:
        path = write(tmp_path / "n", [at(60 * m) for m in range(4)])
    waits: list[float] = []
    pacer = Pacer(10.0, sleep=waits.append)
    lines = feed_lines([(path, "p")], 0, [])
    batches = list(_paced(lines, pacer, 50))
    assert [len(b) for b in batches] == [1, 1, 1, 1]
    assert len(waits) == 3 and all(5.0 < w <= 18.0 for w in waits), waits


def test_a_paced_replay_does_not_wait_for_a_jump_of_years(tmp_path: Path) -> None:
    """A 2006 recording and one of 2026 at speed 10: the minute steps of each are waited for
    (~6 s), the 20 years between them are not (before: a minute's sleep per line, for
    ever). A corrupt time far ahead in a file is not waited for either, nor is the way back."""
    old = T0 - 20 * 365 * 86_400_000
    lines = [
        tagged([POS], t, "S")[0]
        for t in (
            old,
            old + 60_000,
            T0,
            T0 + 60_000,
            T0 + 5 * 86_400_000,
            T0 + 120_000,
            T0 + 180_000,
        )
    ]
    waits: list[float] = []
    pacer = Pacer(10.0, sleep=waits.append)
    list(_paced(feed_lines([(write(tmp_path / "n", lines), "n")], 0, []), pacer, 50))
    assert len(waits) == 3 and all(5.0 < w <= 6.0 for w in waits), waits


# Past the decode stage the files of a feed are one source: the feed (one event-time clock,
# one set of vessels and pairs); each file stays its own station and its own rejects.

NAMES = TopicNames.from_settings(Settings())
BARE = POS  # no tag block: no station named


def feed_batch(feed: str | None, *lines: tuple[str, int, str]) -> bytes:
    return raw_batch_to_json([RawLine(s, n, text, T0) for s, n, text in lines], feed=feed)


def reports_of(outs: list[Out]) -> list[dict[str, Any]]:
    return [
        d for o in outs if o.topic == NAMES.reports for d in report_items(orjson.loads(o.value))
    ]


def test_the_decode_stage_passes_a_feeds_reports_on_as_the_feeds(tmp_path: Path) -> None:
    stage = DecodeStage(NAMES, 2)
    outs = stage.handle(feed_batch("run/feed", ("a", 1, at(0, "S-A")), ("b", 1, BARE)))
    items = reports_of(outs)
    reports = [d for d in items if "mmsi" in d]
    assert [(r["source"], r["station"]) for r in reports] == [
        ("run/feed", "S-A"),  # the station its tag block names
        ("run/feed", "b"),  # none named: its file
    ]
    ticks = [d for d in items if "tick" in d]
    assert {t["source"] for t in ticks} == {"run/feed"}
    assert set(stage.counts) == {"run/feed"}
    assert stage.counts["run/feed"].lines == 2
    # The same lines, no feed: each file its own source, as before.
    alone = DecodeStage(NAMES, 2)
    items = reports_of(alone.handle(feed_batch(None, ("a", 1, at(0, "S-A")), ("b", 1, BARE))))
    assert [(r["source"], r["station"]) for r in items if "mmsi" in r] == [
        ("a", "S-A"),
        ("b", None),
    ]
    assert set(alone.counts) == {"a", "b"}


def test_a_files_end_stays_in_the_decode_stage_and_the_feeds_end_goes_on(
    tmp_path: Path,
) -> None:
    first, _second = encode_dict(
        {"type": 5, "mmsi": 316012345, "shipname": "LAKE SPIRIT", "callsign": "CFK2345"},
        talker_id="AI",
        sentence_type="VDM",
    )
    stage = DecodeStage(NAMES, 2)
    stage.handle(feed_batch("run/feed", ("a", 1, at(0)), ("b", 1, first)))
    cut = TruncatedInputError(Path("a.gz"), 1, EOFError("compressed file ended"))
    ends = [
        stage.handle(eof_record("a", "run", cut, feed="run/feed")),
        stage.handle(eof_record("b", "run", feed="run/feed")),
    ]
    # A file's end: its rejects (its break; its unfinished multipart message), nothing more.
    assert [[o.topic for o in outs] for outs in ends] == [[NAMES.rejected], [NAMES.rejected]]
    rejects = [orjson.loads(outs[0].value)["rejects"] for outs in ends]
    assert [[(r["source"], r["line_no"], r["reason"]) for r in rs] for rs in rejects] == [
        [("a", 2, "truncated_input")],
        [("b", 1, "incomplete_multipart")],
    ]
    # The feed's end goes to every partition with the counts of both files and its clock.
    outs = stage.handle(eof_record("run/feed", "run"))
    assert [(o.topic, o.partition) for o in outs] == [(NAMES.reports, 0), (NAMES.reports, 1)]
    end = orjson.loads(outs[0].value)
    assert end["source"] == "run/feed" and "feed" not in end
    assert end["decode"]["lines"] == 2
    assert end["decode"]["rejected"] == {"truncated_input": 1, "incomplete_multipart": 1}
    assert end["final_tick"]["source"] == "run/feed"
    assert end["final_tick"]["tick"] == T0
    assert stage.counts == {} and stage.tick_ms == {}


@pytest.mark.parametrize("feed", [7, "", ["run/feed"]])
def test_a_batch_whose_feed_is_not_a_name_is_refused(feed: object) -> None:
    value = orjson.dumps({**orjson.loads(feed_batch(None, ("a", 1, at(0)))), "feed": feed})
    stage = DecodeStage(NAMES, 2)
    with pytest.raises(DecodeError, match="'feed' is not a name"):
        stage.handle(value)
    assert stage.counts == {}


def test_a_merged_replay_names_its_feed_and_ends_each_file_then_the_feed(
    tmp_path: Path,
) -> None:
    producer, (a, b) = merged_replay(tmp_path)
    assert {orjson.loads(v).get("feed") for v in producer.values} == {"run/feed"}
    cut = TruncatedInputError(b, 1, EOFError("x"))
    assert send_end(producer, "raw", ["a", "b"], "run", {"b": cut}, key="run/feed") == [  # type: ignore[arg-type]
        "run/feed"
    ]
    ends = [orjson.loads(v) for k, v in producer.sent[-3:]]
    assert {k for k, _ in producer.sent} == {b"run/feed"}
    assert [(e["source"], e.get("feed"), "truncated" in e) for e in ends] == [
        ("a", "run/feed", False),
        ("b", "run/feed", True),
        ("run/feed", None, False),
    ]
    # One file: its lines name no feed, and its own end is the one that goes on.
    alone = RecordingProducer()
    replay_files(alone, "raw", [(a, "a")], key="a", speed=None, batch_lines=2)  # type: ignore[arg-type]
    assert send_end(alone, "raw", ["a"], "run", {}, key="a") == ["a"]  # type: ignore[arg-type]
    assert [orjson.loads(v).get("feed") for v in alone.values] == [None, None]
    assert orjson.loads(alone.values[-1])["source"] == "a"


def test_lines_before_a_recordings_first_time_are_received_at_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line without a time of its own, before its file has given one, is dated by its
    receipt; a replay's receipt was the moment it began (months after the recording). Now
    such a line is received, as it were, at the file's first time, and a file without any
    time given with timed ones at the feed's first time; without any time at all, at the
    replay's start as before."""
    run = T0 + 86_400_000
    a = write(tmp_path / "a", ["# header", POS, at(10), POS])

    def stamps(files: list[Path]) -> list[tuple[str, int]]:
        lines = feed_lines([(p, p.name) for p in files], run, [])
        return [(ln.source, ln.ingest_ms) for ln in lines]

    assert stamps([a]) == [("a", T0 + 10_000)] * 2 + [("a", run)] * 2
    bare = write(tmp_path / "bare", [POS, POS])
    assert stamps([bare]) == [("bare", run)] * 2
    assert stamps([a, bare]) == [("bare", T0 + 10_000)] * 2 + stamps([a])
    b = write(tmp_path / "b", [POS, at(4)])
    assert stamps([a, b, bare]) == [
        ("bare", T0 + 4_000), ("bare", T0 + 4_000), ("b", T0 + 4_000), ("b", run),
        ("a", T0 + 10_000), ("a", T0 + 10_000), ("a", run), ("a", run),
    ]  # fmt: skip
    # One file looks so far ahead for its first time.
    monkeypatch.setattr("replay.producer.FIRST_TIME_LOOKAHEAD", 2)
    assert stamps([a]) == [("a", run)] * 4
