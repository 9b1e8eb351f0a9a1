"""A time read from a line that cannot be its event time is refused as ``bad_timestamp``:
before 2000, after 2099, or a day or more ahead of the line's receipt.

Before: a tag block's ``c:`` of 22 digits made the decode stage's ``ais.reports`` message an
int over 64 bits, which orjson cannot write (the agent crashed and the batch was lost); a
year past 9999 would have failed the alert's timestamp; and one report from a receiver with a
wrong date carried its feed's watermark a year ahead, so every track of the feed expired at
once (its state lost, its alerts raised again when next heard).
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import orjson
import pytest
from pyais.encode import encode_dict

from mda.csv_reports import MARINECADASTRE_HEADER
from mda.decode import Decoder
from mda.errors import RejectReason
from mda.lines import AHEAD_OF_RECEIPT_MS, implausible_event_time
from mda.model import EARLIEST_EVENT_MS, LATEST_EVENT_MS, RawLine, raw_batch_to_json
from replay.scenarios import great_lakes_demo, ms, tagged
from streams.pipeline import DecodeStage, TrackStage
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import make_context, through_track
from tests.unit.test_csv_reports import ROW_A

NAMES = TopicNames.from_settings(Settings())
#: When the lines are received (2026-12-01): after the scenario's times (2026-06).
RECEIVED_MS = ms("2026-12-01T00:00:00")
POSITION = encode_dict(
    {"type": 1, "mmsi": 316001234, "lat": 43.5, "lon": -79.0, "speed": 10.0, "course": 90.0},
    talker_id="AI",
    sentence_type="VDM",
)[0]
BAD = RejectReason.BAD_TIMESTAMP.value


def tag_block_line(c: int, station: str = "rTEST") -> str:
    """A position with a tag block whose ``c:`` is ``c`` (seconds or, above 1e11, ms)."""
    body = f"s:{station},c:{c}"
    checksum = reduce(lambda a, ch: a ^ ord(ch), body, 0)
    return f"\\{body}*{checksum:02X}\\{POSITION}"


def _feed(text: str, ingest_ms: int = RECEIVED_MS) -> tuple[list[int], list[str]]:
    result = Decoder().feed(RawLine("s", 1, text, ingest_ms))
    return [r.event_ms for r in result.reports], [r.reason for r in result.rejects]


@pytest.mark.parametrize(
    ("c", "ingest_ms", "accepted"),
    [
        (EARLIEST_EVENT_MS // 1000, RECEIVED_MS, True),  # 2000-01-01T00:00:00
        (EARLIEST_EVENT_MS // 1000 - 1, RECEIVED_MS, False),  # 1999-12-31T23:59:59
        (315_964_800, RECEIVED_MS, False),  # 1980-01-06: a GPS week-number rollover
        ((RECEIVED_MS + AHEAD_OF_RECEIPT_MS) // 1000, RECEIVED_MS, True),  # a day ahead
        ((RECEIVED_MS + AHEAD_OF_RECEIPT_MS) // 1000 + 1, RECEIVED_MS, False),
        ((RECEIVED_MS + 14 * 3_600_000) // 1000, RECEIVED_MS, True),  # local time, UTC+14
        ((RECEIVED_MS + 365 * 86_400_000) // 1000, RECEIVED_MS, False),  # a year ahead
        (RECEIVED_MS - 20 * 365 * 86_400_000, RECEIVED_MS, True),  # in ms, 20 years before
        (LATEST_EVENT_MS // 1000 - 1, 0, True),  # receipt not known: the fixed bounds only
        (LATEST_EVENT_MS // 1000, 0, False),  # 2100-01-01T00:00:00
        (99_999_999_999_999_999, 0, False),  # in ms: year 3,170,843
        (9_999_999_999_999_999_999_999, 0, False),  # over 64 bits
    ],
)
def test_tag_block_times_outside_the_bounds_are_refused(
    c: int, ingest_ms: int, accepted: bool
) -> None:
    times, reasons = _feed(tag_block_line(c), ingest_ms)
    if accepted:
        assert reasons == [] and len(times) == 1
    else:
        assert times == [] and reasons == [BAD]


def test_the_detail_says_what_is_wrong() -> None:
    assert implausible_event_time(EARLIEST_EVENT_MS, 0) is None
    assert "before 2000" in (implausible_event_time(315_964_800_000, 0) or "")
    assert "after 2099" in (implausible_event_time(10**22, 0) or "")
    ahead = implausible_event_time(RECEIVED_MS + 2 * 86_400_000, RECEIVED_MS) or ""
    assert "48.0 h ahead" in ahead and "2026-12-03T00:00:00Z" in ahead
    (reject,) = Decoder().feed(RawLine("s", 1, tag_block_line(10**22), 0)).rejects
    assert reject.event_ms is None and "after 2099" in reject.detail


def test_uscg_and_csv_times_are_bounded_too() -> None:
    uscg = f"{POSITION},r003669945,{(RECEIVED_MS + 30 * 86_400_000) // 1000}"
    assert _feed(uscg) == ([], [BAD])
    assert _feed(f"{POSITION},r003669945,{RECEIVED_MS // 1000 - 60}")[1] == []
    future = ROW_A.replace("2023-01-11T00:00:00", "2150-01-11T00:00:00")
    for row, reasons in ((ROW_A, []), (future, [BAD])):
        result = Decoder().feed(RawLine("c", 1, row, RECEIVED_MS, MARINECADASTRE_HEADER))
        assert [r.reason for r in result.rejects] == reasons
        assert len(result.reports) == (0 if reasons else 1)
        assert result.decoded_types == ([] if reasons else [1])


def test_the_ingest_time_itself_is_never_refused() -> None:
    """A line without a time takes its receipt as its event time, even an unknown one (0)."""
    assert _feed(POSITION, 0) == ([0], [])
    assert _feed(POSITION) == ([RECEIVED_MS], [])


def test_the_decode_stage_sends_a_22_digit_time_as_a_reject() -> None:
    """Before, orjson raised 'Integer exceeds 64-bit range' writing the reports message."""
    lines = [RawLine("s", 1, tag_block_line(10**22 - 1), 0), RawLine("s", 2, POSITION, 0)]
    outs = DecodeStage(NAMES, 2).handle(raw_batch_to_json(lines))
    rejects = [
        r for o in outs if o.topic == NAMES.rejected for r in orjson.loads(o.value)["rejects"]
    ]
    assert [r["reason"] for r in rejects] == [BAD]
    reports = [o for o in outs if o.topic == NAMES.reports]
    assert sum(b"316001234" in o.value for o in reports) == 1  # the good line, decoded


def test_a_wrong_date_does_not_expire_the_stations_fragments() -> None:
    """A station's clock moves on with the newest time it gives; a time a year ahead would
    have expired the first half of a two-part message waiting for its second."""
    static = encode_dict(
        {"type": 5, "mmsi": 316001234, "shipname": "ALGOMA", "callsign": "CFK1", "imo": 0},
        talker_id="AI",
        sentence_type="VDM",
    )
    assert len(static) == 2
    t = ms("2026-06-01T12:00:00")
    first, second = tagged(static, t, "rTEST")
    wrong = tag_block_line((RECEIVED_MS + 365 * 86_400_000) // 1000)
    result = Decoder().feed_many(
        RawLine("s", i, text, RECEIVED_MS) for i, text in enumerate([first, wrong, second])
    )
    assert [r.reason for r in result.rejects] == [BAD]
    assert [(r.mmsi, r.name) for r in result.reports] == [(316001234, "ALGOMA")]


def stage_alerts(raws: list[RawLine], live: bool = False) -> list[dict[str, Any]]:
    """The alerts of one source's lines through the decode and track stages, in batches of
    50 (``live``: as a live receiver's batches), then its end of file."""
    decode = DecodeStage(NAMES, 2)
    track = TrackStage(NAMES, 2, make_context(), {})
    batches = [raw_batch_to_json(raws[k : k + 50], live=live) for k in range(0, len(raws), 50)]
    batches.append(orjson.dumps({"ctl": "eof", "run": "r", "source": raws[0].source}))
    return [
        orjson.loads(a.value)
        for _, a in through_track(decode, track, batches)
        if a.topic == NAMES.alerts and a.key != b"ctl"
    ]


def _alerts(lines: list[str]) -> list[dict[str, Any]]:
    return stage_alerts([RawLine("demo", i, text, RECEIVED_MS) for i, text in enumerate(lines)])


def test_a_report_from_a_receiver_a_year_ahead_changes_no_alert() -> None:
    """The demo with one report a year ahead in the middle of it gives the demo's alerts;
    before, its watermark jumped a year, every track expired, and the INVALID_MMSI vessel,
    heard again, was alerted again."""
    lines = great_lakes_demo().lines
    wrong = tag_block_line((ms("2026-06-01T13:00:00") + 365 * 86_400_000) // 1000)
    alone = _alerts(lines)
    assert len(alone) >= 3
    mixed = _alerts([*lines[: len(lines) // 2], wrong, *lines[len(lines) // 2 :]])
    assert mixed == alone
