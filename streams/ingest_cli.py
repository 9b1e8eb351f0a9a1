"""``mda ingest udp://HOST:PORT | tcp://HOST:PORT``: a live receiver feed onto ``ais.raw``.

Runs until SIGTERM or SIGINT, then sends the last batch and exits within a second or two.
With ``--metrics-port`` it serves Prometheus ``/metrics`` on ``MDA_WEB_HOST`` (the
``mda_ingest_*`` metrics of streams/metrics.py and the process metrics).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from functools import partial
from typing import Any

from mda.model import RawLine, bounded, raw_batch_to_json
from replay.live import IngestObserver
from streams import metrics
from streams.settings import Settings

log = logging.getLogger(__name__)


class PrometheusObserver(IngestObserver):
    """The receiver's events as ``mda_ingest_*`` metrics."""

    def __init__(self) -> None:
        self._connected_before = False

    def received(self, lines: int, nbytes: int) -> None:
        metrics.INGEST_LINES_RECEIVED.inc(lines)
        metrics.INGEST_BYTES_RECEIVED.inc(nbytes)

    def connect_attempt(self, ok: bool) -> None:
        metrics.INGEST_CONNECT_ATTEMPTS.labels(result="connected" if ok else "failed").inc()
        if ok:
            if self._connected_before:
                metrics.INGEST_RECONNECTS.inc()
            self._connected_before = True

    def connection(self, up: bool) -> None:
        metrics.INGEST_CONNECTED.set(1 if up else 0)


def _sent(lines: int, _metadata: Any) -> None:
    metrics.INGEST_LINES_SENT.inc(lines)


def _failed(lines: int, exc: BaseException) -> None:
    metrics.INGEST_LINES_FAILED.inc(lines)
    log.error("a batch of %d lines could not be sent to ais.raw: %s", lines, exc)


def cmd_ingest(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from replay.live import Batcher, parse_endpoint, run
    from replay.producer import raw_producer
    from streams.admin import ensure_topics
    from streams.topics import TopicNames, topic_specs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        endpoint = parse_endpoint(args.url)
    except ValueError as exc:
        print(f"mda ingest: {exc}", file=sys.stderr)
        return 2
    settings = Settings()
    if not settings.kafka_bootstrap:
        print("mda ingest needs MDA_KAFKA_BOOTSTRAP (the broker the workers use)", file=sys.stderr)
        return 2
    server = None
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        try:
            server, _ = start_http_server(
                args.metrics_port, addr=settings.web_host, registry=metrics.INGEST_REGISTRY
            )
        except OSError as exc:
            print(f"mda ingest: --metrics-port {args.metrics_port}: {exc}", file=sys.stderr)
            return 2
        log.info("metrics on http://%s:%d/metrics", settings.web_host, args.metrics_port)
    ensure_topics(settings.kafka_bootstrap, topic_specs(settings))
    topic = TopicNames.from_settings(settings).raw
    source = args.source or str(endpoint)
    # A feed: every receiver given the same name goes under it (one partition: one decoder
    # reads them in arrival order) and is, past decoding, one source with them.
    key = (args.feed or source).encode()
    build = partial(raw_batch_to_json, live=True, feed=args.feed)
    # The receiver must not stop reading for long (a UDP socket drops what it cannot hold): a
    # send that cannot go on (the topic's metadata unknown) waits a second at most, then
    # counts as failed.
    producer = raw_producer(settings.kafka_bootstrap, max_block_ms=1000)

    def send(batch: list[RawLine]) -> None:
        # A batch of long lines goes as several records, each small enough for any broker.
        for lines, value in bounded(build, batch):
            try:
                future = producer.send(topic, key=key, value=value)
            except KafkaError as exc:  # the topic unknown for max_block_ms, a record too large
                _failed(len(lines), exc)
                continue
            future.add_callback(_sent, len(lines))
            future.add_errback(_failed, len(lines))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    batcher = Batcher(
        source,
        send,
        batch_lines=settings.raw_batch_lines,
        max_delay_s=args.delay,
        observer=PrometheusObserver(),
    )
    try:
        run(endpoint, batcher, stop)
    finally:
        producer.flush(timeout=10)
        producer.close(timeout=5)
        if server is not None:
            server.shutdown()
        c = batcher.counts
        print(
            f"mda ingest: {c.lines} lines in {c.batches} batches from {endpoint} "
            f"({c.datagrams} datagrams, {c.connections} connections, "
            f"{c.connect_failures} failed connection attempts, {c.bytes} bytes)",
            file=sys.stderr,
            flush=True,
        )
    return 0


def add_parser(sub: Any) -> None:
    """Register ``mda ingest`` on the top-level subcommands."""
    p = sub.add_parser("ingest", help="live NMEA from a UDP socket or TCP server onto ais.raw")
    p.add_argument("url", metavar="udp://HOST:PORT|tcp://HOST:PORT")
    p.add_argument("--source", help="source name, the ais.raw key unless --feed (default: the URL)")
    p.add_argument(
        "--feed",
        metavar="NAME",
        help="receivers that are one feed: each `mda ingest` given the same NAME sends under "
        "it, and past decoding they are one source (one event-time clock; ENCOUNTER pairs "
        "vessels heard by different receivers); each receiver stays its own station",
    )
    p.add_argument(
        "--delay", type=float, default=0.2, metavar="S", help="longest wait to fill a batch"
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus /metrics on this port, on MDA_WEB_HOST (default: off)",
    )
    p.set_defaults(func=cmd_ingest)
