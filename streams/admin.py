"""Topic administration with kafka-python (a synchronous client fits here)."""

from __future__ import annotations

import contextlib
import logging
import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.topics import TopicSpec

log = logging.getLogger(__name__)


#: One attempt to reach the broker (kafka-python's default, 30 s, left the log silent).
BOOTSTRAP_ATTEMPT_MS = 5_000


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float | None = 60.0) -> None:
    """Create missing topics (partitions, compaction); wait for the broker if it is not up.

    Waits at most ``timeout_s`` (``None``: as long as it takes, for long-running workers),
    logging every attempt.
    """
    started = time.monotonic()
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="mda-admin",
                bootstrap_timeout_ms=BOOTSTRAP_ATTEMPT_MS,
            )
            break
        except KafkaError as exc:
            waited_s = time.monotonic() - started
            if timeout_s is not None and waited_s > timeout_s:
                raise
            log.warning(
                "broker %s not reachable yet after %.0f s (%s); retrying", bootstrap, waited_s, exc
            )
            time.sleep(1.0)
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(
                s.name,
                s.partitions,
                1,
                topic_configs={"cleanup.policy": "compact"} if s.compacted else {},
            )
            for s in specs
            if s.name not in existing
        ]
        if new:
            # Another process may create the same topics concurrently: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
    finally:
        admin.close()


def seal_changelogs(bootstrap: str, topics: list[str], partitions: int) -> None:
    """Append a one-record batch (a tombstone of a sentinel key) to each changelog partition.

    The embedded broker (Tansu v0.6.0) reports a partition's end offset as the last batch's
    *base* offset + 1, so a Faust worker recovering a table stops before the later records of
    a multi-record batch and restores a stale value (measured: a vessel's side of the border
    two batches old). A trailing single-record batch makes the reported end exact; the
    tombstone of a key no vessel has changes nothing. Harmless on Apache Kafka.
    """
    from kafka import KafkaProducer  # local: only workers call this

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="mda-admin")
    try:
        existing = set(admin.list_topics())
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, batch_size=0, linger_ms=0)
    try:
        for topic in topics:
            if topic not in existing:
                continue
            for p in range(partitions):
                producer.send(topic, key=SENTINEL_KEY, value=None, partition=p)
                producer.flush()
    finally:
        producer.close()


#: JSON key of the changelog sentinel (no MMSI is a string).
SENTINEL_KEY = b'"__changelog_sentinel__"'
