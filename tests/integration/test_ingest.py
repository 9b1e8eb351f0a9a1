"""Live ingest on loopback: a UDP sender and a TCP server replay real recordings through
``mda ingest`` onto ais.raw; every line arrives, in order, and decodes as the file does; its
``/metrics`` (``--metrics-port``) count what happened."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from mda.decode import Decoder
from mda.model import RawLine, raw_lines_from_wire
from replay.files import iter_raw_lines
from replay.live import Batcher, parse_endpoint, run_tcp
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port, start_broker
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import TopicNames, topic_specs
from tests.conftest import SHARED_DATA
from tests.integration.workers import paused
from tests.unit.test_compose import referenced_metric_names

SOCAL = SHARED_DATA / "ais_nmea" / "dma_socal_ais250.txt"
USCG = Path(__file__).parents[2] / "replay" / "data" / "noaadata_uscg_nais_2006-07-15.ais"


def file_lines(path: Path) -> list[str]:
    return [r.text for r in iter_raw_lines(path, ingest_ms=0) if r.text.strip()]


def raw_lines(
    broker: EmbeddedBroker,
    topic: str,
    want: int,
    timeout_s: float,
    keys: list[tuple[bytes, object]] | None = None,
) -> list[RawLine]:
    """The lines on ``topic``; each message must say they are live (stamped at receipt).
    ``keys``: each message's key and feed, if given."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or [0]]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out: list[RawLine] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < want and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=300).values():
            for rec in records:
                msg = orjson.loads(rec.value)
                assert msg.get("live") is True
                out += raw_lines_from_wire(msg)
                if keys is not None:
                    keys.append((rec.key, msg.get("feed")))
    consumer.close()
    return out


def decoded_types(lines: list[RawLine]) -> Counter[int]:
    decoder = Decoder()
    counts: Counter[int] = Counter()
    for line in lines:
        counts.update(decoder.feed(line).decoded_types)
    return counts


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample of ``http://127.0.0.1:PORT/metrics``: (name, sorted labels) → value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def scrape_until(port: int, done: Any, timeout_s: float = 30) -> Samples:
    """Scrape until ``done(samples)`` holds (the last scrape when time runs out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = scrape(port)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def spawn_ingest(
    url: str, env: dict[str, str], metrics_port: int, log_path: Path, *extra: str
) -> Any:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "ingest",
                url,
                "--metrics-port",
                str(metrics_port),
                *extra,
            ],
            env=env,
            stdout=log,
            stderr=log,
        )


def prepared(broker: EmbeddedBroker) -> tuple[str, str]:
    prefix = f"in{free_port()}."
    ensure_topics(broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=2)))
    return prefix, TopicNames.from_settings(Settings(topic_prefix=prefix)).raw


def test_udp_ingest_command_and_sigterm(broker: EmbeddedBroker, tmp_path: Path) -> None:
    prefix, topic = prepared(broker)
    port = free_port()
    metrics_port = free_port()
    env = {**os.environ, "MDA_KAFKA_BOOTSTRAP": broker.bootstrap, "MDA_TOPIC_PREFIX": prefix}
    log_path = tmp_path / "ingest.log"
    proc = spawn_ingest(f"udp://127.0.0.1:{port}", env, metrics_port, log_path)
    try:
        deadline = time.monotonic() + 30
        while b"listening on" not in log_path.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        lines = file_lines(SOCAL)
        sent_bytes = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            # A receiver's shape: a few sentences per datagram, CRLF-terminated.
            for i in range(0, len(lines), 3):
                chunk = "".join(f"{ln}\r\n" for ln in lines[i : i + 3]).encode()
                sender.sendto(chunk, ("127.0.0.1", port))
                sent_bytes += len(chunk)
                time.sleep(0.001)
        got = raw_lines(broker, topic, len(lines), 30)
        # /metrics: every line received and (once the broker acknowledged it) sent.
        samples = scrape_until(
            metrics_port,
            lambda m: value(m, "mda_ingest_lines_sent_total") >= len(lines),
        )
        assert value(samples, "mda_ingest_lines_received_total") == len(lines)
        assert value(samples, "mda_ingest_lines_sent_total") == len(lines)
        assert value(samples, "mda_ingest_lines_failed_total") == 0
        assert value(samples, "mda_ingest_bytes_received_total") == sent_bytes
        assert value(samples, "mda_ingest_connected") == 1  # bound
        assert value(samples, "mda_ingest_connect_attempts_total", result="connected") == 1
        assert value(samples, "mda_ingest_connect_attempts_total", result="failed") == 0
        assert value(samples, "mda_ingest_reconnects_total") == 0
        assert ("process_resident_memory_bytes", ()) in samples
        # What the dashboard and the alert rules use is what a real ingest serves.
        scraped = {name for name, _ in samples}
        wanted = {n for n in referenced_metric_names() if n.startswith("mda_ingest_")}
        assert len(wanted) >= 6 and wanted <= scraped, sorted(wanted - scraped)
        assert not any(n.startswith("mda_") and "ingest" not in n for n in scraped)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        stop_process(proc)
    assert [r.text for r in got] == lines
    assert {r.source for r in got} == {f"udp://127.0.0.1:{port}"}
    assert [r.line_no for r in got] == list(range(1, len(lines) + 1))
    now_ms = time.time() * 1000
    assert all(now_ms - 120_000 < r.ingest_ms <= now_ms for r in got)  # stamped at receipt
    assert decoded_types(got) == decoded_types(list(iter_raw_lines(SOCAL, ingest_ms=0)))
    assert f"{len(lines)} lines" in log_path.read_text()


def test_receivers_of_one_feed_send_under_its_name(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """``mda ingest --feed harbour``: two receivers' lines go under the key ``harbour``, each
    message naming the feed, each line its receiver's source (its station past decoding;
    the stages' side: ``test_live_receivers_of_one_feed_pair_the_vessels_each_hears``)."""
    prefix, topic = prepared(broker)
    env = {**os.environ, "MDA_KAFKA_BOOTSTRAP": broker.bootstrap, "MDA_TOPIC_PREFIX": prefix}
    lines = file_lines(SOCAL)[:40]
    procs = []
    try:
        for name in ("west", "east"):
            port = free_port()
            log_path = tmp_path / f"{name}.log"
            procs.append(
                spawn_ingest(
                    f"udp://127.0.0.1:{port}",
                    env,
                    free_port(),
                    log_path,
                    "--feed",
                    "harbour",
                    "--source",
                    name,
                )
            )
            deadline = time.monotonic() + 30
            while b"listening on" not in log_path.read_bytes():
                assert procs[-1].poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for ln in lines:
                    sender.sendto(f"{ln}\r\n".encode(), ("127.0.0.1", port))
                    time.sleep(0.001)
        keys: list[tuple[bytes, object]] = []
        got = raw_lines(broker, topic, 2 * len(lines), 30, keys)
    finally:
        for proc in procs:
            stop_process(proc)
    assert len(got) == 2 * len(lines)
    assert set(keys) == {(b"harbour", "harbour")}
    for name in ("west", "east"):
        assert [r.text for r in got if r.source == name] == lines


class DroppingServer:
    """A TCP server that streams a recording, dropping the first connection half-way."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        half = len(self.lines) // 2
        for part in (self.lines[:half], self.lines[half:]):
            conn, _ = self.sock.accept()
            self.connections += 1
            with conn:
                payload = "".join(f"{ln}\r\n" for ln in part).encode()
                for i in range(0, len(payload), 4096):  # arbitrary cuts, mid-line too
                    conn.sendall(payload[i : i + 4096])
        self.sock.close()


def test_tcp_ingest_reconnects_and_keeps_every_line(broker: EmbeddedBroker) -> None:
    _, topic = prepared(broker)
    lines = file_lines(USCG)
    server = DroppingServer(lines)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)

    def send(batch: list[RawLine]) -> None:
        value = orjson.dumps({"lines": [r.to_dict() for r in batch], "live": True})
        producer.send(topic, key=b"tcp-test", value=value)

    batcher = Batcher("tcp-test", send, batch_lines=100)
    stop = threading.Event()
    endpoint = parse_endpoint(f"tcp://127.0.0.1:{server.port}")
    thread = threading.Thread(target=run_tcp, args=(endpoint, batcher, stop), daemon=True)
    thread.start()
    try:
        server.thread.join(timeout=30)
        got = raw_lines(broker, topic, len(lines), 30)
    finally:
        stop.set()
        thread.join(timeout=5)
        producer.flush()
        producer.close()
    assert not thread.is_alive()
    assert server.connections == 2 and batcher.counts.connections == 2
    assert [r.text for r in got] == lines
    counts: Any = decoded_types(got)
    assert counts == decoded_types(list(iter_raw_lines(USCG, ingest_ms=0)))
    assert sum(counts.values()) > 800  # multipart type 5 counts once


@contextlib.contextmanager
def tcp_ingest(
    broker: EmbeddedBroker, lines: list[str], tmp_path: Path
) -> Iterator[tuple[str, Any, int, Path]]:
    """``mda ingest tcp://…`` reading a :class:`DroppingServer` that serves ``lines``, once
    the server has sent them all: (its ais.raw topic, the process, its metrics port, its
    log). The process is stopped on leaving."""
    prefix, topic = prepared(broker)
    server = DroppingServer(lines)
    metrics_port = free_port()
    env = {**os.environ, "MDA_KAFKA_BOOTSTRAP": broker.bootstrap, "MDA_TOPIC_PREFIX": prefix}
    log_path = tmp_path / "ingest.log"
    proc = spawn_ingest(f"tcp://127.0.0.1:{server.port}", env, metrics_port, log_path)
    try:
        server.thread.join(timeout=60)
        assert not server.thread.is_alive(), log_path.read_text()
        yield topic, proc, metrics_port, log_path
    finally:
        stop_process(proc)


def test_tcp_ingest_command_metrics_count_reconnects(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """``mda ingest tcp://…``: the server drops the first connection half-way, serves the rest
    on the second, then goes away; /metrics shows two connections (one reconnect), the
    refused attempts after, the state back at 0, and every line received and sent."""
    lines = file_lines(USCG)
    with tcp_ingest(broker, lines, tmp_path) as (topic, proc, metrics_port, log_path):
        got = raw_lines(broker, topic, len(lines), 30)
        assert [r.text for r in got] == lines
        samples = scrape_until(
            metrics_port,
            lambda m: (
                value(m, "mda_ingest_connect_attempts_total", result="failed") >= 1
                and value(m, "mda_ingest_lines_sent_total") >= len(lines)
            ),
        )
        assert value(samples, "mda_ingest_connect_attempts_total", result="connected") == 2
        assert value(samples, "mda_ingest_connect_attempts_total", result="failed") >= 1
        assert value(samples, "mda_ingest_reconnects_total") == 1
        assert value(samples, "mda_ingest_connected") == 0  # the server is gone
        assert value(samples, "mda_ingest_lines_received_total") == len(lines)
        assert value(samples, "mda_ingest_lines_sent_total") == len(lines)
        payload = "".join(f"{ln}\r\n" for ln in lines).encode()
        assert value(samples, "mda_ingest_bytes_received_total") == len(payload)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert "2 connections" in log_path.read_text()


def test_tcp_ingest_of_long_lines_sends_every_line(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Lines of 8,000 characters between the real ones: a 500-line batch would be a 2 MB
    record, which the producer refuses (before: ``mda ingest`` died of MessageSizeTooLargeError).
    It goes as several records under MAX_MESSAGE_BYTES; every line arrives, in order."""
    real = file_lines(USCG)[:300]
    lines = [ln for r in real for ln in (r, "!AIVDM,1,1,,A," + "Z" * 8_000 + ",0*00")]
    with tcp_ingest(broker, lines, tmp_path) as (topic, proc, metrics_port, log_path):
        got = raw_lines(broker, topic, len(lines), 30)
        assert [r.text for r in got] == lines
        samples = scrape_until(
            metrics_port, lambda m: value(m, "mda_ingest_lines_sent_total") >= len(lines)
        )
        assert value(samples, "mda_ingest_lines_sent_total") == len(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert "Traceback" not in log_path.read_text()


def test_ingest_carries_on_when_the_broker_comes_back(tmp_path: Path) -> None:
    """The broker stops while ``mda ingest`` receives, and a new one comes up on its port a
    few seconds later (the embedded broker keeps its log in memory, so its topics are made
    again). The lines received meanwhile are delivered once it is back, and so is every line
    after. Before, kafka-python's idempotent producer turned fatal on the new broker
    (UnknownProducerId, then InitProducerId failed): the process ran on and every later
    line failed."""
    port = free_port()
    prefix = f"comeback{port}."
    settings = Settings(topic_prefix=prefix, partitions=2)
    topic = TopicNames.from_settings(settings).raw
    broker = start_broker(port=port, log_path=tmp_path / "broker1.log")
    udp, metrics_port = free_port(), free_port()
    env = {**os.environ, "MDA_KAFKA_BOOTSTRAP": broker.bootstrap, "MDA_TOPIC_PREFIX": prefix}
    log_path = tmp_path / "ingest.log"
    proc = None
    try:
        ensure_topics(broker.bootstrap, topic_specs(settings))
        proc = spawn_ingest(f"udp://127.0.0.1:{udp}", env, metrics_port, log_path)
        deadline = time.monotonic() + 30
        while b"listening on" not in log_path.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        lines = file_lines(SOCAL)
        third = len(lines) // 3
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:

            def send(chunk: list[str]) -> None:
                for ln in chunk:
                    sender.sendto(f"{ln}\r\n".encode(), ("127.0.0.1", udp))
                    time.sleep(0.002)

            send(lines[:third])
            scrape_until(metrics_port, lambda m: value(m, "mda_ingest_lines_sent_total") >= third)
            broker.stop()
            send(lines[third : 2 * third])  # received while the broker is away
            time.sleep(5)
            # The new embedded broker starts without topics (memory storage; Kafka keeps
            # them): a produce that reaches it before they are made again fails with a
            # non-retriable UnknownError. The ingest waits, stopped, until the broker is back
            # as Kafka would be (what it has received waits in its producer).
            with paused(proc):
                broker = start_broker(port=port, log_path=tmp_path / "broker2.log")
                ensure_topics(broker.bootstrap, topic_specs(settings))
            send(lines[2 * third :])
        got = raw_lines(broker, topic, len(lines) - third, 60)
        assert [r.text for r in got] == lines[third:]  # all, in order, once
        samples = scrape_until(
            metrics_port, lambda m: value(m, "mda_ingest_lines_sent_total") >= len(lines)
        )
        assert value(samples, "mda_ingest_lines_sent_total") == len(lines)
        assert value(samples, "mda_ingest_lines_failed_total") == 0
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc is not None:
            stop_process(proc)
        broker.stop()
