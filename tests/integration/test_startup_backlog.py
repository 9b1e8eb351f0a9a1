"""A worker that starts with a backlog on ais.reports hands every message to the track agent.

Faust resumes the stream partitions at the end of a table recovery, awaits the seek to the
committed offsets with flow already running, then resumes flow again, which empties the
agents' queues: the messages fetched during the seek were dropped, never delivered nor
acknowledged, and the fetch position was already past them (faust-streaming/faust#596;
``streams.app.FlowControl`` is the workaround). Without it, this test failed in 3 of 9 runs
(a run of consecutive offsets of each partition never handed to the agent); with it, 0 of 8.

Nothing is committed on ais.reports (flush interval of an hour), so the worker reads the
whole backlog: the track agent, which logs the offset of every message it is handed
(MDA_TRACE_OFFSETS), must be handed each of them.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
from kafka import KafkaProducer

from mda.model import RawLine
from replay.scenarios import great_lakes_demo, rules_border
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from streams.pipeline import DecodeStage
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import TopicNames, topic_specs
from tests.integration.workers import spawn_worker, worker_env

PARTITIONS = 2


def report_messages(prefix: str, batch_lines: int = 5) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of ais.reports messages, decoded from two scenarios."""
    names = TopicNames.from_settings(Settings(topic_prefix=prefix, partitions=PARTITIONS))
    stage = DecodeStage(names, PARTITIONS)
    out: list[tuple[int, bytes, bytes]] = []
    for scenario in (great_lakes_demo(), rules_border()):
        lines = scenario.lines
        for i in range(0, len(lines), batch_lines):
            recs = [
                RawLine(scenario.name, i + j, text, 0).to_dict()
                for j, text in enumerate(lines[i : i + batch_lines])
            ]
            for o in stage.handle(orjson.dumps({"lines": recs})):
                if o.topic == names.reports:
                    assert o.partition is not None
                    out.append((o.partition, o.key or b"", o.value))
    return out


def delivered(log: Path) -> dict[int, set[int]]:
    """The offsets of ais.reports the track agent was handed, by partition (from the worker's
    log: MDA_TRACE_OFFSETS)."""
    got: dict[int, set[int]] = {p: set() for p in range(PARTITIONS)}
    for m in re.finditer(rb"TRACK-OFFSET (\d+) (\d+)", log.read_bytes()):
        got[int(m[1])].add(int(m[2]))
    return got


def produce_backlog(broker: EmbeddedBroker, prefix: str) -> dict[int, int]:
    """Create the topics of ``prefix`` and put reports on its ais.reports; their number by
    partition."""
    ensure_topics(
        broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=PARTITIONS))
    )
    msgs = report_messages(prefix)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    for partition, key, value in msgs:
        producer.send(f"{prefix}ais.reports", key=key, value=value, partition=partition)
    producer.flush()
    producer.close()
    return {p: sum(1 for m in msgs if m[0] == p) for p in range(PARTITIONS)}


def start_and_trace(
    broker: EmbeddedBroker, app_id: str, prefix: str, log: Path, flush_s: str, ends: dict[int, int]
) -> dict[int, list[int]]:
    """Start a worker, wait until its track agent has been handed every offset below ``ends``
    or nothing more for 5 s, stop it; the offsets below ``ends`` it was not handed."""
    env = worker_env(
        broker.bootstrap,
        app_id=app_id,
        prefix=prefix,
        partitions=PARTITIONS,
        data_dir=log.with_suffix(".data"),
        MDA_TRACK_FLUSH_S=flush_s,
        MDA_TRACE_OFFSETS="1",
    )
    proc = spawn_worker(env, log)
    try:
        deadline = time.monotonic() + 40
        last, since = 0, time.monotonic()
        while time.monotonic() < deadline:
            got = delivered(log)
            if all(got[p] >= set(range(ends[p])) for p in got):
                break
            if sum(map(len, got.values())) != last:
                last, since = sum(map(len, got.values())), time.monotonic()
            elif last and time.monotonic() - since > 5:
                break
            time.sleep(0.25)
    finally:
        stop_process(proc)
    got = delivered(log)
    return {p: sorted(set(range(ends[p])) - got[p]) for p in got}


def test_worker_starting_with_a_backlog_delivers_every_message(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # The first worker fills the tracks changelog (flush after every message) from a backlog
    # on its own topics; the second, of the same app (so the same changelog), restores it
    # while a backlog waits on its topics, of which it commits nothing.
    app_id = f"backlog{free_port()}"
    fill, backlog = f"{app_id}-fill.", f"{app_id}-test."
    ends = produce_backlog(broker, fill)
    assert start_and_trace(broker, app_id, fill, tmp_path / "fill.log", "0", ends) == {0: [], 1: []}
    ends = produce_backlog(broker, backlog)
    missing = start_and_trace(broker, app_id, backlog, tmp_path / "worker.log", "3600", ends)
    assert missing == {0: [], 1: []}, (missing, (tmp_path / "worker.log").read_text()[-2000:])
