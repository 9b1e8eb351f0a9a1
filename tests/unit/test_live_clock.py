"""A live receiver's line dated ahead of its receipt is dated by its receipt.

A live line's ``ingest_ms`` is the moment it arrived, so a time read from it more than a
minute ahead of that is a wrong clock (``LIVE_AHEAD_OF_RECEIPT_MS``). Before, one station of
an aggregated live feed whose clock ran ahead carried the feed's watermark with it, and the
other stations' vessels looked silent early: with a station 9 min ahead, a vessel silent for
25 min was alerted as an AIS_GAP (30 min). Replays are not live (every line carries the
replay's start) and keep the day-ahead refusal of ``test_event_time_bounds``. A live line
with no plausible date (1970, 1980, 1999, 2100) is dated by its receipt too, not lost.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pyais.encode import encode_dict

from mda.csv_reports import MARINECADASTRE_HEADER
from mda.decode import Decoder, Retimed
from mda.lines import (
    AHEAD_OF_RECEIPT_MS,
    GPS_ROLLOVER_MS,
    LIVE_AHEAD_OF_RECEIPT_MS,
    ROLLOVER_SLACK_MS,
    implausible_event_time,
)
from mda.model import EARLIEST_EVENT_MS, LATEST_EVENT_MS, RawLine, raw_batch_to_json
from replay.scenarios import LM_LAT, LM_LON, MIN_MS, T0, Builder, ms, tagged
from streams.pipeline import MAX_WRONG_CLOCKS, DecodeStage
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.test_csv_reports import ROW_A
from tests.unit.test_event_time_bounds import BAD, stage_alerts, tag_block_line

NAMES = TopicNames.from_settings(Settings())
RECEIVED_MS = ms("2026-06-01T12:00:00")


@pytest.mark.parametrize(
    ("ahead_ms", "live", "dated_ms", "rejected"),
    [
        (0, True, RECEIVED_MS, False),
        (-3_600_000, True, RECEIVED_MS - 3_600_000, False),  # behind: latency, kept
        (LIVE_AHEAD_OF_RECEIPT_MS, True, RECEIVED_MS + LIVE_AHEAD_OF_RECEIPT_MS, False),
        (LIVE_AHEAD_OF_RECEIPT_MS + 1, True, RECEIVED_MS, False),
        (9 * MIN_MS, True, RECEIVED_MS, False),
        (14 * 3_600_000, True, RECEIVED_MS, False),  # a receiver on local time, UTC+14
        (365 * 86_400_000, True, RECEIVED_MS, False),  # a wrong date: the report is good
        (9 * MIN_MS, False, RECEIVED_MS + 9 * MIN_MS, False),  # a replay keeps its times
        (14 * 3_600_000, False, RECEIVED_MS + 14 * 3_600_000, False),
        (AHEAD_OF_RECEIPT_MS + 1000, False, None, True),  # ... up to a day ahead
    ],
)
def test_a_live_line_ahead_of_its_receipt_is_dated_by_it(
    ahead_ms: int, live: bool, dated_ms: int | None, rejected: bool
) -> None:
    raw = RawLine("feed", 7, tag_block_line(RECEIVED_MS + ahead_ms), RECEIVED_MS)
    result = Decoder().feed(raw, live=live)
    assert [r.reason for r in result.rejects] == ([BAD] if rejected else [])
    assert [r.event_ms for r in result.reports] == ([] if dated_ms is None else [dated_ms])
    retimed = live and ahead_ms > LIVE_AHEAD_OF_RECEIPT_MS
    expected = Retimed("feed", "rTEST", 7, RECEIVED_MS + ahead_ms, RECEIVED_MS)
    assert result.retimed == ([expected] if retimed else [])
    if result.reports:
        (report,) = result.reports
        assert report.time_source == ("ingest" if retimed else "tagblock")
        assert report.station == "rTEST"  # still the station that heard it


@pytest.mark.parametrize(
    "c_ms",
    [
        0,  # a receiver that booted without a time fix: 1970
        315_964_800_000,  # 1980-01-06, the GPS epoch
        EARLIEST_EVENT_MS - 1000,  # 1999-12-31T23:59:59: a GPS week-number rollover
        LATEST_EVENT_MS,  # 2100
        10**22,  # 22 digits (over 64 bits)
    ],
)
def test_a_live_line_that_gives_no_plausible_date_is_dated_by_its_receipt(c_ms: int) -> None:
    """From a file it is refused (test_event_time_bounds); from a live receiver the report is
    good and the receipt is its time. With no receipt (0: tests, tools) it is refused."""
    live = Decoder().feed(RawLine("feed", 1, tag_block_line(c_ms), RECEIVED_MS), live=True)
    assert [(r.event_ms, r.time_source) for r in live.reports] == [(RECEIVED_MS, "ingest")]
    assert live.rejects == [] and live.retimed == [Retimed("feed", "rTEST", 1, c_ms, RECEIVED_MS)]
    for raw, is_live in (
        (RawLine("feed", 1, tag_block_line(c_ms), RECEIVED_MS), False),
        (RawLine("feed", 1, tag_block_line(c_ms), 0), True),
    ):
        refused = Decoder().feed(raw, live=is_live)
        assert [r.reason for r in refused.rejects] == [BAD] and refused.reports == []
        assert refused.retimed == []
    unknown = Decoder().feed(RawLine("feed", 1, tag_block_line(RECEIVED_MS), 0), live=True)
    assert [r.event_ms for r in unknown.reports] == [RECEIVED_MS] and unknown.retimed == []


def test_what_the_log_says_of_a_wrong_clock() -> None:
    def said(c_ms: int, station: str | None = "rTEST") -> str:
        return Retimed("udp://0.0.0.0:10110", station, 1, c_ms, RECEIVED_MS).describe()

    assert said(RECEIVED_MS + 9 * MIN_MS) == (
        "udp://0.0.0.0:10110, station rTEST: its clock read 2026-06-01T12:09:00Z at our "
        "receipt 2026-06-01T12:00:00Z (9.0 min ahead)"
    )
    assert said(RECEIVED_MS + 90_000).endswith("(90.0 s ahead)")
    assert said(RECEIVED_MS + 14 * 3_600_000).endswith("(14.0 h ahead)")
    assert said(315_964_800_000).endswith(
        "1980-01-06T00:00:00Z at our receipt 2026-06-01T12:00:00Z (16,948 days behind)"
    )
    assert "station (none)" in said(RECEIVED_MS + 9 * MIN_MS, None)
    assert "10000000000000000000000 ms at our receipt" in said(10**22)


def test_a_two_part_message_and_a_csv_row_are_dated_by_their_receipt() -> None:
    static = encode_dict(
        {"type": 5, "mmsi": 316001234, "shipname": "ALGOMA", "callsign": "CFK1", "imo": 0},
        talker_id="AI",
        sentence_type="VDM",
    )
    ahead = RECEIVED_MS + 2 * 3_600_000
    lines = [
        RawLine("feed", i, text, RECEIVED_MS + i * 1000)
        for i, text in enumerate(tagged(static, ahead, "rTEST"), 1)
    ]
    result = Decoder().feed_many(lines, live=True)
    assert [(r.name, r.event_ms, r.time_source) for r in result.reports] == [
        ("ALGOMA", RECEIVED_MS + 1000, "ingest")  # the first fragment's receipt
    ]
    assert [(r.line_no, r.event_ms - r.received_ms) for r in result.retimed] == [
        (1, 2 * 3_600_000 - 1000),
        (2, 2 * 3_600_000 - 2000),
    ]
    row_ms = ms("2023-01-11T00:00:00")  # ROW_A's BaseDateTime
    csv = RawLine("c", 3, ROW_A, row_ms - 5 * MIN_MS, MARINECADASTRE_HEADER)
    (report,) = Decoder().feed(csv, live=True).reports
    assert (report.event_ms, report.time_source) == (row_ms - 5 * MIN_MS, "ingest")
    (report,) = Decoder().feed(csv).reports  # a replayed CSV keeps its time
    assert report.event_ms == row_ms
    on_time = RawLine("c", 4, ROW_A, row_ms + 2000, MARINECADASTRE_HEADER)
    result = Decoder().feed(on_time, live=True)  # a live row received after its time keeps it
    assert [r.event_ms for r in result.reports] == [row_ms] and result.retimed == []


def test_only_live_batches_are_marked_and_read_as_live() -> None:
    lines = [RawLine("feed", 1, tag_block_line(RECEIVED_MS + 9 * MIN_MS), RECEIVED_MS)]
    assert "live" not in orjson.loads(raw_batch_to_json(lines))
    assert orjson.loads(raw_batch_to_json(lines, live=True))["live"] is True
    replay, live = DecodeStage(NAMES, 2), DecodeStage(NAMES, 2)
    replay.handle(raw_batch_to_json(lines))
    live.handle(raw_batch_to_json(lines, live=True))
    assert (replay.last_retimed, replay.counts["feed"].retimed) == (0, 0)
    assert (live.last_retimed, live.counts["feed"].retimed) == (1, 1)


def test_each_wrong_clock_is_noted_once_and_their_number_is_bounded() -> None:
    """The worker logs each wrong clock the first time: a station, not every line of it."""
    stage = DecodeStage(NAMES, 2)
    ahead = RECEIVED_MS + 9 * MIN_MS
    batch = [RawLine("feed", i, tag_block_line(ahead, f"r{i % 3}"), RECEIVED_MS) for i in range(9)]
    stage.handle(raw_batch_to_json(batch, live=True))
    assert stage.last_retimed == 9
    assert [(r.station, r.line_no) for r in stage.last_new_wrong_clocks] == [
        ("r0", 0),
        ("r1", 1),
        ("r2", 2),
    ]
    stage.handle(raw_batch_to_json(batch, live=True))
    assert stage.last_retimed == 9 and stage.last_new_wrong_clocks == []
    many = [
        RawLine("feed", i, tag_block_line(ahead, f"s{i}"), RECEIVED_MS)
        for i in range(MAX_WRONG_CLOCKS + 10)
    ]
    stage.handle(raw_batch_to_json(many, live=True))
    assert len(stage.wrong_clocks) == MAX_WRONG_CLOCKS
    assert len(stage.last_new_wrong_clocks) == MAX_WRONG_CLOCKS - 3
    eof = stage.handle(orjson.dumps({"ctl": "eof", "run": "r", "source": "feed"}))
    assert stage.last_retimed == 0 and stage.last_new_wrong_clocks == []
    summary = orjson.loads(next(o.value for o in eof if o.key == b"ctl"))
    assert summary["decode"]["retimed"] == 2 * 9 + MAX_WRONG_CLOCKS + 10


# -- what it is for: one station ahead in an aggregated live feed ---------------------------

DARK, KEEPER, FAR = 366100002, 366100001, 366100009
C_FIELD = re.compile(r"c:(\d+)")


def _aggregated_feed(skew_ms: int) -> list[RawLine]:
    """Lake Michigan through station S-MKE, received 2 s after each report: KEEPER every
    minute for 4 h; DARK for 20 min, silent 25 min (under the 30 min gap), then 60 min more.
    And, when ``skew_ms`` is set, station S-SKEW of the same feed, whose clock runs
    ``skew_ms`` ahead, hearing FAR every 3 min: its lines are received at their true time."""
    b = Builder("aggregated", "one feed, two stations")
    b.run(KEEPER, T0, 240, LM_LAT, LM_LON, 0.0005, sog=8.0, station="S-MKE")
    b.run(DARK, T0, 20, LM_LAT + 0.1, LM_LON, 0.002, sog=10.0, station="S-MKE")
    b.run(DARK, T0 + 45 * MIN_MS, 60, LM_LAT + 0.2, LM_LON, 0.002, sog=10.0, station="S-MKE")
    if skew_ms:
        for i in range(0, 240, 3):
            t = T0 + i * MIN_MS + skew_ms
            b.position(t, FAR, LM_LAT + 0.5, LM_LON - 0.2, 5.0, station="S-SKEW")
    received = []
    for text in b.build().lines:
        dated = int(C_FIELD.findall(text)[0]) * 1000
        received.append((dated - (skew_ms if "S-SKEW" in text else 0) + 2000, text))
    received.sort(key=lambda r: r[0])  # in the order they arrive
    return [RawLine("feed", i, text, at) for i, (at, text) in enumerate(received, 1)]


def _gaps(alerts: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    return [(a["mmsi"], a["status"], a["event_time"]) for a in alerts if a["rule"] == "AIS_GAP"]


@pytest.mark.parametrize("skew_min", [9, 60, 14 * 60])
def test_a_station_ahead_in_a_live_feed_raises_no_false_gap(skew_min: int) -> None:
    # By construction: DARK's only gap is at the end, 30 min after its last report (13:45).
    truth = [(DARK, "open", "2026-06-01T14:15:00.000Z")]
    assert _gaps(stage_alerts(_aggregated_feed(0), live=True)) == truth
    skewed = _aggregated_feed(skew_min * MIN_MS)
    assert _gaps(stage_alerts(skewed, live=True)) == truth
    # The same lines as a replay (not live) keep the station's times, and the 25 min silence
    # is alerted: the hazard this guards against (see README, Time).
    assert len(_gaps(stage_alerts(skewed, live=False))) > len(truth)


@pytest.mark.parametrize(
    ("behind_ms", "live", "retimed"),
    [
        (GPS_ROLLOVER_MS, True, True),  # the receiver's clock, 1024 weeks back to the second
        (GPS_ROLLOVER_MS - 3 * 3_600_000, True, True),  # ... and 3 h of latency
        (GPS_ROLLOVER_MS + ROLLOVER_SLACK_MS, True, True),
        (GPS_ROLLOVER_MS + ROLLOVER_SLACK_MS + 1000, True, False),  # not a rollover: kept
        (GPS_ROLLOVER_MS - ROLLOVER_SLACK_MS - 1000, True, False),
        (15 * 365 * 86_400_000, True, False),  # a recording streamed live: kept
        (GPS_ROLLOVER_MS, False, False),  # a replay keeps its times
    ],
)
def test_a_live_line_a_gps_week_rollover_behind_its_receipt_is_dated_by_it(
    behind_ms: int, live: bool, retimed: bool
) -> None:
    """A receiver with a GPS week-number rollover dates its lines 1024 weeks back (in 2026:
    2006); live, its reports are good and dated by their receipt. Before, they were kept
    19.6 years in the past (their tracks expired at once; their alerts were dated then)."""
    dated_ms = RECEIVED_MS - behind_ms
    raw = RawLine("feed", 3, tag_block_line(dated_ms), RECEIVED_MS)
    result = Decoder().feed(raw, live=live)
    assert result.rejects == []
    (report,) = result.reports
    assert report.event_ms == (RECEIVED_MS if retimed else dated_ms)
    assert report.time_source == ("ingest" if retimed else "tagblock")
    expected = Retimed("feed", "rTEST", 3, dated_ms, RECEIVED_MS)
    assert result.retimed == ([expected] if retimed else [])
    # The same from a decoded CSV row.
    row = ROW_A.replace("2023-01-11T00:00:00", iso_seconds(dated_ms))
    csv = Decoder().feed(RawLine("mc", 2, row, RECEIVED_MS, MARINECADASTRE_HEADER), live=live)
    assert [r.event_ms for r in csv.reports] == [RECEIVED_MS if retimed else dated_ms]
    if retimed:
        why = implausible_event_time(dated_ms, RECEIVED_MS, LIVE_AHEAD_OF_RECEIPT_MS)
        assert why is not None and "GPS week-number rollover" in why
        assert expected.describe().endswith(" days behind)")  # for the operator's log


def iso_seconds(event_ms: int) -> str:
    return datetime.fromtimestamp(event_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
