"""No message the pipeline writes is larger than MAX_MESSAGE_BYTES, whatever the input.

Before: a batch of 500 long garbage lines made a 2 MB ``ais.raw`` record (``mda replay``
died with MessageSizeTooLargeError, nothing sent) and a 2 MB ``ais.rejected`` message (the
decode agent crashed and Faust restarted it; those rejects were lost).
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

import orjson
from pyais.encode import encode_dict

from mda.model import MAX_MESSAGE_BYTES, RawLine, bounded, raw_batch_to_json, raw_lines_from_wire
from replay.files import MAX_RAW_LINE_CHARS, iter_raw_lines
from replay.producer import replay_file
from replay.scenarios import T0, tagged
from streams.pipeline import DecodeStage, Out, TrackStage, report_items
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import RecordingProducer, make_context

NAMES = TopicNames.from_settings(Settings())


def _rows_of(build_rows: list[tuple[list[Any], bytes]]) -> list[Any]:
    return [r for rows, _ in build_rows for r in rows]


def _build(rows: list[str]) -> bytes:
    return orjson.dumps({"rows": rows})


def test_bounded_is_one_message_when_it_fits() -> None:
    rows = ["x" * 100] * 50
    assert bounded(_build, rows) == [(rows, _build(rows))]


def test_bounded_splits_into_runs_in_order_each_under_the_limit() -> None:
    rnd = random.Random(7)
    rows = ["y" * rnd.randrange(1, 5_000) for _ in range(700)]
    parts = bounded(_build, rows, max_bytes=64 * 1024)
    assert len(parts) > 1
    assert _rows_of(parts) == rows  # every row, once, in order
    for run, value in parts:
        assert len(value) <= 64 * 1024
        assert value == _build(run)


def test_a_row_larger_than_the_limit_goes_alone() -> None:
    rows = ["a", "b" * 2_000, "c"]
    parts = bounded(_build, rows, max_bytes=1_000)
    assert [run for run, _ in parts] == [["a"], ["b" * 2_000], ["c"]]


def test_the_longest_line_a_reader_keeps_fits_a_message_at_its_worst(tmp_path: Path) -> None:
    # Control characters are escaped six to one: the worst a kept line can be as JSON.
    path = tmp_path / "worst.nmea"
    path.write_bytes(b"\x01" * (MAX_RAW_LINE_CHARS + 10) + b"\n")
    (line,) = iter_raw_lines(path, source="w", ingest_ms=0)
    assert len(raw_batch_to_json([line])) <= MAX_MESSAGE_BYTES


def _garbage(rnd: random.Random, n: int) -> str:
    return "!AIVDM,1,1,,A," + "".join(rnd.choice(string.ascii_letters) for _ in range(n)) + ",0*00"


def _position_lines(count: int, first_mmsi: int = 316_000_000) -> list[str]:
    lines = []
    for i in range(count):
        data = {
            "type": 1,
            "mmsi": first_mmsi + i,
            "lat": 43.5 + (i % 100) * 0.001,
            "lon": -77.5 - (i // 100) * 0.001,
            "speed": 8.0,
            "course": 90.0,
            "heading": 90,
        }
        sentences = encode_dict(data, talker_id="AI", sentence_type="VDM")
        lines += tagged(sentences, T0 + i * 10)
    return lines


def test_replay_of_long_lines_sends_every_line_in_records_under_the_limit(tmp_path: Path) -> None:
    rnd = random.Random(3)
    good = _position_lines(100)
    texts = [good[i // 6] if i % 6 == 0 else _garbage(rnd, 4_000) for i in range(600)]
    path = tmp_path / "long.nmea"
    path.write_text("\n".join(texts) + "\n")
    producer = RecordingProducer()
    sent = replay_file(producer, "raw", path, "long", speed=None, batch_lines=500)  # type: ignore[arg-type]
    assert sent == 600
    assert len(producer.values) > 2  # (500 lines of 4 kB: more than one record)
    assert all(len(v) <= MAX_MESSAGE_BYTES for v in producer.values)
    lines = [ln.text for v in producer.values for ln in raw_lines_from_wire(orjson.loads(v))]
    assert lines == texts


def test_decode_stage_splits_the_rejects_of_long_lines() -> None:
    rnd = random.Random(5)
    good = _position_lines(50)
    texts = [good[i // 10] if i % 10 == 0 else _garbage(rnd, 4_000) for i in range(500)]
    batch = raw_batch_to_json([RawLine("long", i, t, 0) for i, t in enumerate(texts, 1)])
    outs = DecodeStage(NAMES, 2).handle(batch)
    assert all(len(o.value) <= MAX_MESSAGE_BYTES for o in outs)
    rejected = [o for o in outs if o.topic == NAMES.rejected]
    assert len(rejected) > 1
    rejects = [r for o in rejected for r in orjson.loads(o.value)["rejects"]]
    assert [r["line_no"] for r in rejects] == [i for i in range(1, 501) if (i - 1) % 10]
    reports = [
        r
        for o in outs
        if o.topic == NAMES.reports
        for r in report_items(orjson.loads(o.value))
        if "tick" not in r
    ]
    assert len(reports) == 50


def _presence_rows(outs: list[Out]) -> list[Any]:
    return [
        r
        for o in outs
        if o.topic == NAMES.presence
        for r in orjson.loads(o.value)["presence"]
        if isinstance(r, list)
    ]


def test_a_large_batch_gives_reports_and_presence_under_the_limit_and_the_same_answer() -> None:
    # 6,000 vessels in one batch (MDA_RAW_BATCH_LINES=6000), one partition: ~1.3 MB of
    # report rows and ~0.8 MB of presence rows if each were one message.
    lines = _position_lines(6_000)
    batch = raw_batch_to_json([RawLine("big", i, t, 0) for i, t in enumerate(lines, 1)])
    outs = DecodeStage(NAMES, 1).handle(batch)
    reports = [o for o in outs if o.topic == NAMES.reports]
    assert len(reports) > 1
    assert all(len(o.value) <= MAX_MESSAGE_BYTES for o in reports)

    ctx = make_context()
    split = TrackStage(NAMES, 1, ctx, {})
    split_outs = [x for o in reports for x in split.handle(o.value, 0)]
    presence = [o for o in split_outs if o.topic == NAMES.presence]
    assert len(presence) > 1
    assert all(len(o.value) <= MAX_MESSAGE_BYTES for o in presence)

    # The same rows as one (oversized) message give the same presences and alerts.
    rows = [r for o in reports for r in orjson.loads(o.value)["reports"]]
    fields = orjson.loads(reports[0].value)["fields"]
    whole = TrackStage(NAMES, 1, ctx, {})
    whole_outs = whole.handle(orjson.dumps({"fields": fields, "reports": rows}), 0)
    assert len(_presence_rows(split_outs)) == 6_000
    assert _presence_rows(split_outs) == _presence_rows(whole_outs)
    alerts = sorted(o.value for o in split_outs if o.topic == NAMES.alerts)
    assert alerts == sorted(o.value for o in whole_outs if o.topic == NAMES.alerts)


def _facility_json(facility_id: str = "CATOR-0001") -> dict[str, Any]:
    from mda.isps import Facility, record_to_json

    facility = Facility(facility_id, "Toronto", "CATOR", "CAN", 43.64, -79.37, 2_000.0, 1, True)
    return record_to_json(facility)


def test_an_isps_record_is_forwarded_as_it_is() -> None:
    from streams.reference import forward

    value = orjson.dumps(_facility_json())
    outs = forward(NAMES, 2, NAMES.isps_facilities, b"CATOR-0001", value, 7)
    assert [o.partition for o in outs] == [0, 1]
    ctl = orjson.loads(outs[0].value)
    assert (ctl["kind"], ctl["key"], ctl["value"], ctl["offset"]) == (
        "facility",
        "CATOR-0001",
        _facility_json(),
        7,
    )


def test_an_oversized_isps_record_is_refused_and_its_control_record_stays_small() -> None:
    from streams.reference import forward

    padded = {**_facility_json(), "name": "X" * (MAX_MESSAGE_BYTES + 10)}
    for key, value in [
        (b"CATOR-0001", orjson.dumps(padded)),
        (b"K" * (MAX_MESSAGE_BYTES + 10), None),  # a tombstone with a key no record has
    ]:
        outs = forward(NAMES, 2, NAMES.isps_facilities, key, value, 3)
        assert all(len(o.value) <= MAX_MESSAGE_BYTES for o in outs)
        track = TrackStage(NAMES, 2, make_context(), {})
        track.handle(outs[0].value, 0)
        assert track.reference_rejects == 1  # counted, like any invalid record
        assert track.ctx.reference is not None and not track.ctx.reference.facilities
