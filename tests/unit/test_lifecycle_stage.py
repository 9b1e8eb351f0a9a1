"""The lifecycle stage without Kafka: re-keying, routing per audience, rejections kept."""

from __future__ import annotations

from typing import Any

import orjson

from mda.alerts import iso_utc, validate_message
from mda.lifecycle import AlertState
from mda.routing import default_routes
from streams.alert_topics import AlertTopicNames, partition_for_alert
from streams.lifecycle import LifecycleStage
from streams.settings import Settings
from tests.unit.builders import T0_MS
from tests.unit.test_lifecycle import alert

N = 4


def make_stage() -> tuple[LifecycleStage, dict[str, AlertState]]:
    states: dict[str, AlertState] = {}
    names = AlertTopicNames.from_settings(Settings(topic_prefix="t."))
    return LifecycleStage(names, N, default_routes(), states, 600), states


def through(stage: LifecycleStage, msg: dict[str, Any]) -> list[Any]:
    (rekeyed,) = stage.rekey(orjson.dumps(msg))
    assert rekeyed.topic == "t.mda.alerts.by-id" and rekeyed.key == msg["alert_id"].encode()
    assert rekeyed.partition == partition_for_alert(msg["alert_id"], N)
    return stage.handle_alert(rekeyed.value)


def test_control_records_are_not_alerts() -> None:
    stage, _ = make_stage()
    assert stage.rekey(orjson.dumps({"ctl": "eof", "run": "r", "source": "s"})) == []


def test_each_audience_gets_only_what_it_may_see() -> None:
    stage, _ = make_stage()
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for i, marks in enumerate((["CAN"], ["USA"], ["CAN", "USA"])):
        msg = alert(mmsi=316000000 + i)
        msg["releasability"] = marks
        for o in through(stage, msg):
            by_topic.setdefault(o.topic, []).append(orjson.loads(o.value))
    assert [m["releasability"] for m in by_topic["t.mda.alerts.ca"]] == [["CAN"], ["CAN", "USA"]]
    assert [m["releasability"] for m in by_topic["t.mda.alerts.us"]] == [["USA"], ["CAN", "USA"]]
    assert [m["releasability"] for m in by_topic["t.mda.alerts.bi"]] == [["CAN", "USA"]]
    assert all(
        validate_message(m) == [] for k, ms in by_topic.items() if "state" not in k for m in ms
    )
    assert len(by_topic["t.mda.alert-state"]) == 3


def test_actions_apply_misrouted_ones_are_resent_and_bad_ones_kept() -> None:
    stage, states = make_stage()
    msg = alert()
    through(stage, msg)
    aid = msg["alert_id"]
    ack = orjson.dumps({"action": "ack", "alert_id": aid, "by": "cdr", "at": iso_utc(T0_MS)})
    right = partition_for_alert(aid, N)
    (resent,) = stage.handle_action(ack, aid.encode(), (right + 1) % N)
    assert resent.topic == "t.mda.alert-actions" and resent.partition == right
    outs = stage.handle_action(ack, aid.encode(), right)
    assert [o.topic for o in outs] == ["t.mda.alert-state"]
    assert states[aid].acknowledged_by == "cdr"
    (rejected,) = stage.handle_action(b"\xffnot json", b"k", 0)
    record = orjson.loads(rejected.value)
    assert rejected.topic == "t.mda.alert-actions.rejected"
    assert record["reason"] == "malformed_json" and record["raw"].endswith("not json")
    assert stage.last_rejection == "malformed_json"


def test_retention_forgets_old_closed_alerts_of_the_swept_partition_only() -> None:
    states: dict[str, AlertState] = {}
    names = AlertTopicNames.from_settings(Settings(topic_prefix="t."))
    stage = LifecycleStage(names, N, default_routes(), states, 600, retention_s=3600)
    assert stage.sweep_interval_ms == 360_000
    # Closed alerts on every partition, one alert left open, all at T0.
    closed: dict[int, str] = {}
    open_id = ""
    for i in range(40):
        msg = alert(mmsi=316000000 + i)
        p = partition_for_alert(msg["alert_id"], N)
        through(stage, msg)
        if p not in closed:
            closed[p] = msg["alert_id"]
            through(stage, alert("closed", T0_MS + 60_000, mmsi=316000000 + i))
        elif not open_id:
            open_id = msg["alert_id"]
    assert len(closed) == N and open_id
    assert all(stage.expire(p) == [] for p in range(N))  # first sweep: nothing old yet
    # The watermark moves one hour past the closes (not more): still kept.
    through(stage, alert(at=T0_MS + 3_660_000, mmsi=367000001))
    assert all(stage.expire(p) == [] for p in range(N))
    # Past the retention, but within the sweep interval of the last sweep: not yet swept.
    through(stage, alert(at=T0_MS + 3_661_000, mmsi=367000002))
    assert stage.expire(0) == [] and closed[0] in states
    # A sweep interval later, each partition's sweep removes its own closed alert only.
    through(stage, alert(at=T0_MS + 3_660_000 + 360_000, mmsi=367000003))
    (tomb,) = stage.expire(0)
    assert (tomb.topic, tomb.key, tomb.partition) == ("t.mda.alert-state", closed[0].encode(), 0)
    assert stage.last_expired == 1 and closed[0] not in states
    assert all(closed[p] in states for p in range(1, N))
    for p in range(1, N):
        assert [t.key for t in stage.expire(p)] == [closed[p].encode()]
    assert open_id in states  # open: kept
    assert stage.expire(0) == [] and stage.last_expired == 0


def test_actions_do_not_move_the_retention_clock() -> None:
    stage, states = make_stage()
    stage.retention_s, stage.sweep_interval_ms = 60, 1
    msg = alert()
    aid = msg["alert_id"]
    p = partition_for_alert(aid, N)
    through(stage, msg)
    close = {"action": "close", "alert_id": aid, "by": "cdr", "at": iso_utc(T0_MS + 60_000)}
    stage.handle_action(orjson.dumps(close), aid.encode(), p)
    assert states[aid].status == "closed"
    # An officer's clock far ahead (a year) is not the stream's event time: kept.
    note = {**close, "action": "note", "text": "x", "at": iso_utc(T0_MS + 365 * 86_400_000)}
    stage.handle_action(orjson.dumps(note), aid.encode(), p)
    assert states[aid].notes
    assert stage.watermark_ms == T0_MS and stage.expire(p) == []
    # The rule stream's event time passes close + 60 s: forgotten; a later action is unknown.
    through(stage, alert(at=T0_MS + 121_000, mmsi=367000001))
    assert [t.key for t in stage.expire(p)] == [aid.encode()] and aid not in states
    (rejected,) = stage.handle_action(orjson.dumps(note), aid.encode(), p)
    assert orjson.loads(rejected.value)["reason"] == "unknown_alert"


def test_reopened_alert_is_not_forgotten() -> None:
    stage, states = make_stage()
    stage.retention_s, stage.sweep_interval_ms = 60, 1
    msg = alert()
    aid = msg["alert_id"]
    p = partition_for_alert(aid, N)
    through(stage, msg)
    close = {"action": "close", "alert_id": aid, "by": "cdr", "at": iso_utc(T0_MS + 60_000)}
    stage.handle_action(orjson.dumps(close), aid.encode(), p)
    reopen = {**close, "action": "reopen", "at": iso_utc(T0_MS + 90_000)}
    stage.handle_action(orjson.dumps(reopen), aid.encode(), p)
    through(stage, alert(at=T0_MS + 10 * 86_400_000, mmsi=367000001))
    assert stage.expire(p) == [] and states[aid].status == "open"
