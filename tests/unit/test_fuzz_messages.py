"""Fuzz properties of the stages on messages another program could write to their topics.

Arbitrary JSON, and messages shaped like ours (batches of real rows with columns replaced,
ticks, control records) whose fields hold arbitrary JSON: every stage either handles the
message or refuses it with an ``MdaError`` (which its agent counts and forwards), never
another exception (which crashed the agent: a control record's unknown reference kind, a
row's string latitude, a sender that is no partition); and the real scenario, handled after
the junk, still goes through.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from mda.errors import MdaError
from mda.isps import load_reference_dir
from mda.lifecycle import ACTION_SCHEMA
from mda.model import REPORT_FIELDS, RawLine, raw_batch_to_json
from mda.proximity import PRESENCE_ROW
from replay.scenarios import great_lakes_demo, rules_isps
from streams.lifecycle import LifecycleStage
from streams.pipeline import DecodeStage, Out, TrackStage
from streams.proximity import ProximityStage
from streams.reference import forward, publishable
from streams.settings import Settings
from streams.topics import TopicNames
from tests.hypothesis_profiles import FUZZ
from tests.unit.builders import make_context
from tests.unit.test_lifecycle_stage import make_stage

NAMES = TopicNames.from_settings(Settings())
PARTITIONS = 2

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = (
    "source", "run", "kind", "key", "value", "offset", "final_tick", "reports_partition",
    "decode", "track", "stage", "from", "fields", "tick", "stations", "truncated", "feed",
)  # fmt: skip


@cache
def _real() -> dict[str, Any]:
    """The scenario's messages as the stages write them: raw batches, reports, presences."""
    lines = great_lakes_demo().lines
    raws = [RawLine("demo", i, t, 0) for i, t in enumerate(lines)]
    raw = [raw_batch_to_json(raws[k : k + 80]) for k in range(0, len(raws), 80)]
    raw.append(orjson.dumps({"ctl": "eof", "run": "r", "source": "demo"}))
    ctx = make_context()
    decode, track = DecodeStage(NAMES, PARTITIONS), TrackStage(NAMES, PARTITIONS, ctx, {})
    reports: list[Out] = []
    presences: list[Out] = []
    alerts: list[Out] = []
    for batch in raw:
        for r in decode.handle(batch):
            if r.topic == NAMES.reports:
                reports.append(r)
                assert r.partition is not None
                for o in track.handle(r.value, r.partition):
                    (presences if o.topic == NAMES.presence else alerts).append(o)
    return {
        "raw": raw,
        "reports": reports,
        "presences": presences,
        "alerts": [a for a in alerts if a.topic == NAMES.alerts and a.key != b"ctl"],
        "report_rows": [
            d for r in reports for d in orjson.loads(r.value).get("reports", []) if type(d) is list
        ],
        "presence_rows": [
            d
            for p in presences
            for d in orjson.loads(p.value).get("presence", [])
            if type(d) is list
        ],
    }


@st.composite
def spoiled_row(draw: st.DrawFn, which: str) -> Any:
    rows = _real()[which]
    row = list(draw(st.sampled_from(rows)))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["replace", "drop", "add"]))
        i = draw(st.integers(0, len(row) - 1)) if row else 0
        if op == "replace" and row:
            row[i] = draw(json_values)
        elif op == "drop" and row:
            del row[i]
        elif op == "add":
            row.insert(i, draw(json_values))
    return row


@st.composite
def message(draw: st.DrawFn, items: str, rows: str, columns: tuple[str, ...]) -> bytes:
    """Arbitrary JSON, a control record or a batch of ours with arbitrary fields."""
    kind = draw(st.sampled_from(["json", "ctl", "batch", "batch"]))
    if kind == "json":
        return orjson.dumps(draw(json_values))
    msg: dict[str, Any] = {}
    if kind == "ctl":
        msg["ctl"] = draw(st.sampled_from(["eof", "reference", "x"]))
        msg["source"] = draw(st.one_of(st.just("demo"), st.text(max_size=4), json_values))
    else:
        item = st.one_of(
            spoiled_row(rows),
            st.fixed_dictionaries(
                {"tick": st.one_of(st.integers(0, 2**63 - 1), json_values)},
                optional={
                    "source": st.one_of(st.just("demo"), json_values),
                    "stations": json_values,
                },
            ),
            json_values,
        )
        msg[items] = draw(st.lists(item, max_size=6))
        if draw(st.booleans()):
            msg["fields"] = draw(st.one_of(st.just(list(columns)), json_values))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        msg[name] = draw(json_values)
    return orjson.dumps(msg)


def _survives(handle: Any, values: list[bytes]) -> None:
    for value in values:
        try:
            outs = handle(value)
        except MdaError:
            continue
        for o in outs:
            assert isinstance(o.value, bytes)


@FUZZ
@given(st.lists(message("lines", "report_rows", ("source", "line_no", "text")), max_size=8))
def test_the_decode_stage_on_messages_not_ours(values: list[bytes]) -> None:
    stage = DecodeStage(NAMES, PARTITIONS)
    _survives(stage.handle, values)
    _survives(stage.handle, _real()["raw"])


@FUZZ
@given(st.lists(message("reports", "report_rows", REPORT_FIELDS), max_size=8))
def test_the_track_stage_on_messages_not_ours(values: list[bytes]) -> None:
    stage = TrackStage(NAMES, PARTITIONS, make_context(), {})
    _survives(lambda v: stage.handle(v, 0), values)
    for r in _real()["reports"]:
        stage.handle(r.value, r.partition)  # (no refusal expected: raises if it does)


@FUZZ
@given(st.lists(message("presence", "presence_rows", PRESENCE_ROW), max_size=8))
def test_the_proximity_stage_on_messages_not_ours(values: list[bytes]) -> None:
    ctx = make_context()
    stage = ProximityStage(NAMES, PARTITIONS, ctx.geography, ctx.mids, ctx.thresholds)
    _survives(lambda v: stage.handle(v, 0), values)
    for p in _real()["presences"]:
        stage.handle(p.value, p.partition)


@FUZZ
@given(st.lists(st.one_of(st.just(b""), json_values.map(orjson.dumps)), max_size=8), st.data())
def test_the_lifecycle_on_alerts_not_ours(values: list[bytes], data: st.DataObject) -> None:
    """Arbitrary JSON, and real alerts with a field replaced, on mda.alerts."""
    stage: LifecycleStage = make_stage()[0]
    for a in _real()["alerts"]:
        alert = orjson.loads(a.value)
        name = data.draw(st.sampled_from(sorted(alert)))
        alert[name] = data.draw(json_values)
        values.append(orjson.dumps(alert))

    def through(value: bytes) -> list[Any]:
        return [o for r in stage.rekey(value) for o in stage.handle_alert(r.value)]

    _survives(through, values)
    for a in _real()["alerts"]:
        through(a.value)


@st.composite
def action(draw: st.DrawFn) -> bytes:
    """Arbitrary JSON, or a watch officer's action on a real alert with fields replaced."""
    if draw(st.booleans()):
        return orjson.dumps(draw(json_values))
    alert_id = orjson.loads(draw(st.sampled_from(_real()["alerts"])).value)["alert_id"]
    d: dict[str, Any] = {
        "schema": ACTION_SCHEMA,
        "action": draw(st.sampled_from(["ack", "assign", "note", "close", "reopen"])),
        "alert_id": alert_id,
        "by": "officer",
        "at": "2026-06-01T13:00:00Z",
        "assignee": "analyst",
        "text": "seen",
    }
    for name in draw(st.lists(st.sampled_from([*d, "action_id", "extra"]), max_size=3)):
        d[name] = draw(json_values)
    return orjson.dumps(d)


@FUZZ
@given(st.lists(action(), max_size=8), st.lists(json_values.map(orjson.dumps), max_size=4))
def test_the_lifecycle_on_actions_and_by_id_messages_not_ours(
    actions: list[bytes], by_id: list[bytes]
) -> None:
    """Actions are validated (a rejection is a record, never an exception), and a message on
    mda.alerts.by-id that is not an alert is refused, for alerts with state or without."""
    stage: LifecycleStage = make_stage()[0]
    for a in _real()["alerts"][:3]:
        for r in stage.rekey(a.value):
            stage.handle_alert(r.value)
    for value in actions:
        for partition in range(4):  # (test_lifecycle_stage's N)
            assert all(
                isinstance(o.value, bytes) for o in stage.handle_action(value, b"k", partition)
            )
    _survives(stage.handle_alert, by_id)
    for a in _real()["alerts"]:
        for r in stage.rekey(a.value):
            stage.handle_alert(r.value)


@cache
def _reference_records() -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, key, value) of every record of the ISPS scenario's reference set."""
    path = rules_isps().reference_path
    assert path is not None
    ref = load_reference_dir(path)
    kinds = NAMES.isps_topics()
    return [(kinds[topic], key, value) for topic, key, value in publishable(NAMES, ref)]


@st.composite
def reference_record(draw: st.DrawFn) -> tuple[str, bytes | None, bytes | None]:
    """An isps record as another program could write it: a real one with fields replaced,
    dropped or added, under its key or another; arbitrary bytes; or a tombstone."""
    kind, key, value = draw(st.sampled_from(_reference_records()))
    choice = draw(st.sampled_from(["spoiled", "spoiled", "bytes", "tombstone"]))
    if choice == "bytes":
        return (
            kind,
            draw(st.one_of(st.none(), st.binary(max_size=20))),
            draw(st.binary(max_size=60)),
        )
    if choice == "tombstone":
        return kind, draw(st.one_of(st.just(key.encode()), st.binary(max_size=20))), None
    record = dict(value)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([*record, "extra"]))
        if draw(st.booleans()):
            record[name] = draw(json_values)
        else:
            record.pop(name, None)
    new_key = draw(st.one_of(st.just(key), st.text(max_size=12)))
    return kind, new_key.encode(), orjson.dumps(record)


@FUZZ
@given(st.lists(reference_record(), min_size=1, max_size=8))
def test_the_track_stage_on_reference_records_not_ours(
    records: list[tuple[str, bytes | None, bytes | None]],
) -> None:
    """Forwarded as the reference feed does (streams.reference.forward), each record is
    applied or counted as invalid, never raised; the scenario goes through after."""
    stage = TrackStage(NAMES, PARTITIONS, make_context(), {})
    topic_of = {kind: topic for topic, kind in NAMES.isps_topics().items()}
    reports = _real()["reports"]
    half = len(reports) // 2
    for r in reports[:half]:  # (vessels for a facility change to reach)
        stage.handle(r.value, r.partition)
    for offset, (kind, key, value) in enumerate(records):
        for ctl in forward(NAMES, PARTITIONS, topic_of[kind], key, value, offset):
            assert ctl.partition is not None
            stage.handle(ctl.value, ctl.partition)
    for r in reports[half:]:
        stage.handle(r.value, r.partition)


@cache
def _lifecycle_records() -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of what the watch page reads: states, alerts, rejected actions."""
    stage, _ = make_stage()
    outs: list[Out] = []
    for a in _real()["alerts"]:
        for r in stage.rekey(a.value):
            outs += stage.handle_alert(r.value)
    outs += stage.handle_action(b'{"action": "ack"}', b"k", 0)
    records = [(o.topic, o.key or b"", o.value) for o in outs]
    records += [(NAMES.alerts, a.key or b"", a.value) for a in _real()["alerts"]]
    return records


def _spoil(value: Any, draw: st.DrawFn, depth: int = 0) -> Any:
    """``value`` with one field (at any depth of objects) replaced by arbitrary JSON."""
    if not isinstance(value, dict) or not value:
        return draw(json_values)
    out = dict(value)
    name = draw(st.sampled_from(sorted(out)))
    deeper = isinstance(out[name], dict) and depth < 3 and draw(st.booleans())
    out[name] = _spoil(out[name], draw, depth + 1) if deeper else draw(json_values)
    return out


@FUZZ
@given(st.data())
def test_the_watch_page_on_records_not_ours(data: st.DataObject) -> None:
    """What the watch page reads (alert states, alerts, rejected actions) with fields replaced
    at any depth, or arbitrary JSON: the feed never raises (it used to fail and read the topics
    again from the start, for ever), and the board still lists, details and counts."""
    # (Imports the app: only this test needs it.)
    from streams.watch import AlertFeed, alert_names, names

    feed = AlertFeed()
    # The lifecycle test stage's topics ("t." prefix) as the page's reader names them.
    as_read = {
        "t.mda.alert-state": alert_names.state,
        "t.mda.alert-actions.rejected": alert_names.rejected_actions,
        NAMES.alerts: names.alerts,
    }
    records = [(as_read[t], k, v) for t, k, v in _lifecycle_records() if t in as_read]
    assert {t for t, _, _ in records} == set(as_read.values())
    for _ in range(data.draw(st.integers(1, 12))):
        topic, key, value = data.draw(st.sampled_from(records))
        if data.draw(st.booleans()):
            value = orjson.dumps(_spoil(orjson.loads(value), data.draw))
        elif data.draw(st.booleans()):
            value = orjson.dumps(data.draw(json_values))
        feed.handle(topic, key, value)
    for topic, key, value in records:
        feed.handle(topic, key, value)
    board = feed.board
    orjson.dumps(board.rows(), default=str)
    for alert_id in list(board.states):
        orjson.dumps(board.detail(alert_id), default=str)
    assert set(board.counts()) == {"open", "unacknowledged", "closed"}
