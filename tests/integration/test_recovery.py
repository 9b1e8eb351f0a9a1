"""A worker SIGKILLed mid-run: its replacement recovers the track table from the changelog.

The scenario is replayed in two halves around the kill. The crossing in the second half can
only be recognised with the vessel's side from the first half, and the gap in the second half
only with the deadline rebuilt from the recovered track: both alert ids must still appear.
Duplicates of an id are allowed (messages processed but not committed before the kill are
processed again); losses are not.

The worker writes changed tracks to the table at most every ``MDA_TRACK_FLUSH_S`` (1 s
here) and acknowledges an ``ais.reports`` message only once the state it changed is written,
so no offset is committed ahead of the table: with a flush interval longer than the run,
nothing is committed on ``ais.reports`` (while ``ais.raw`` is) until an end-of-file record
makes the worker write its tracks.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mda.alerts import alert_id
from mda.model import RawLine
from replay.scenarios import rules_border
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import topic_specs
from tests.integration.workers import committed_offsets, spawn_worker, worker_env

PARTITIONS = 2


def start_worker(
    broker: EmbeddedBroker, prefix: str, tmp: Path, n: int, flush_s: str
) -> subprocess.Popen[bytes]:
    env = worker_env(
        broker.bootstrap,
        app_id=f"recovery-{prefix}",
        prefix=prefix,
        partitions=PARTITIONS,
        data_dir=tmp / f"data{n}",
        MDA_TRACK_FLUSH_S=flush_s,
    )
    return spawn_worker(env, tmp / f"worker{n}.log")


def send_lines(producer: KafkaProducer, topic: str, lines: list[str], first: int) -> None:
    recs = [RawLine("border", first + i, text, 0).to_dict() for i, text in enumerate(lines)]
    for i in range(0, len(recs), 50):
        producer.send(topic, key=b"border", value=orjson.dumps({"lines": recs[i : i + 50]}))
    producer.flush()


def alert_ids(broker: EmbeddedBroker, topic: str, want: set[str], timeout_s: float) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not want <= set(seen):
        for records in consumer.poll(timeout_ms=500).values():
            for rec in records:
                msg = orjson.loads(rec.value)
                if "alert_id" in msg:
                    seen.append(msg["alert_id"])
    consumer.close()
    return seen


def test_sigkilled_worker_is_replaced_without_losing_alerts(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    flush_s = "1"
    scenario = rules_border()
    prefix = f"rec{free_port()}."
    raw = f"{prefix}ais.raw"
    # The second crossing of the shuttle (high) and the runner's gap need first-half state.
    expected = {
        alert_id(e.rule, e.mmsi, None, e.event_ms) for e in scenario.expected if e.status == "open"
    }
    cut = len(scenario.lines) // 3  # before the shuttle's round trip and the runner's gap
    # Create the topics first: a client touching a missing topic would auto-create it with the
    # broker's default partition count.
    ensure_topics(
        broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=PARTITIONS))
    )
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    first = start_worker(broker, prefix, tmp_path, 1, flush_s)
    try:
        send_lines(producer, raw, scenario.lines[:cut], 0)
        early = {
            alert_id(e.rule, e.mmsi, None, e.event_ms)
            for e in scenario.expected
            if e.status == "open" and e.event_ms <= 1_780_315_200_000 + 8 * 60_000
        }
        assert early, "the first part must open an alert, to know it was processed"
        seen = alert_ids(broker, f"{prefix}mda.alerts", early, 90)
        assert early <= set(seen)
        time.sleep(4)  # let Faust commit offsets and flush the changelog
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop_process(first)
    second = start_worker(broker, prefix, tmp_path, 2, flush_s)
    try:
        send_lines(producer, raw, scenario.lines[cut:], cut)
        producer.send(
            raw,
            key=b"border",
            value=orjson.dumps({"ctl": "eof", "run": "rec", "source": "border"}),
        )
        producer.flush()
        seen = alert_ids(broker, f"{prefix}mda.alerts", expected, 120)
    finally:
        stop_process(second)
        producer.close()
    assert expected <= set(seen), (tmp_path / "worker2.log").read_text()[-3000:]


def end_offsets(broker: EmbeddedBroker, topic: str) -> dict[int, int]:
    """Per partition, the offset after the last record, found by reading them all (the
    embedded broker's reported end offset can stop short inside a multi-record batch)."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = dict.fromkeys(range(PARTITIONS), 0)
    empty = 0
    try:
        while empty < 3:
            batch = consumer.poll(timeout_ms=300)
            empty = 0 if batch else empty + 1
            for records in batch.values():
                for rec in records:
                    ends[rec.partition] = max(ends[rec.partition], rec.offset + 1)
    finally:
        consumer.close()
    return ends


def test_no_track_offset_is_committed_before_its_state_is_written(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    scenario = rules_border()
    prefix = f"unf{free_port()}."
    raw, reports = f"{prefix}ais.raw", f"{prefix}ais.reports"
    group = f"recovery-{prefix}"
    ensure_topics(
        broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=PARTITIONS))
    )
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    proc = start_worker(broker, prefix, tmp_path, 1, "3600")
    try:
        cut = len(scenario.lines) // 3
        send_lines(producer, raw, scenario.lines[:cut], 0)
        early = {
            alert_id(e.rule, e.mmsi, None, e.event_ms)
            for e in scenario.expected
            if e.status == "open" and e.event_ms <= 1_780_315_200_000 + 8 * 60_000
        }
        assert early <= set(alert_ids(broker, f"{prefix}mda.alerts", early, 90))
        time.sleep(6)  # two commit intervals
        # ais.raw is committed as usual; ais.reports not at all (its state is not written).
        assert committed_offsets(broker.bootstrap, group, raw), "ais.raw not committed yet"
        assert committed_offsets(broker.bootstrap, group, reports) == {}
        # An end-of-file record flushes every partition: now everything can be committed.
        producer.send(
            raw, key=b"border", value=orjson.dumps({"ctl": "eof", "run": "u", "source": "border"})
        )
        producer.flush()
        ends = end_offsets(broker, reports)
        deadline = time.monotonic() + 60
        while committed_offsets(broker.bootstrap, group, reports) != ends:
            log = (tmp_path / "worker1.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (ends, log)
            time.sleep(0.5)
            ends = end_offsets(broker, reports)
    finally:
        stop_process(proc)
        producer.close()
