"""Topic administration with kafka-python (a synchronous client fits here)."""

from __future__ import annotations

import contextlib
import logging
import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.topics import TopicSpec

log = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 60.0) -> None:
    """Create missing topics (partitions, compaction); wait for the broker if it is not up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="mda-admin")
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("broker %s not reachable yet (%s); retrying", bootstrap, exc)
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
