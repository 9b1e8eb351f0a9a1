"""Put recorded AIS files on ``ais.raw``: micro-batches keyed by source, paced by event time.

``speed=None`` is as fast as possible; ``speed=N`` replays N times faster than the recording's
own event-time progression (lines without a timestamp follow the last one seen).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import orjson
from kafka import KafkaProducer

from mda.lines import parse_line
from mda.model import RawLine, bounded, raw_batch_to_json
from replay.files import iter_raw_lines


def line_event_ms(text: str) -> int | None:
    """The event time a line carries (tag block, USCG field, prefix, ``$PGHP``), if any."""
    parsed = parse_line(text)
    if parsed.context_ms is not None:
        return parsed.context_ms
    return next((s.event_ms for s in parsed.sentences if s.event_ms is not None), None)


def batches(lines: Iterable[RawLine], size: int) -> Iterator[list[RawLine]]:
    batch: list[RawLine] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Pacer:
    """Sleeps so that event time advances ``speed`` times faster than the wall clock.

    Replay pacing is the one place where the wall clock is legitimately used: it only decides
    *when* a line is sent, never what any rule sees.
    """

    def __init__(self, speed: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.speed = speed
        self.sleep = sleep
        self.first_event_ms: int | None = None
        self.first_wall_s = 0.0

    def wait_for(self, event_ms: int | None) -> None:
        if self.speed is None or event_ms is None:
            return
        if self.first_event_ms is None:
            self.first_event_ms = event_ms
            self.first_wall_s = time.monotonic()
            return
        due = self.first_wall_s + (event_ms - self.first_event_ms) / 1000 / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            self.sleep(min(delay, 60.0))


def replay_file(
    producer: KafkaProducer,
    topic: str,
    path: Path,
    source: str,
    *,
    speed: float | None,
    batch_lines: int,
    on_lines: Callable[[int], None] | None = None,
) -> int:
    """Send every line of ``path`` to ``topic`` (key = source); returns the line count."""
    pacer = Pacer(speed)
    total = 0
    ingest_ms = int(time.time() * 1000)
    lines = iter_raw_lines(path, source=source, ingest_ms=ingest_ms)
    if speed is None:
        chunks: Iterable[list[RawLine]] = batches(lines, batch_lines)
    else:
        # Paced: one line at a time decides the timing, sent in small batches.
        chunks = _paced(lines, pacer, max(1, min(batch_lines, 50)))
    for batch in chunks:
        # A batch of long lines goes as several records, each small enough for any broker.
        for _, value in bounded(raw_batch_to_json, batch):
            producer.send(topic, key=source.encode(), value=value)
        total += len(batch)
        if on_lines:
            on_lines(len(batch))
    return total


def _paced(lines: Iterable[RawLine], pacer: Pacer, size: int) -> Iterator[list[RawLine]]:
    batch: list[RawLine] = []
    for line in lines:
        event_ms = line_event_ms(line.text)
        if event_ms is not None and batch:
            yield batch
            batch = []
        pacer.wait_for(event_ms)
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def eof_record(source: str, run_id: str) -> bytes:
    """The control record that follows a source's last line through every stage."""
    return orjson.dumps({"ctl": "eof", "run": run_id, "source": source})


def send_eof(producer: KafkaProducer, topic: str, source: str, run_id: str) -> None:
    """Send :func:`eof_record` after the source's lines."""
    producer.send(topic, key=source.encode(), value=eof_record(source, run_id))
