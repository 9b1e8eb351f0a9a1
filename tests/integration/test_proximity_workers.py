"""ENCOUNTER across partitions and workers: two workers (same app id) share 2 partitions of
every topic on the embedded broker; each pair of the scenario has its H3 ring on both
``mda.presence`` partitions, and still gives exactly one alert (open, then close)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mda.alerts import iso_utc, validate_message
from mda.model import RawLine
from mda.proximity import fan_out, home_cell
from replay.scenarios import ERIE_LAT, ERIE_LON, rules_encounter
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import topic_specs
from tests.integration.workers import spawn_worker, worker_env

PARTITIONS = 2


def start_worker(
    broker: EmbeddedBroker, prefix: str, tmp: Path, n: int, zones: Path
) -> subprocess.Popen[bytes]:
    env = worker_env(
        broker.bootstrap,
        app_id=f"proximity-{prefix}",
        prefix=prefix,
        partitions=PARTITIONS,
        data_dir=tmp / f"data{n}",
        MDA_ZONES=str(zones),
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
    workers = [start_worker(broker, prefix, tmp_path, i, scenario.zones_path) for i in (1, 2)]
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
