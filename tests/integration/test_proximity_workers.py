"""ENCOUNTER across partitions and workers: two workers (same app id) share 2 partitions of
every topic on the embedded broker; each pair of the scenario has its H3 ring on both
``mda.presence`` partitions, and still gives exactly one alert (open, then close)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mda.alerts import iso_utc, validate_message
from mda.model import RawLine
from mda.proximity import fan_out, home_cell
from replay.scenarios import ERIE_LAT, ERIE_LON, T0, rules_encounter
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from streams.runner import stop_process, wait_for_group
from streams.settings import Settings
from streams.topics import topic_specs
from tests.integration.test_worker import scrape
from tests.integration.workers import committed_offsets, spawn_worker, worker_env
from tests.unit.test_proximity_stage import track_end

PARTITIONS = 2


def start_worker(
    broker: EmbeddedBroker,
    group: str,
    prefix: str,
    tmp: Path,
    n: int,
    *,
    zones: Path | None = None,
    web_port: int | None = None,
) -> subprocess.Popen[bytes]:
    """Worker ``n`` of consumer group ``group`` (its data dir and log in ``tmp``)."""
    extra = {"MDA_ZONES": str(zones)} if zones is not None else {}
    env = worker_env(
        broker.bootstrap,
        app_id=group,
        prefix=prefix,
        partitions=PARTITIONS,
        data_dir=tmp / f"data{n}",
        web_port=web_port,
        **extra,
    )
    return spawn_worker(env, tmp / f"worker{n}.log")


def test_two_workers_give_one_alert_per_pair(broker: EmbeddedBroker, tmp_path: Path) -> None:
    scenario = rules_encounter()
    assert scenario.zones_path is not None
    # The drifting pair's ring covers both presence partitions: the pair is seen on both.
    assert len(fan_out(home_cell(ERIE_LAT, ERIE_LON), PARTITIONS)) == PARTITIONS
    prefix = f"prox{free_port()}."
    ensure_topics(
        broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=PARTITIONS))
    )
    workers = [
        start_worker(broker, f"proximity-{prefix}", prefix, tmp_path, i, zones=scenario.zones_path)
        for i in (1, 2)
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    alerts: list[dict[str, object]] = []
    try:
        time.sleep(15)  # both workers in the group before the data arrives
        recs = [RawLine("enc", i, t, 0).to_dict() for i, t in enumerate(scenario.lines, 1)]
        for i in range(0, len(recs), 40):
            producer.send(
                f"{prefix}ais.raw", key=b"enc", value=orjson.dumps({"lines": recs[i : i + 40]})
            )
        eof = {"ctl": "eof", "run": "prox", "source": "enc"}
        producer.send(f"{prefix}ais.raw", key=b"enc", value=orjson.dumps(eof))
        producer.flush()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
        tps = [TopicPartition(f"{prefix}mda.alerts", p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        eofs, deadline = 0, time.monotonic() + 180
        while eofs < 2 * PARTITIONS * PARTITIONS and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    msg = orjson.loads(rec.value)
                    if msg.get("ctl") == "eof":
                        eofs += 1
                    elif msg.get("rule") == "ENCOUNTER":
                        alerts.append(msg)
        consumer.close()
        assert eofs == 2 * PARTITIONS * PARTITIONS, (tmp_path / "worker1.log").read_text()[-3000:]
    finally:
        for w in workers:
            stop_process(w)
        producer.close()
    for a in alerts:
        assert validate_message(a) == [], a
    got = sorted((a["mmsi"], a["event_time"], a["severity"], a["status"]) for a in alerts)
    want = sorted(
        (e.mmsi, iso_utc(e.event_ms), e.severity, e.status)
        for e in scenario.expected
        if e.rule == "ENCOUNTER"
    )
    assert got == want
    assert len({a["alert_id"] for a in alerts if a["status"] == "open"}) == 4


def _proximity_ends(consumer: KafkaConsumer, want: int, timeout_s: float) -> list[dict[str, Any]]:
    """The proximity stage's end markers read from mda.alerts, until ``want`` or the timeout."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            for rec in records:
                msg = orjson.loads(rec.value)
                if msg.get("ctl") == "eof" and msg.get("stage") == "proximity":
                    got.append({**msg, "alerts_partition": rec.partition})
    return got


def test_a_half_received_end_is_read_again_by_the_next_worker(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """A source's end on a presence partition is the record of every track partition. The
    worker that has one of two keeps its offset uncommitted, so the worker after it (a
    restart here; a rebalance alike) reads it again and sends the end when the other comes.
    Before, the first was committed and the next worker waited for it forever: `mda run`
    with two workers hung on a rebalance between the two records. The messages after it
    wait with it: when they were acknowledged, Faust committed past it all the same."""
    prefix = f"held{free_port()}."
    presence = f"{prefix}mda.presence"
    group = f"held-{prefix}"
    ensure_topics(
        broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=PARTITIONS))
    )

    def start(n: int) -> subprocess.Popen[bytes]:
        return start_worker(broker, group, prefix, tmp_path, n)

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(f"{prefix}mda.alerts", p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    first = start(1)
    try:
        # Presence partition 0: half of source "s" (track partition 0's record, offset 0),
        # then a batch (offset 1) that waits with it: acknowledged, it would let Faust commit
        # past the record (faust-streaming/faust#606, streams.acks).
        # Partition 1: all of source "t", which shows the worker has read past it.
        producer.send(presence, key=b"ctl", value=track_end("s", 0, run="held"), partition=0)
        batch = orjson.dumps({"presence": [], "from": 1})
        producer.send(presence, key=b"x", value=batch, partition=0)
        for q in range(PARTITIONS):
            producer.send(presence, key=b"ctl", value=track_end("t", q, run="held"), partition=1)
        producer.flush()
        ends = _proximity_ends(consumer, PARTITIONS, 90)
        assert sorted((e["source"], e["presence_partition"]) for e in ends) == [("t", 1)] * 2
        # The commit that takes partition 1 past "t" leaves partition 0 before "s".
        deadline = time.monotonic() + 30
        while committed_offsets(broker.bootstrap, group, presence).get(1) != PARTITIONS:
            assert time.monotonic() < deadline, (tmp_path / "worker1.log").read_text()[-3000:]
            time.sleep(0.5)
        assert committed_offsets(broker.bootstrap, group, presence).get(0, 0) == 0
    finally:
        stop_process(first)
    assert committed_offsets(broker.bootstrap, group, presence).get(0, 0) == 0
    second = start(2)
    try:
        producer.send(presence, key=b"ctl", value=track_end("s", 1, run="held"), partition=0)
        producer.flush()
        ends = _proximity_ends(consumer, PARTITIONS, 90)
        log = (tmp_path / "worker2.log").read_text()[-3000:]
        assert sorted((e["source"], e["presence_partition"]) for e in ends) == [("s", 0)] * 2, log
        assert sorted(e["alerts_partition"] for e in ends) == list(range(PARTITIONS))
        # Both records of "s" are acknowledged now, and the batch between them: partition 0's
        # offset moves past them.
        deadline = time.monotonic() + 30
        while committed_offsets(broker.bootstrap, group, presence).get(0) != 3:
            assert time.monotonic() < deadline, log
            time.sleep(0.5)
    finally:
        stop_process(second)
        producer.close()
        consumer.close()


@pytest.mark.parametrize("mode", ["restart", "join"])
def test_the_next_worker_closes_the_encounter_the_last_one_opened(
    broker: EmbeddedBroker, tmp_path: Path, mode: str
) -> None:
    """Worker 1 opens the scenario's four encounters. Then, ``restart``: it stops and worker 2
    starts; ``join``: worker 2 joins the group and a partition moves to it (a rebalance).
    The rest of the input comes after. Worker 2 takes the open pairs of its partitions back
    from the checkpoint (the changelog of ``proximity_pairs``); the drifting pair is
    closed with the id worker 1 opened it with, by whichever worker holds it. Worker 1, in
    ``join``, keeps the state of the partition it keeps (it takes nothing back). Before,
    worker 2 started from empty vessel sets and pairs, and the close never came. (That none
    is opened again is shown by ``tests/unit/test_proximity.py``: here the input ends before
    a new open could come.)"""
    scenario = rules_encounter()
    assert scenario.zones_path is not None
    prefix = f"handover{free_port()}."
    group = f"handover-{prefix}"
    ensure_topics(
        broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=PARTITIONS))
    )
    ports = [free_port(), free_port()]

    def start(n: int) -> subprocess.Popen[bytes]:
        zones = scenario.zones_path
        return start_worker(broker, group, prefix, tmp_path, n, zones=zones, web_port=ports[n - 1])

    handover_s = (T0 + 25 * 60_000) // 1000  # 12:25, after the opens (12:20), before the close
    recs = [RawLine("enc", i, t, 0).to_dict() for i, t in enumerate(scenario.lines, 1)]
    k = next(i for i, t in enumerate(scenario.lines) if int(t.split("c:")[1][:10]) >= handover_s)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(f"{prefix}mda.alerts", p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    alerts: list[dict[str, Any]] = []

    def read_until(done: Any, timeout_s: float, log: Path) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            for records in consumer.poll(timeout_ms=500).values():
                alerts.extend(orjson.loads(r.value) for r in records)

    def send(lines: list[dict[str, Any]]) -> None:
        for i in range(0, len(lines), 40):
            value = orjson.dumps({"lines": lines[i : i + 40]})
            producer.send(f"{prefix}ais.raw", key=b"enc", value=value)
        producer.flush()

    def encounters(status: str) -> list[dict[str, Any]]:
        return [a for a in alerts if a.get("rule") == "ENCOUNTER" and a["status"] == status]

    workers = [start(1)]
    try:
        send(recs[:k])
        read_until(lambda: len(encounters("open")) == 4, 120, tmp_path / "worker1.log")
        if mode == "restart":
            stop_process(workers.pop())
        workers.append(start(2))
        if mode == "join":
            held = wait_for_group(workers, ports, PARTITIONS, timeout_s=120)
            assert sorted(held) == [[0], [1]], held
        send(recs[k:])
        producer.send(
            f"{prefix}ais.raw",
            key=b"enc",
            value=orjson.dumps({"ctl": "eof", "run": "handover", "source": "enc"}),
        )
        producer.flush()
        ends = lambda: sum(1 for a in alerts if a.get("stage") == "proximity")  # noqa: E731
        read_until(lambda: ends() == PARTITIONS * PARTITIONS, 120, tmp_path / "worker2.log")
        metrics = scrape(ports[1])
    finally:
        for w in workers:
            stop_process(w)
        producer.close()
        consumer.close()
    log = (tmp_path / "worker2.log").read_text()
    # Each open pair on each partition that held it (the owner and any other) that moved.
    taken = [int(n) for n in re.findall(r"proximity: (\d+) pair\(s\)", log)]
    if mode == "restart":
        assert 4 <= sum(taken) <= 4 * PARTITIONS, log[-3000:]
    else:  # one partition moved, and the drifting pair is held on both
        assert 1 <= sum(taken) <= 4, log[-3000:]
        assert "taken back" not in (tmp_path / "worker1.log").read_text()
    assert f"mda_encounters_restored_total {float(sum(taken))}" in metrics
    for a in alerts:
        if a.get("rule"):
            assert validate_message(a) == [], a
    got = sorted(
        (a["mmsi"], a["event_time"], a["severity"], a["status"])
        for a in encounters("open") + encounters("closed")
    )
    want = sorted(
        (e.mmsi, iso_utc(e.event_ms), e.severity, e.status)
        for e in scenario.expected
        if e.rule == "ENCOUNTER"
    )
    assert got == want, log[-3000:]
    (closed,) = encounters("closed")
    assert closed["alert_id"] in {a["alert_id"] for a in encounters("open")}
