"""What ``mda replay`` reports: the lines the broker acknowledged and the lines that failed,
counted from the producer's futures (kafka-python's own Future, completed here as its I/O
thread would). Across a broker restart: test_faults.py and test_ingest.py."""

from __future__ import annotations

from kafka.errors import KafkaTimeoutError
from kafka.future import Future

from replay.producer import Deliveries


def test_acknowledged_and_failed_lines_are_counted() -> None:
    deliveries = Deliveries()
    futures = [Future() for _ in range(3)]
    for future, lines in zip(futures, (500, 20, 7), strict=True):
        deliveries.track(future, lines)
    assert (deliveries.delivered, deliveries.failed) == (0, 0)  # nothing answered yet
    futures[0].success("metadata")
    futures[1].failure(KafkaTimeoutError("Batch for ais.raw-0 expired"))
    futures[2].success("metadata")
    assert (deliveries.delivered, deliveries.failed) == (507, 20)
    assert deliveries.last_error == "KafkaTimeoutError: Batch for ais.raw-0 expired"
    futures.append(Future())
    deliveries.track(futures[-1], 1)
    futures[-1].failure(OSError("connection reset"))
    assert deliveries.failed == 21 and deliveries.last_error == "OSError: connection reset"


def test_a_future_answered_before_it_is_tracked_counts_too() -> None:
    deliveries = Deliveries()
    done = Future()
    done.success("metadata")
    deliveries.track(done, 12)
    assert deliveries.delivered == 12
