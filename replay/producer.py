"""Put recorded AIS files on ``ais.raw``: micro-batches, paced by event time.

One file goes under its source as key; several files given together are one feed, merged in
event-time order under one key (:func:`feed_lines`). ``speed=None`` is as fast as possible;
``speed=N`` replays N times faster than the feed's own event-time progression (lines without
a timestamp follow the last one seen; a CSV row's time is its time column; a jump of more than
an hour is not waited for, :data:`MAX_PACED_JUMP_MS`).

:func:`raw_producer` is the producer of ``ais.raw`` for ``mda replay``, ``mda run`` and
``mda ingest``: at least once, in order, and still sending when the broker comes back.
kafka-python's producer is idempotent by default (since 2.1), and that producer turns fatal
when a broker comes back without its producer state (the embedded broker's memory storage, a
broker that lost its log): UnknownProducerId, then InitProducerId fails, and every send after
fails for good. Measured with ``mda ingest``: a 10 s broker restart lost every line received
after it, while the process ran on. Without idempotence a batch whose acknowledgement was lost
can be written twice; the track stage drops a transmission heard again (a duplicate), so at
least once is what the pipeline wants. One request in flight keeps a retried batch from
landing after the next one (a source's multipart fragments stay in order), and a delivery
timeout of 10 minutes carries the lines sent during a broker outage over to when it is back.
They wait in the producer's memory (kafka-python 3 does not bound it): the timeout is the
bound, about 130 MB for 10 minutes of a 2,000 lines/s feed; a batch older than that counts as
failed (:class:`Deliveries`).
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

import orjson
from kafka import KafkaProducer

from mda.csv_reports import row_to_report
from mda.errors import DecodeError
from mda.lines import implausible_event_time, parse_line
from mda.model import RawLine, bounded, raw_batch_to_json
from replay.files import TruncatedInputError, iter_raw_lines

#: How long a batch may wait for the broker before it counts as failed.
DELIVERY_TIMEOUT_MS: Final = 10 * 60 * 1000


def raw_producer(bootstrap: str, *, max_block_ms: int = 60_000, **overrides: Any) -> KafkaProducer:
    """A producer for ``ais.raw`` (module docstring). ``max_block_ms``: how long ``send`` may
    wait for the topic's metadata before it raises; a live receiver must not stop reading for
    long, a replay may wait."""
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


class Deliveries:
    """Lines (or records) the broker acknowledged, and those whose record failed (after the
    producer's retries, :data:`DELIVERY_TIMEOUT_MS`), counted from the producer's callbacks,
    which run on its I/O thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.delivered = 0
        self.failed = 0
        self.last_error: str | None = None

    def track(self, future: Any, lines: int) -> None:
        """Count ``lines`` as delivered or failed when ``future`` (a ``producer.send``) is."""
        future.add_callback(self._delivered, lines)
        future.add_errback(self._failed, lines)

    def _delivered(self, lines: int, _metadata: Any) -> None:
        with self._lock:
            self.delivered += lines

    def _failed(self, lines: int, exc: BaseException) -> None:
        with self._lock:
            self.failed += lines
            self.last_error = error_text(exc)


def error_text(exc: BaseException) -> str:
    """``Name: text`` of an exception, once: kafka-python's errors put their class name in
    their text already."""
    name, text = type(exc).__name__, str(exc)
    return text if text.startswith(name) else f"{name}: {text}"


def line_event_ms(text: str) -> int | None:
    """The event time a line carries (tag block, USCG field, prefix, ``$PGHP``), if any."""
    parsed = parse_line(text)
    if parsed.context_ms is not None:
        return parsed.context_ms
    return next((s.event_ms for s in parsed.sentences if s.event_ms is not None), None)


def event_ms_of(line: RawLine) -> int | None:
    """The event time a line carries: :func:`line_event_ms`, or a CSV row's time column."""
    if line.csv_header is None:
        return line_event_ms(line.text)
    try:
        report, _ = row_to_report(line.csv_header, line.text, source=line.source)
    except DecodeError:
        return None
    return None if report is None else report.event_ms


def batches(lines: Iterable[RawLine], size: int) -> Iterator[list[RawLine]]:
    batch: list[RawLine] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


#: A jump in event time larger than this (either way) is not waited for: the pacing starts
#: again from the line after it. Files years apart replayed together (a 2006 recording and
#: today's) would otherwise wait years / speed; a corrupt time far ahead would hold the
#: rest of its file. Rules see event time only, so what is not waited for changes nothing.
MAX_PACED_JUMP_MS: Final = 3_600_000


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
        self.last_event_ms = 0

    def wait_for(self, event_ms: int | None) -> None:
        if self.speed is None or event_ms is None:
            return
        jump = abs(event_ms - self.last_event_ms)
        self.last_event_ms = event_ms
        if self.first_event_ms is None or jump > MAX_PACED_JUMP_MS:
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
    deliveries: Deliveries | None = None,
) -> int:
    """Send every line of ``path`` to ``topic`` (key = source); returns the line count.
    ``deliveries`` counts what the broker acknowledged (after a flush).

    A file that breaks off (a truncated or corrupt gzip) raises :class:`TruncatedInputError`
    only after every line read before the break has been sent: the caller reports it and
    carries on with the next file.
    """
    sent, broken = replay_files(
        producer,
        topic,
        [(path, source)],
        key=source,
        speed=speed,
        batch_lines=batch_lines,
        on_lines=on_lines,
        deliveries=deliveries,
    )
    if broken:
        raise broken[0]
    return sent


def replay_files(
    producer: KafkaProducer,
    topic: str,
    files: Sequence[tuple[Path, str]],
    *,
    key: str,
    speed: float | None,
    batch_lines: int,
    on_lines: Callable[[int], None] | None = None,
    deliveries: Deliveries | None = None,
) -> tuple[int, list[TruncatedInputError]]:
    """Send the lines of ``files`` (path, source) to ``topic`` as one feed, all under ``key``
    (so one partition, in this order): one file as it is, several merged in event-time order
    (:func:`feed_lines`), each message naming ``key`` as their feed. Returns the line count
    and the files that broke off (each after every line read before its break was sent)."""
    pacer = Pacer(speed)
    total = 0
    ingest_ms = int(time.time() * 1000)
    broken: list[TruncatedInputError] = []
    lines = feed_lines(files, ingest_ms, broken)
    if speed is None:
        chunks: Iterable[list[RawLine]] = batches(lines, batch_lines)
    else:
        # Paced: one line at a time decides the timing, sent in small batches.
        chunks = _paced(lines, pacer, max(1, min(batch_lines, 50)))
    encoded_key = key.encode()
    # Several files: each message names the feed, which past the decode stage is their one
    # source (one event-time clock; ENCOUNTER pairs vessels heard in different files).
    build = raw_batch_to_json if len(files) == 1 else partial(raw_batch_to_json, feed=key)
    for batch in chunks:
        # A batch of long lines goes as several records, each small enough for any broker.
        for rows, value in bounded(build, batch):
            future = producer.send(topic, key=encoded_key, value=value)
            if deliveries is not None:
                deliveries.track(future, len(rows))
        total += len(batch)
        if on_lines:
            on_lines(len(batch))
    return total, broken


def feed_key(sources: Sequence[str], run_id: str) -> str:
    """The ``ais.raw`` key of a replay of ``sources``: one file's source, or the run's feed,
    which is also the one source the stages after decoding see (:func:`send_end`)."""
    return sources[0] if len(sources) == 1 else f"{run_id}/feed"


def feed_lines(
    files: Sequence[tuple[Path, str]], ingest_ms: int, broken: list[TruncatedInputError]
) -> Iterator[RawLine]:
    """The lines of ``files`` (path, source) as one feed; a file that breaks off ends at its
    break, which is added to ``broken`` instead of raised.

    One file: its lines as they are. Several (the recordings of several receivers, or one
    receiver's files of consecutive hours): merged in event-time order, as they were heard,
    so a vessel that passes from one receiver's coverage to the next is tracked as it went.
    Replayed one after the other, the second file's reports of a vessel the first had carried
    on hearing were refused as late, and its silence in the first was a false AIS_GAP. Each
    file keeps its own order (a line is never moved before an earlier line of its file); a
    line is placed at its own event time (:func:`event_ms_of`) or, without one, at the last
    one its file gave (lines before a file's first time go with it; a file without any time
    goes first); ties go by file name (then path, then the order given), so the feed is the
    same in whatever order the files are given. A time that cannot be an event time
    (before 2000, after 2099, a day ahead of the run) places nothing: the decoder refuses it
    as ``bad_timestamp``.

    A file is opened when the feed reaches its first time (read ahead, the file closed
    again), and closed at its end: a day of hourly or minute files has the few that overlap
    open at once, not all of them (before, a run of thousands ran out of file handles).
    """
    if len(files) == 1:
        path, source = files[0]
        lines = _until_broken(iter_raw_lines(path, source, ingest_ms=ingest_ms), broken)
        first = _first_place(path, ingest_ms, FIRST_TIME_LOOKAHEAD)
        yield from (_stamped(lines, first, ingest_ms) if first else lines)
        return
    # Ties go by file name, so the feed and its alerts do not depend on the order the files
    # are given in (at equal times, the order decides which stations a tick says were heard).
    ranked = sorted(range(len(files)), key=lambda i: (files[i][0].name, str(files[i][0]), i))
    files = [files[i] for i in ranked]
    starts = sorted((_first_place(path, ingest_ms), i) for i, (path, _) in enumerate(files))
    # The feed's first time: the lines of a file without any time are dated by it.
    feed_first = next((start for start, _ in starts if start), 0)
    heap: list[tuple[int, int, int, RawLine, Iterator[tuple[int, int, int, RawLine]]]] = []
    opened = 0
    while True:
        # Open every file that starts no later than the feed's next line (a tie: the first
        # by name goes first), so the order is the merge of all files at once.
        while opened < len(starts) and (not heap or starts[opened][0] <= heap[0][0]):
            start, i = starts[opened]
            opened += 1
            path, source = files[i]
            lines = _timed(i, path, source, ingest_ms, broken, start, start or feed_first)
            first = next(lines, None)
            if first is not None:
                heapq.heappush(heap, (*first, lines))
        if not heap:
            return
        *_, line, lines = heapq.heappop(heap)
        yield line
        following = next(lines, None)
        if following is not None:
            heapq.heappush(heap, (*following, lines))


def _place_of(line: RawLine, ingest_ms: int) -> int | None:
    """The time that places ``line`` in a merged feed: its own, unless the decoder would
    refuse it."""
    event_ms = event_ms_of(line)
    if event_ms is None or implausible_event_time(event_ms, ingest_ms) is not None:
        return None
    return event_ms


def _first_place(path: Path, ingest_ms: int, max_lines: int | None = None) -> int:
    """Where a file starts in a merged feed: its first time, or 0 (first) without any (in
    its first ``max_lines`` lines, if given)."""
    lines = iter_raw_lines(path, ingest_ms=ingest_ms)
    try:
        for n, line in enumerate(lines, 1):
            place = _place_of(line, ingest_ms)
            if place is not None:
                return place
            if max_lines is not None and n >= max_lines:
                break
    except TruncatedInputError:
        pass  # (the break is counted when the file is read for the feed)
    finally:
        lines.close()  # the file, at once
    return 0


def _timed(
    index: int,
    path: Path,
    source: str,
    ingest_ms: int,
    broken: list[TruncatedInputError],
    start: int,
    stamp_ms: int,
) -> Iterator[tuple[int, int, int, RawLine]]:
    """The lines of one file of a merged feed as (place in time, file index, line number,
    line): distinct tuples, so the merge never compares two lines or two files. Lines before
    the file's first time are dated ``stamp_ms`` if they have to be (:func:`_stamped`)."""
    place = start
    lines = _until_broken(iter_raw_lines(path, source, ingest_ms=ingest_ms), broken)
    for line in _stamped(lines, stamp_ms, ingest_ms) if stamp_ms else lines:
        place = _place_of(line, ingest_ms) or place
        yield place, index, line.line_no, line


#: How far a replay of one file looks for its first time (lines), to date the lines before it.
FIRST_TIME_LOOKAHEAD = 100_000


def _stamped(lines: Iterable[RawLine], stamp_ms: int, ingest_ms: int) -> Iterator[RawLine]:
    """``lines``, the ones before the first line with a time of its own stamped as received
    at ``stamp_ms``: the recording's first time, not the replay's start (``ingest_ms``).

    A line without a time of its own is dated by its file's last time, or, before the file
    has given one, by its receipt (DESIGN.md §4); a replay's receipt is the moment it began.
    Before, an untimed line at the head of a recording (or a file without any time given with
    recordings) dated its vessel months or years after the rest, and the feed's clock with it:
    every other vessel was silent at once (one such line ahead of the Great Lakes scenario
    gave 317 false AIS_GAP, and its vessel's later reports were late)."""
    it = iter(lines)
    for line in it:
        if _place_of(line, ingest_ms) is not None:
            yield line
            break
        yield dataclasses.replace(line, ingest_ms=stamp_ms)
    yield from it


def _until_broken(lines: Iterator[RawLine], broken: list[TruncatedInputError]) -> Iterator[RawLine]:
    """``lines`` up to a break in the file, which is kept in ``broken`` instead of raised, so
    the lines read before it still make their (last, partial) batch."""
    try:
        yield from lines
    except TruncatedInputError as exc:
        broken.append(exc)


def _paced(lines: Iterable[RawLine], pacer: Pacer, size: int) -> Iterator[list[RawLine]]:
    batch: list[RawLine] = []
    for line in lines:
        event_ms = event_ms_of(line)
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


def eof_record(
    source: str,
    run_id: str,
    broken: TruncatedInputError | None = None,
    *,
    feed: str | None = None,
) -> bytes:
    """The control record that follows a source's last line through every stage. A source
    whose file broke off says so (``truncated``: the line where it stopped, and why): the
    decode stage rejects that as ``truncated_input``, counted with the source's other
    rejects. With ``feed``, the end of one file of that feed: the decode stage ends the file
    (its unfinished multipart messages, its break) and goes no further; the feed's own
    record, after every file's, ends the feed in every stage (:func:`send_end`)."""
    record: dict[str, object] = {"ctl": "eof", "run": run_id, "source": source}
    if broken is not None:
        record["truncated"] = {"line_no": broken.lines_read + 1, "detail": broken.detail}
    if feed is not None:
        record["feed"] = feed
    return orjson.dumps(record)


def send_end(
    producer: KafkaProducer,
    topic: str,
    sources: Sequence[str],
    run_id: str,
    broken: Mapping[str, TruncatedInputError],
    *,
    key: str,
) -> list[str]:
    """End a replay of the files ``sources`` sent under ``key`` (:func:`replay_files`), each
    file that broke off (``broken``, by source) saying where; returns the sources whose end
    the stages after decoding pass on (what ``mda run`` waits for): the file's, or the
    feed's. Several files: one record per file (``feed``: :func:`eof_record`), then the
    feed's, so a vessel's last reports from any file are tracked before the feed ends."""
    if len(sources) == 1:
        send_eof(producer, topic, sources[0], run_id, broken.get(sources[0]), key=key)
        return [sources[0]]
    for source in sources:
        send_eof(producer, topic, source, run_id, broken.get(source), key=key, feed=key)
    send_eof(producer, topic, key, run_id, key=key)
    return [key]


def send_eof(
    producer: KafkaProducer,
    topic: str,
    source: str,
    run_id: str,
    broken: TruncatedInputError | None = None,
    *,
    key: str | None = None,
    feed: str | None = None,
) -> None:
    """Send :func:`eof_record` after the source's lines, under their key (default: the
    source)."""
    value = eof_record(source, run_id, broken, feed=feed)
    producer.send(topic, key=(source if key is None else key).encode(), value=value)
