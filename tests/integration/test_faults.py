"""Faults on the embedded broker (issue 7), each with what was lost stated as a number.

- The broker is not up when the worker starts: the worker waits, says so in its log, connects
  once the broker listens, and processes a replay: 0 lines lost.
- The broker is restarted mid-run. The embedded broker keeps topics in memory, so a restart
  loses every topic and record (a property of the test broker, not of the pipeline; on Kafka
  the log survives): this can only show that the worker and a new producer reconnect and carry
  on with the data sent after the restart: 0 of those lines lost.
- SIGTERM: the worker stops within 10 s with its offsets on ais.raw committed up to the end
  (0 messages to re-process); ``mda replay`` stops within 10 s and every line it reports as
  sent is on ais.raw (0 lost).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mda.decode import Decoder
from mda.model import RawLine, raw_lines_from_wire
from replay.files import iter_raw_lines
from replay.scenarios import DATA_DIR, great_lakes_demo
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port, start_broker
from streams.pipeline import report_items
from streams.runner import python_process, stop_process
from streams.settings import Settings
from streams.topics import topic_specs
from tests.integration.test_worker import metric_value, scrape
from tests.integration.workers import committed_offsets, paused

PARTITIONS = 2
SCENARIO = DATA_DIR / "great_lakes_demo.nmea"


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll until ``predicate`` holds; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if predicate():
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def worker_ready_count(log: Path) -> int:
    """How many times the worker finished joining its group (Faust logs it per rebalance)."""
    return log.read_text(errors="replace").count("[^---Recovery]: Worker ready")


def lines_read(port: int) -> float:
    return metric_value(scrape(port), "mda_lines_read_total")


def settings_for(prefix: str) -> Settings:
    return Settings(topic_prefix=prefix, partitions=PARTITIONS)


@contextmanager
def worker(
    bootstrap: str, prefix: str, tmp: Path, name: str = "worker"
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """``mda worker`` on ``bootstrap``: (process, /metrics port, log path); stopped after."""
    port = free_port()
    env = {
        **os.environ,
        "MDA_KAFKA_BOOTSTRAP": bootstrap,
        "MDA_APP_ID": f"faults-{prefix.rstrip('.')}",
        "MDA_TOPIC_PREFIX": prefix,
        "MDA_WEB_PORT": str(port),
        "MDA_DATA_DIR": str(tmp / f"{name}-data"),
        "MDA_PARTITIONS": str(PARTITIONS),
    }
    log_path = tmp / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            yield proc, port, log_path
        finally:
            stop_process(proc)


@contextmanager
def spawn_replay(
    bootstrap: str, prefix: str, speed: int, out: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``mda replay SCENARIO --speed SPEED`` on ``bootstrap`` (its output in ``out``); stopped
    after the block if it still runs."""
    env = {
        **os.environ,
        "MDA_KAFKA_BOOTSTRAP": bootstrap,
        "MDA_TOPIC_PREFIX": prefix,
        "MDA_PARTITIONS": str(PARTITIONS),
    }
    args = ["streams.cli", "replay", str(SCENARIO), "--speed", str(speed)]
    with python_process(args, env, out) as proc:
        yield proc


def send_lines(bootstrap: str, topic: str, lines: list[str], source: str, first: int = 0) -> int:
    """Send ``lines`` in batches of 20 (a fresh producer); returns the number of lines sent."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        recs = [RawLine(source, first + i, t, 0).to_dict() for i, t in enumerate(lines)]
        key = source.encode()
        futures = [
            producer.send(topic, key=key, value=orjson.dumps({"lines": recs[i : i + 20]}))
            for i in range(0, len(recs), 20)
        ]
        producer.flush(timeout=30)
        for f in futures:
            f.get(timeout=30)  # a send that failed fails the test here, not as a "loss"
    finally:
        producer.close()
    return len(lines)


def log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def test_worker_waits_for_a_broker_that_is_not_up_yet(tmp_path: Path) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    prefix = f"late{port}."
    lines = great_lakes_demo().lines
    broker: EmbeddedBroker | None = None
    with worker(bootstrap, prefix, tmp_path) as (proc, web_port, log):
        try:
            time.sleep(10)
            assert proc.poll() is None, f"worker exited without a broker:\n{log_tail(log)}"
            assert "not reachable yet" in log.read_text(), log_tail(log)
            broker = start_broker(port=port, log_path=tmp_path / "broker.log")
            ensure_topics(bootstrap, topic_specs(settings_for(prefix)))
            wait_for(lambda: "mda_lines_read_total" in scrape(web_port), 60, "/metrics")
            sent = send_lines(bootstrap, f"{prefix}ais.raw", lines, "late")
            wait_for(lambda: lines_read(web_port) >= sent, 40, f"{sent} lines read")
            lost = sent - lines_read(web_port)
            print(f"late broker: worker waited 10 s, {sent} lines sent, {lost} lost")
            assert lost == 0
            assert proc.poll() is None
        finally:
            stop_process(proc)
            if broker is not None:
                broker.stop()


def test_worker_and_producer_carry_on_after_a_broker_restart(tmp_path: Path) -> None:
    port = free_port()
    prefix = f"restart{port}."
    raw = f"{prefix}ais.raw"
    lines = great_lakes_demo().lines
    half = len(lines) // 2
    broker = start_broker(port=port, log_path=tmp_path / "broker1.log")
    try:
        ensure_topics(broker.bootstrap, topic_specs(settings_for(prefix)))
        with worker(broker.bootstrap, prefix, tmp_path) as (proc, web_port, log):
            wait_for(lambda: "mda_lines_read_total" in scrape(web_port), 60, "/metrics")
            before = send_lines(broker.bootstrap, raw, lines[:half], "before")
            wait_for(lambda: lines_read(web_port) >= before, 40, "first half read")
            broker.stop()
            time.sleep(3)
            # The same port, a new (empty: memory storage) broker; topics made again.
            broker = start_broker(port=port, log_path=tmp_path / "broker2.log")
            ensure_topics(broker.bootstrap, topic_specs(settings_for(prefix)))
            # Sent once the worker is back in its group. The new log starts at offset 0, below
            # where the worker had read the old one; its seek after the rejoin sees a log that
            # ends before that and reads it from the start (streams/app.py). Lines written
            # while the worker is still away can meet its old position instead: a broker that
            # loses its log (memory storage) cannot be told from one that kept it once the new
            # log has grown past that offset. Kafka keeps its log on disk.
            wait_for(lambda: worker_ready_count(log) >= 2, 60, "the worker back in its group")
            after = send_lines(broker.bootstrap, raw, lines[half:], "after", half)
            try:
                wait_for(
                    lambda: lines_read(web_port) >= before + after,
                    50,
                    "lines sent after the restart",
                )
            except AssertionError as exc:
                read = lines_read(web_port)
                on_raw = raw_lines_on(broker.bootstrap, raw)
                raise AssertionError(
                    f"{exc}: {read:.0f} of {before} + {after} lines read, {on_raw} lines on "
                    f"{raw} after the restart\n{log_tail(log)}"
                ) from None
            assert proc.poll() is None
            # Every report of the lines sent after the restart reached ais.reports (at least
            # once: the group's offsets died with the broker, so a batch may be re-read).
            seen = report_keys(broker.bootstrap, f"{prefix}ais.reports")
            expected = expected_reports(lines, half)
            lost_after_restart = len(expected - set(seen))
            print(
                f"broker restart: {len(expected)} reports sent after it, "
                f"{lost_after_restart} lost, {len(seen) - len(set(seen))} duplicated"
            )
            assert lost_after_restart == 0, log_tail(log)
    finally:
        broker.stop()


def expected_reports(lines: list[str], half: int) -> set[tuple[int, int, str]]:
    """Reports of ``lines[half:]`` as the worker decodes them (after ``lines[:half]``)."""
    decoder = Decoder()
    out: set[tuple[int, int, str]] = set()
    for i, text in enumerate(lines):
        source = "before" if i < half else "after"
        for r in decoder.feed(RawLine(source, i, text, 0)).reports:
            if i >= half:
                out.add((r.mmsi, r.event_ms, r.dedup_key))
    return out


def read_all(bootstrap: str, topic: str) -> list[dict[str, object]]:
    """Every record of ``topic``, read from the beginning until 2 s pass without one.

    Not up to ``end_offsets``: the embedded broker reports a partition's end as the last
    batch's base offset + 1 (README, reliability notes), short of the true end after a
    multi-record batch.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out: list[dict[str, object]] = []
    empty = 0
    while empty < 4:
        batch = consumer.poll(timeout_ms=500)
        empty = 0 if batch else empty + 1
        for records in batch.values():
            for rec in records:
                out.append({"partition": rec.partition, "offset": rec.offset, "value": rec.value})
    consumer.close()
    return out


def report_keys(bootstrap: str, topic: str) -> list[tuple[int, int, str]]:
    keys = []
    for rec in read_all(bootstrap, topic):
        for d in report_items(orjson.loads(rec["value"])):  # type: ignore[arg-type]
            if "mmsi" in d:
                keys.append((d["mmsi"], d["event_ms"], d["dedup_key"]))
    return keys


def last_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the offset after the last record (found by reading every record)."""
    ends = dict.fromkeys(range(PARTITIONS), 0)
    for rec in read_all(bootstrap, topic):
        p, off = int(rec["partition"]), int(rec["offset"])  # type: ignore[call-overload]
        ends[p] = max(ends[p], off + 1)
    return ends


def test_sigterm_stops_worker_with_offsets_committed(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    prefix = f"term{free_port()}."
    raw = f"{prefix}ais.raw"
    ensure_topics(broker.bootstrap, topic_specs(settings_for(prefix)))
    lines = great_lakes_demo().lines
    with worker(broker.bootstrap, prefix, tmp_path) as (proc, web_port, log):
        wait_for(lambda: "mda_lines_read_total" in scrape(web_port), 60, "/metrics")
        # Several sources, so that both ais.raw partitions hold messages.
        sent = sum(send_lines(broker.bootstrap, raw, lines, f"src{i}") for i in range(4))
        wait_for(lambda: lines_read(web_port) >= sent, 40, "every line read")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        stop_s = time.monotonic() - started
    assert stop_s < 10
    committed = committed_offsets(broker.bootstrap, f"faults-{prefix.rstrip('.')}", raw)
    ends = last_offsets(broker.bootstrap, raw)
    assert all(ends.values()), ends  # both partitions had data
    to_reprocess = sum(end - committed.get(p, 0) for p, end in ends.items())
    print(f"worker SIGTERM: stopped in {stop_s:.1f} s, {to_reprocess} messages uncommitted")
    assert committed == ends, log_tail(log)


def raw_lines_on(bootstrap: str, topic: str) -> int:
    return sum(
        len(orjson.loads(rec["value"]).get("lines", []))  # type: ignore[arg-type]
        for rec in read_all(bootstrap, topic)
    )


def test_sigterm_stops_replay_with_every_sent_line_delivered(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    prefix = f"rterm{free_port()}."
    ensure_topics(broker.bootstrap, topic_specs(settings_for(prefix)))
    # The scenario spans hours of event time: at 100x it takes minutes, so SIGTERM lands
    # in the middle of it.
    out = tmp_path / "replay.out"
    with spawn_replay(broker.bootstrap, prefix, 100, out) as proc:
        time.sleep(8)
        assert proc.poll() is None, out.read_text()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        stop_s = time.monotonic() - started
    assert stop_s < 10
    text = out.read_text(errors="replace")
    m = re.search(r"replay stopped: (\d+) lines sent, (\d+) delivered", text)
    assert m, text
    reported = int(m.group(1))
    assert reported > 0 and int(m.group(2)) == reported
    lost = reported - raw_lines_on(broker.bootstrap, f"{prefix}ais.raw")
    print(f"replay SIGTERM: stopped in {stop_s:.1f} s, {reported} lines sent, {lost} lost")
    assert lost == 0


def test_replay_carries_on_when_the_broker_comes_back(tmp_path: Path) -> None:
    """``mda replay`` (paced) while the broker stops and a new one comes up on its port: the
    replay ends normally, every line acknowledged once, and the new broker holds the rest of
    the file in order. Before, kafka-python's idempotent producer turned fatal on the new
    broker and the rest of the replay was lost, with exit status 0."""
    port = free_port()
    prefix = f"rback{port}."
    broker = start_broker(port=port, log_path=tmp_path / "broker1.log")
    texts = [r.text for r in iter_raw_lines(SCENARIO, ingest_ms=0)]
    out = tmp_path / "replay.out"
    try:
        ensure_topics(broker.bootstrap, topic_specs(settings_for(prefix)))
        # 106 min of event time at 600x: about 11 s.
        with spawn_replay(broker.bootstrap, prefix, 600, out) as proc:
            time.sleep(3)
            broker.stop()
            time.sleep(3)  # the replay reads on and its producer holds what it sends
            # The new embedded broker starts without topics (memory storage; Kafka keeps
            # them): a produce that reaches it before they are made again fails with a
            # non-retriable UnknownError (1 line of 323 in 1 run of 5). The replay waits,
            # stopped, until the broker is back as Kafka would be.
            with paused(proc):
                broker = start_broker(port=port, log_path=tmp_path / "broker2.log")
                ensure_topics(broker.bootstrap, topic_specs(settings_for(prefix)))
            assert proc.wait(timeout=60) == 0, out.read_text(errors="replace")
        text = out.read_text(errors="replace")
        assert f"{len(texts)} lines, {len(texts)} delivered" in text, text
        after = [
            line.text
            for rec in read_all(broker.bootstrap, f"{prefix}ais.raw")
            for line in raw_lines_from_wire(orjson.loads(rec["value"]))  # type: ignore[arg-type]
        ]
        assert 0 < len(after) < len(texts)
        assert after == texts[len(texts) - len(after) :]  # the rest of the file, in order
    finally:
        broker.stop()
