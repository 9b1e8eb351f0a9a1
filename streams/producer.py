"""The producer of ``ais.raw`` (``mda ingest``, ``mda replay``): at least once, in order, and
still sending when the broker comes back.

kafka-python's producer is idempotent by default (since 2.1), and that producer turns fatal
when a broker comes back without its producer state (the embedded broker's memory storage, a
broker that lost its log): UnknownProducerId, then InitProducerId fails, and every send after
fails for good. Measured with ``mda ingest``: a 10 s broker restart lost every line received
after it, while the process ran on. Without idempotence a batch whose acknowledgement was lost
can be written twice; the track stage drops a transmission heard again (a duplicate), so
at least once is what the pipeline wants. One request in flight keeps a retried batch from
landing after the next one (a source's multipart fragments stay in order), and a delivery
timeout of 10 minutes carries the lines received during a broker outage over to when it is
back. They wait in the producer's memory (kafka-python 3 does not bound it): the timeout is
the bound, about 130 MB for 10 minutes of a 2,000 lines/s feed; a batch older than that
counts as failed.
"""

from __future__ import annotations

from typing import Any, Final

from kafka import KafkaProducer

#: How long a batch may wait for the broker before it counts as failed.
DELIVERY_TIMEOUT_MS: Final = 10 * 60 * 1000


def raw_producer(bootstrap: str, *, max_block_ms: int = 60_000, **overrides: Any) -> KafkaProducer:
    """A producer for ``ais.raw``. ``max_block_ms``: how long ``send`` may wait for the topic's
    metadata before it raises; a live receiver must not stop reading for long, a replay may
    wait."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "linger_ms": 5,
        "acks": "all",
        "enable_idempotence": False,
        "max_in_flight_requests_per_connection": 1,
        "delivery_timeout_ms": DELIVERY_TIMEOUT_MS,
        "max_block_ms": max_block_ms,
    }
    config.update(overrides)
    return KafkaProducer(**config)
