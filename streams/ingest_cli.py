"""``mda ingest udp://HOST:PORT | tcp://HOST:PORT``: a live receiver feed onto ``ais.raw``.

Runs until SIGTERM or SIGINT, then sends the last batch and exits within a second or two.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

import orjson

from mda.model import RawLine
from streams.settings import Settings


def cmd_ingest(args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    from replay.live import Batcher, parse_endpoint, run
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
    ensure_topics(settings.kafka_bootstrap, topic_specs(settings))
    topic = TopicNames.from_settings(settings).raw
    source = args.source or str(endpoint)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)

    def send(batch: list[RawLine]) -> None:
        value = orjson.dumps({"lines": [line.to_dict() for line in batch]})
        producer.send(topic, key=source.encode(), value=value)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    batcher = Batcher(source, send, batch_lines=settings.raw_batch_lines, max_delay_s=args.delay)
    try:
        run(endpoint, batcher, stop)
    finally:
        producer.flush(timeout=10)
        producer.close(timeout=5)
        c = batcher.counts
        print(
            f"mda ingest: {c.lines} lines in {c.batches} batches from {endpoint} "
            f"({c.datagrams} datagrams, {c.connections} connections, {c.bytes} bytes)",
            file=sys.stderr,
            flush=True,
        )
    return 0


def add_parser(sub: Any) -> None:
    """Register ``mda ingest`` on the top-level subcommands."""
    p = sub.add_parser("ingest", help="live NMEA from a UDP socket or TCP server onto ais.raw")
    p.add_argument("url", metavar="udp://HOST:PORT|tcp://HOST:PORT")
    p.add_argument("--source", help="source name, the ais.raw key (default: the URL)")
    p.add_argument(
        "--delay", type=float, default=0.2, metavar="S", help="longest wait to fill a batch"
    )
    p.set_defaults(func=cmd_ingest)
