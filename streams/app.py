"""The Faust application, and nothing else (topics, tables and agents live elsewhere).

Settled on purpose (DESIGN.md §5):
- ``broker_session_timeout`` 10 s: the embedded broker answers a new group's first join after
  about half the session timeout (worker ready in ~6.5 s instead of ~31.5 s).
- ``stream_wait_empty=False``: with the default, a worker whose agent crashed mid-send ignored
  SIGTERM for minutes; without it, it stops within seconds.
"""

from __future__ import annotations

import faust

from streams import codecs
from streams.settings import get_settings

codecs.register()
settings = get_settings()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap or '127.0.0.1:9092'}",
    store=settings.table_store,
    datadir=str(settings.data_dir),
    topic_partitions=settings.partitions,
    topic_replication_factor=1,
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 5),
    stream_wait_empty=False,
    consumer_auto_offset_reset="earliest",
    web_host=settings.web_host,
    web_port=settings.web_port,
    web_in_thread=False,
    producer_linger=0.005,
    key_serializer="raw",
    value_serializer="raw",
)
