"""A message on a pipeline topic that is not one of ours is refused with BAD_MESSAGE before the
stage changes any state; the agent counts it, forwards it to ais.rejected and goes on.

Before: orjson's JSONDecodeError, AttributeError or KeyError escaped the stage, the agent
crashed (an ERROR and a traceback in the log) and Faust restarted it; nothing was counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from mda.errors import DecodeError, RejectReason
from mda.model import RawLine, raw_batch_to_json
from replay.scenarios import great_lakes_demo
from streams.pipeline import DecodeStage, Out, TrackStage, read_message
from streams.proximity import ProximityStage
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import make_context
from tests.unit.test_lifecycle import alert
from tests.unit.test_lifecycle_stage import make_stage

NAMES = TopicNames.from_settings(Settings())

#: Not a message of any stage: not JSON, not an object, no batch list, bad control records.
NOT_MESSAGES = [
    b"",
    b"garbage",
    b"\xff\xfe\x00",
    b"[]",
    b"5",
    b"null",
    b'"lines"',
    b"{}",
    b'{"lines": 5, "reports": 5, "presence": 5}',
    b'{"ctl": "eof"}',
    b'{"ctl": "eof", "source": 5}',
    b'{"ctl": "eof", "run": "r", "source": "x", "feed": 5}',
    b'{"ctl": "eof", "run": "r", "source": "x", "truncated": "cut"}',
    b'{"ctl": "restart", "source": "x"}',
]


def _stages() -> dict[str, Callable[[bytes], list[Out]]]:
    ctx = make_context()
    decode = DecodeStage(NAMES, 2)
    track = TrackStage(NAMES, 2, ctx, {})
    prox = ProximityStage(NAMES, 2, ctx.geography, ctx.mids, ctx.thresholds)
    return {
        "decode": decode.handle,
        "track": lambda v: track.handle(v, 0),
        "proximity": lambda v: prox.handle(v, 0),
    }


@pytest.mark.parametrize("stage", ["decode", "track", "proximity"])
@pytest.mark.parametrize("value", NOT_MESSAGES)
def test_every_stage_refuses_what_is_not_a_message(stage: str, value: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        _stages()[stage](value)
    assert info.value.reason is RejectReason.BAD_MESSAGE


@pytest.mark.parametrize(
    "value",
    [
        b'{"lines": [5]}',
        b'{"lines": [["only a source"]]}',
        b'{"fields": ["x"], "lines": [[1, 2, 3]]}',
        b'{"lines": [{"text": "!AIVDM"}]}',
    ],
)
def test_decode_stage_refuses_lines_that_are_not_line_records(value: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        DecodeStage(NAMES, 2).handle(value)
    assert info.value.reason is RejectReason.BAD_MESSAGE


def test_the_track_stage_takes_its_control_records_and_no_other() -> None:
    eof = orjson.dumps({"ctl": "eof", "run": "r", "source": "s"})
    assert read_message(eof, "reports", ("eof", "reference"))["source"] == "s"
    ref = orjson.dumps({"ctl": "reference", "kind": "facility", "key": "K", "value": None})
    assert read_message(ref, "reports", ("eof", "reference"))["kind"] == "facility"
    with pytest.raises(DecodeError, match="'reference' not expected"):
        read_message(ref, "presence")
    with pytest.raises(DecodeError, match="without a str 'key'"):
        read_message(b'{"ctl": "reference", "kind": "facility"}', "reports", ("reference",))


def _run(handle: Callable[[bytes], list[Out]], values: list[bytes]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for v in values:
        try:
            out += [(o.topic, o.key, o.value, o.partition) for o in handle(v)]
        except DecodeError:
            out.append(("refused",))
    return out


def test_refused_messages_change_nothing_around_them() -> None:
    """The scenario with a bad message before each batch gives, batch for batch, what it gives
    alone (decode, then track: the same reports, presences and alerts)."""
    lines = great_lakes_demo().lines
    batches = [
        raw_batch_to_json([RawLine("demo", i, t, 0) for i, t in enumerate(lines[k : k + 40], k)])
        for k in range(0, len(lines), 40)
    ]
    batches.append(orjson.dumps({"ctl": "eof", "run": "r", "source": "demo"}))
    mixed = [v for b in batches for v in (NOT_MESSAGES[len(b) % len(NOT_MESSAGES)], b)]

    alone, with_bad = _stages(), _stages()
    decoded = _run(alone["decode"], batches)
    decoded_mixed = _run(with_bad["decode"], mixed)
    assert [d for d in decoded_mixed if d != ("refused",)] == decoded
    assert decoded_mixed.count(("refused",)) == len(batches)

    reports = [d[2] for d in decoded if d[0] == NAMES.reports and d[3] == 0]
    tracked = _run(alone["track"], reports)
    tracked_mixed = _run(with_bad["track"], [v for r in reports for v in (b"{}", r)])
    assert [t for t in tracked_mixed if t != ("refused",)] == tracked
    assert any(t[0] == NAMES.alerts for t in tracked)  # (the scenario's alerts are there)


@pytest.mark.parametrize(
    "value",
    [
        b"garbage",
        b"[]",
        b'{"alert_id": 5}',
        b'{"alert_id": "x", "schema": "mda.alert/1"}',
    ],
)
def test_the_lifecycle_refuses_what_is_not_an_alert(value: bytes) -> None:
    stage, states = make_stage()
    with pytest.raises(DecodeError) as info:
        stage.rekey(value)
    assert info.value.reason is RejectReason.BAD_MESSAGE
    assert states == {}


def test_the_lifecycle_still_rekeys_alerts_and_skips_control_records() -> None:
    stage, _ = make_stage()
    msg = alert()
    (out,) = stage.rekey(orjson.dumps(msg))
    assert out.key == msg["alert_id"].encode()
    assert stage.rekey(b'{"ctl": "eof", "run": "r", "source": "s"}') == []
