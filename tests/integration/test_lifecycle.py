"""The alert lifecycle on the real broker: routing, the CLI's tail/ack round trip, rejections,
and an acknowledgement that survives a worker restart (table recovery from the changelog)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mda.alerts import Finding, VesselIdentity, iso_utc, to_message
from mda.lifecycle import action_from_dict
from streams.alert_topics import AlertTopicNames
from streams.alerts_cli import Filters, current_state, send_action, tail
from streams.broker import EmbeddedBroker, free_port
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import topic_specs
from tests.integration.workers import spawn_worker

T0_MS = 1_780_315_200_000
PARTITIONS = 2


def start_worker(env_base: dict[str, str], tmp: Path, n: int) -> subprocess.Popen[bytes]:
    env = {**env_base, "MDA_WEB_PORT": str(free_port()), "MDA_DATA_DIR": str(tmp / f"data{n}")}
    return spawn_worker(env, tmp / f"worker{n}.log")


def alert(status: str, at_ms: int, jurisdiction: str, marks: list[str], **kw: Any) -> bytes:
    fields: dict[str, Any] = {
        "rule": "LOITERING",
        "severity": "medium",
        "status": status,
        "mmsi": 316012345,
        "event_ms": at_ms,
        "opened_ms": T0_MS,
        "lat": 43.6,
        "lon": -78.0,
        "summary": "LAKE SPIRIT is loitering.",
        "evidence": {"loiter_s": (at_ms - T0_MS) / 1000},
        **kw,
    }
    msg = to_message(Finding(**fields), VesselIdentity(name="LAKE SPIRIT"), jurisdiction, marks)
    return orjson.dumps(msg)


def read_all(broker: EmbeddedBroker, topic: str, partitions: int) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    out: list[dict[str, Any]] = []
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        for records in consumer.poll(timeout_ms=500).values():
            out += [orjson.loads(r.value) for r in records]
    consumer.close()
    return out


def act(alert_id: str, action: str, **kw: Any) -> Any:
    return action_from_dict(
        {
            "action": action,
            "alert_id": alert_id,
            "by": "Lt. Tremblay",
            "at": iso_utc(int(time.time() * 1000)),
            "action_id": f"{action}-{time.monotonic_ns()}",
            **kw,
        }
    )


def test_lifecycle_routing_actions_and_restart(broker: EmbeddedBroker, tmp_path: Path) -> None:
    prefix = f"lc{free_port()}."
    settings = Settings(topic_prefix=prefix, partitions=PARTITIONS)
    ensure = topic_specs(settings)
    from streams.admin import ensure_topics

    ensure_topics(broker.bootstrap, ensure)
    names = AlertTopicNames.from_settings(settings)
    env = {
        **os.environ,
        "MDA_KAFKA_BOOTSTRAP": broker.bootstrap,
        "MDA_APP_ID": f"lifecycle-{prefix}",
        "MDA_TOPIC_PREFIX": prefix,
        "MDA_PARTITIONS": str(PARTITIONS),
    }
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    ca_open = alert("open", T0_MS, "CA", ["CAN"])
    ca_id = orjson.loads(ca_open)["alert_id"]
    bi_open = alert("open", T0_MS, "BI", ["CAN", "USA"], mmsi=367000001)
    bi_id = orjson.loads(bi_open)["alert_id"]
    first = start_worker(env, tmp_path, 1)
    try:
        # A control record on mda.alerts (as `mda run` sends) must be skipped, not fail.
        producer.send(names.alerts, key=b"ctl", value=b'{"ctl":"eof","run":"x","source":"s"}')
        producer.send(names.alerts, key=b"316012345", value=ca_open)
        producer.send(names.alerts, key=b"367000001", value=bi_open)
        # Repeats within the interval, and a duplicate open (a replay): suppressed/dropped.
        for k in range(1, 4):
            producer.send(
                names.alerts,
                key=b"316012345",
                value=alert("update", T0_MS + k * 60_000, "CA", ["CAN"]),
            )
        producer.send(names.alerts, key=b"316012345", value=ca_open)
        producer.flush()

        # The CLI's tail on the Canadian audience (from the beginning): the open, once.
        out = io.StringIO()
        shown = tail(
            broker.bootstrap,
            names.audience("ca"),
            Filters(),
            out,
            as_json=True,
            from_beginning=True,
            limit=2,
            idle_timeout_s=90,
        )
        assert shown == 2, (tmp_path / "worker1.log").read_text()[-3000:]
        tailed = [orjson.loads(line) for line in out.getvalue().splitlines()]
        assert sorted(a["alert_id"] for a in tailed) == sorted([ca_id, bi_id])

        answer = send_action(broker.bootstrap, names, act(ca_id, "ack"), wait_s=30)
        assert answer is not None and "state" in answer
        assert answer["state"]["acknowledged_by"] == "Lt. Tremblay"
        # Unknown alert and malformed input: rejected with a reason, the raw input kept.
        unknown = send_action(
            broker.bootstrap, names, act("00000000-0000-5000-8000-000000000000", "ack"), 30
        )
        assert unknown is not None and unknown["rejected"]["reason"] == "unknown_alert"
        producer.send(names.actions, key=b"junk", value=b"{oops", partition=0)
        producer.flush()
        time.sleep(4)  # let Faust commit offsets and flush the changelog
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop_process(first)

    second = start_worker(env, tmp_path, 2)
    try:
        # An escalation after the restart: forwarded, on the state recovered with the ack.
        producer.send(
            names.alerts,
            key=b"316012345",
            value=alert("update", T0_MS + 5 * 60_000, "CA", ["CAN"], severity="high"),
        )
        producer.flush()
        answer = send_action(
            broker.bootstrap, names, act(ca_id, "note", text="hailed on ch 16"), wait_s=90
        )
        assert answer is not None, (tmp_path / "worker2.log").read_text()[-3000:]
        state = answer["state"]
        assert state["acknowledged_by"] == "Lt. Tremblay"  # survived the restart
        assert [n["text"] for n in state["notes"]] == ["hailed on ch 16"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            shown_state = current_state(broker.bootstrap, names, ca_id)
            if shown_state and shown_state["message"]["severity"] == "high":
                break
            time.sleep(0.5)
        assert shown_state is not None and shown_state["message"]["severity"] == "high"
        assert shown_state["suppressed"] == 3 and shown_state["duplicates"] >= 1
        closed = send_action(broker.bootstrap, names, act(ca_id, "close", text="done"), 30)
        assert closed is not None and closed["state"]["status"] == "closed"
    finally:
        stop_process(second)
        producer.close()

    ca = read_all(broker, names.audience("ca"), PARTITIONS)
    us = read_all(broker, names.audience("us"), PARTITIONS)
    bi = read_all(broker, names.audience("bi"), PARTITIONS)
    ca_statuses = [(a["status"], a["severity"]) for a in ca if a["alert_id"] == ca_id]
    assert ca_statuses == [("open", "medium"), ("update", "high"), ("closed", "high")]
    # Never routed where it is not releasable: the Canadian-only alert is not on us/bi.
    assert all(a["alert_id"] != ca_id for a in us + bi)
    assert all("CAN" in a["releasability"] for a in ca)
    assert all("USA" in a["releasability"] for a in us)
    assert [a["alert_id"] for a in bi] == [bi_id]
    rejected = read_all(broker, names.rejected_actions, 1)
    reasons = sorted(r["reason"] for r in rejected)
    assert reasons == ["malformed_json", "unknown_alert"]
    assert any(r["raw"] == "{oops" for r in rejected)
