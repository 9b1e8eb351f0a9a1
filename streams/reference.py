"""ISPS reference data on Kafka: ``mda reference load DIR`` and the worker's side of it.

- ``mda reference load DIR`` validates the CSVs of DESIGN.md §7 (all or nothing, line-numbered
  errors) and publishes each record to its compacted topic: ``isps.facilities`` (key
  facility_id), ``isps.vessels`` (key MMSI, else ``IMO<imo>``), ``isps.notices`` (key
  notice_id), ``isps.advisory`` (key country). Values are JSON objects with the §7 column
  names (typed: numbers, booleans, lists); a tombstone (null value) deletes a key.
  ``--prune`` also tombstones keys on the topics that DIR no longer has.
- The worker reads the topics from the beginning when its track stage starts (the snapshot),
  and from then on one worker (the isps topics have one partition, in the consumer group)
  forwards each new record as a control record ``{"ctl": "reference", ...}`` to every
  ``ais.reports`` partition. Each partition's track agent applies it in its own partition, in
  order with the reports — so a MARSEC raise can update the vessels of that partition (table
  writes belong to an event of the vessel's partition) — and the source offset makes the
  snapshot and the forwarded copy of one record apply once.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from mda.errors import ReferenceDataError
from mda.isps import ReferenceData, load_reference_dir, record_key, record_to_json
from mda.model import MAX_MESSAGE_BYTES
from replay.producer import Deliveries, error_text
from streams.admin import ensure_topics
from streams.pipeline import Out
from streams.settings import Settings
from streams.topics import TopicNames, topic_specs

#: One reference record as read from a topic: (kind, key, JSON value or None, offset).
RefItem = tuple[str, str, Any, int]


def publishable(names: TopicNames, ref: ReferenceData) -> list[tuple[str, str, dict[str, Any]]]:
    """(topic, key, value) of every record of a reference set, in a stable order."""
    by_kind = {kind: topic for topic, kind in names.isps_topics().items()}
    out: list[tuple[str, str, dict[str, Any]]] = []
    groups: list[tuple[str, Any]] = [
        ("facility", ref.facilities),
        ("vessel", ref.vessels),
        ("notice", ref.notices),
        ("advisory", ref.advisories),
    ]
    for kind, records in groups:
        for key in sorted(records):
            record = records[key]
            assert record_key(record) == key
            out.append((by_kind[kind], key, record_to_json(record)))
    return out


def read_topics(bootstrap: str, names: TopicNames, timeout_s: float = 30.0) -> list[RefItem]:
    """Every record on the isps topics, from the beginning to the current end (compacted:
    the latest value of each key, possibly with older ones before it)."""
    kinds = names.isps_topics()
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000
    )
    try:
        existing = consumer.topics()
        tps = [
            TopicPartition(t, p)
            for t in kinds
            if t in existing
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        if not tps:
            return []
        ends = consumer.end_offsets(tps)
        wanted = {tp: end for tp, end in ends.items() if end > 0}
        if not wanted:
            return []
        consumer.assign(list(wanted))
        consumer.seek_to_beginning(*wanted)
        items: list[RefItem] = []
        done: set[TopicPartition] = set()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading the isps topics took over {timeout_s:.0f} s")
            batch = consumer.poll(timeout_ms=500)
            for tp, records in batch.items():
                for rec in records:
                    items.append(_item(kinds[tp.topic], rec.key, rec.value, rec.offset))
            for tp, end in wanted.items():
                if consumer.position(tp) >= end:
                    done.add(tp)
        # The embedded broker (Tansu) reports the end of a partition as its last batch's base
        # offset + 1 (see streams.admin.seal_changelogs): read on until a poll comes back empty.
        while True:
            batch = consumer.poll(timeout_ms=300)
            if not batch:
                return items
            for tp, records in batch.items():
                for rec in records:
                    items.append(_item(kinds[tp.topic], rec.key, rec.value, rec.offset))
    finally:
        consumer.close()


#: An isps record larger than this is refused unread (a real one is a few hundred bytes), so
#: that the control record carrying it stays under MAX_MESSAGE_BYTES.
MAX_RECORD_BYTES = MAX_MESSAGE_BYTES // 2
#: A key longer than this is no record's (identifiers are short): the record is refused.
MAX_KEY_BYTES = 1_000


def _item(kind: str, key: bytes | None, value: bytes | None, offset: int) -> RefItem:
    """One isps record as the track stage applies it. One that is not JSON, or too large, or
    whose key is too long, becomes ``{"__unreadable__": its first 200 characters}``, which
    the stage refuses and counts (``bad_reference_data``) like any invalid record."""
    raw_key = key or b""
    text = raw_key[:MAX_KEY_BYTES].decode("utf-8", "replace")
    if len(raw_key) <= MAX_KEY_BYTES and (value is None or len(value) <= MAX_RECORD_BYTES):
        if value is None:
            return (kind, text, None, offset)
        with contextlib.suppress(orjson.JSONDecodeError):
            return (kind, text, orjson.loads(value), offset)
    return (kind, text, {"__unreadable__": (value or b"")[:200].decode("utf-8", "replace")}, offset)


def forward(
    names: TopicNames,
    partitions: int,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    offset: int,
) -> list[Out]:
    """The control record that carries one isps record to every ais.reports partition."""
    kind, text, obj, off = _item(names.isps_topics()[topic], key, value, offset)
    ctl = orjson.dumps({"ctl": "reference", "kind": kind, "key": text, "value": obj, "offset": off})
    return [Out(names.reports, b"ctl", ctl, p) for p in range(partitions)]


def load(
    directory: Path, settings: Settings, *, prune: bool = False, connect_timeout_s: float = 60.0
) -> int:
    """``mda reference load DIR``: validate, then publish. Returns the exit code (a broker
    not reachable within ``connect_timeout_s``: 1, and a line that says so)."""
    try:
        ref = load_reference_dir(directory)
    except ReferenceDataError as exc:
        print(f"mda reference load: {directory} rejected, nothing published:", file=sys.stderr)
        print(exc.detail, file=sys.stderr)
        return 1
    if not settings.kafka_bootstrap:
        print("mda reference load needs MDA_KAFKA_BOOTSTRAP", file=sys.stderr)
        return 2
    names = TopicNames.from_settings(settings)
    try:
        ensure_topics(settings.kafka_bootstrap, topic_specs(settings), connect_timeout_s)
    except KafkaError as exc:
        print(
            f"mda reference load: broker {settings.kafka_bootstrap} not reachable in "
            f"{connect_timeout_s:.0f} s ({error_text(exc)}); nothing published",
            file=sys.stderr,
        )
        return 1
    records = publishable(names, ref)
    tombstones: list[tuple[str, str]] = []
    if prune:
        present = {(t, k) for t, k, _ in records}
        current = read_topics(settings.kafka_bootstrap, names)
        by_kind = {kind: topic for topic, kind in names.isps_topics().items()}
        latest: dict[tuple[str, str], Any] = {}
        for kind, key, value, _ in current:
            latest[(by_kind[kind], key)] = value
        tombstones = sorted(tk for tk, v in latest.items() if v is not None and tk not in present)
    # One record per batch (batch_size=0): exact end offsets on the embedded broker too.
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, batch_size=0, linger_ms=0, acks="all"
    )
    # Published means acknowledged: a record the broker did not take fails the command (an
    # officer must not read "published" over a MARSEC change that never arrived).
    deliveries = Deliveries()
    try:
        for topic, key, value in records:
            deliveries.track(producer.send(topic, key=key.encode(), value=orjson.dumps(value)), 1)
        for topic, key in tombstones:
            deliveries.track(producer.send(topic, key=key.encode(), value=None), 1)
        producer.flush()
    except KafkaError as exc:  # a send that could not start (the topic unknown for a minute)
        print(f"mda reference load: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        producer.close()
    if deliveries.failed:
        total = len(records) + len(tombstones)
        print(
            f"mda reference load: {deliveries.failed} of {total} records were not published "
            f"({deliveries.last_error}); run it again (records are keyed: publishing twice "
            "changes nothing)",
            file=sys.stderr,
        )
        return 1
    counts = {
        "facilities": len(ref.facilities),
        "vessels": len(ref.vessels),
        "notices": len(ref.notices),
        "advisories": len(ref.advisories),
    }
    print(
        "published "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + (f"; {len(tombstones)} deleted" if prune else "")
        + f" to {settings.kafka_bootstrap}"
    )
    if ref.zones:
        print(
            f"note: {len(ref.zones)} zone(s) of zones.geojson are not published; "
            "give workers the file with MDA_ZONES"
        )
    return 0
