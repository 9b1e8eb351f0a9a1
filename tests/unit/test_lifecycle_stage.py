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
