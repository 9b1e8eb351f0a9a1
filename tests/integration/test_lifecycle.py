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
from streams.admin import ensure_topics
from streams.alert_topics import AlertTopicNames, partition_for_alert
from streams.alerts_cli import Filters, current_state, send_action, tail
from streams.broker import EmbeddedBroker, free_port
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import topic_specs
from tests.integration.workers import committed_offsets, spawn_worker, worker_env

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


def uncommitted(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Messages on ``topic`` that ``group`` has not committed yet.

    The end of each partition is the high watermark of a fetch: the embedded broker's
    ListOffsets answers its last batch's base offset + 1 (streams.admin.seal_changelogs).
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends: dict[int, int] = {}
        deadline = time.monotonic() + 10
        while len(ends) < partitions and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
            for tp in tps:
                hw = consumer.highwater(tp)
                if hw is not None:
                    ends[tp.partition] = hw
    finally:
        consumer.close()
    assert len(ends) == partitions, f"no high watermark for every partition of {topic}: {ends}"
    committed = committed_offsets(bootstrap, group, topic)
    return sum(end - committed.get(p, 0) for p, end in ends.items())


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
    ensure_topics(broker.bootstrap, topic_specs(settings))
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
        # Kill only once every input of the lifecycle is committed to its end: what is
        # uncommitted at a kill is processed again (at least once) and would count its
        # suppressed updates twice. Faust flushes the changelog before it commits.
        group = env["MDA_APP_ID"]
        inputs = (names.alerts, names.by_id, names.actions)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            behind = {t: uncommitted(broker.bootstrap, group, t, PARTITIONS) for t in inputs}
            if not any(behind.values()):
                break
            time.sleep(0.5)
        assert not any(behind.values()), behind
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


def records(
    broker: EmbeddedBroker, topic: str, partitions: int, idle_s: float = 2.0
) -> list[tuple[int, bytes | None, bytes | None]]:
    """(partition, key, value) of every record, tombstones (value None) included, in order."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out: list[tuple[int, bytes | None, bytes | None]] = []
    last = time.monotonic()
    while time.monotonic() - last < idle_s:
        for tp, batch in consumer.poll(timeout_ms=300).items():
            out += [(tp.partition, r.key, r.value) for r in batch]
            last = time.monotonic()
    consumer.close()
    return out


def scrape(port: int, name: str) -> float | None:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def test_closed_alerts_are_forgotten_after_the_retention(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """MDA_ALERT_RETENTION_S of event time after its close, an alert leaves the table (its
    changelog gets a tombstone in the alert's partition) and mda.alert-state gets a tombstone;
    an alert reopened before that, and an open one, stay."""
    prefix = f"lr{free_port()}."
    settings = Settings(topic_prefix=prefix, partitions=PARTITIONS)
    ensure_topics(broker.bootstrap, topic_specs(settings))
    names = AlertTopicNames.from_settings(settings)
    app_id = f"retention-{prefix}"
    web_port = free_port()
    env = worker_env(
        broker.bootstrap,
        app_id=app_id,
        prefix=prefix,
        partitions=PARTITIONS,
        data_dir=tmp_path / "data",
        web_port=web_port,
        MDA_ALERT_RETENTION_S="3600",
    )
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    minute = 60_000

    def send(mmsi: int, status: str, at_ms: int, **kw: Any) -> str:
        value = alert(status, at_ms, "CA", ["CAN"], mmsi=mmsi, **kw)
        producer.send(names.alerts, key=str(mmsi).encode(), value=value)
        return str(orjson.loads(value)["alert_id"])

    def state_of(alert_id: str, want: str, timeout_s: float = 60) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            shown = current_state(broker.bootstrap, names, alert_id)
            if shown is not None and shown["status"] == want:
                return shown
            time.sleep(0.5)
        return current_state(broker.bootstrap, names, alert_id)

    worker = spawn_worker(env, tmp_path / "worker.log")
    log = tmp_path / "worker.log"
    try:
        # Closed by the rule at T0 + 10 min: forgotten once event time passes T0 + 70 min.
        gone = send(316000001, "open", T0_MS)
        send(316000001, "closed", T0_MS + 10 * minute)
        # Closed by an officer at T0 + 15 min, reopened by an escalation at T0 + 20 min.
        kept = send(316000002, "open", T0_MS)
        still_open = send(316000003, "open", T0_MS)
        producer.flush()
        assert state_of(gone, "closed", 90) is not None, log.read_text()[-3000:]
        close = act(kept, "close", at=iso_utc(T0_MS + 15 * minute))
        answer = send_action(broker.bootstrap, names, close, wait_s=30)
        assert answer is not None and answer["state"]["status"] == "closed"
        send(316000002, "update", T0_MS + 20 * minute, severity="high")
        producer.flush()
        assert state_of(kept, "open") is not None
        # Event time moves on 2 h: new alerts on every partition (each partition is swept on
        # its own events).
        later = [send(367000000 + i, "open", T0_MS + 120 * minute) for i in range(8)]
        assert {partition_for_alert(a, PARTITIONS) for a in later} == set(range(PARTITIONS))
        producer.flush()
        deadline = time.monotonic() + 60
        while current_state(broker.bootstrap, names, gone) is not None:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        assert scrape(web_port, "mda_alert_states_expired_total") == 1.0
        # The table forgot it: an action on it is now an unknown alert.
        unknown = send_action(broker.bootstrap, names, act(gone, "ack"), wait_s=30)
        assert unknown is not None and unknown["rejected"]["reason"] == "unknown_alert"
        kept_state = current_state(broker.bootstrap, names, kept)
        assert kept_state is not None and kept_state["status"] == "open"
        open_state = current_state(broker.bootstrap, names, still_open)
        assert open_state is not None and open_state["status"] == "open"
    finally:
        stop_process(worker)
        producer.close()

    # mda.alert-state: the alert's last record is a tombstone, in the alert's partition.
    state_records = records(broker, names.state, PARTITIONS)
    (tomb,) = [(p, v) for p, k, v in state_records if k == gone.encode() and v is None]
    assert tomb[0] == partition_for_alert(gone, PARTITIONS)
    assert [v for p, k, v in state_records if k == gone.encode()][-1] is None
    # The table's changelog: the same, so a restarted worker does not bring it back.
    changelog = f"{app_id}-alert_state-changelog"
    table_key = orjson.dumps(gone)
    on_changelog = [(p, v) for p, k, v in records(broker, changelog, PARTITIONS) if k == table_key]
    assert on_changelog[-1] == (partition_for_alert(gone, PARTITIONS), None)
    assert all(p == partition_for_alert(gone, PARTITIONS) for p, _ in on_changelog)
