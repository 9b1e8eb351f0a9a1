"""The stages of the pipeline as plain classes: bytes in, outgoing messages out.

Agents (``streams.agents``) only unpack Kafka events, call a stage and send what it returns;
the same stages run without Kafka in tests and in the in-process benchmark. Wire values are
orjson bytes:

- ``ais.raw``: ``{"fields": [name…], "lines": [row…]}`` (a micro-batch of one source, each
  line a row in the order ``fields`` names: :func:`~mda.model.raw_batch_to_json`; lines
  written as objects are read too), with ``"live": true`` from a live receiver (each line's
  ``ingest_ms`` is its receipt: a line dated further ahead of it than a minute, or with no
  plausible date, is dated by it), or a control record.
- ``ais.reports``: ``{"fields": [name…], "reports": [row… | tick]}``, one message per
  destination partition (``mmsi % partitions``) so track state stays co-partitioned without
  ``group_by``. A report is a row: its values in the order ``fields`` names
  (:data:`~mda.model.REPORT_FIELDS`; :func:`report_items` reads them back as objects). The
  track stage also reads reports written as objects (``{"reports": [{field: value}…]}``, the
  form before rows, and handy in tests). Ticks
  ``{"tick": event_ms, "source": …, "stations": {station: last heard}}`` go to every
  partition in order with the reports (the event-time watermark and station liveness).
- ``mda.presence``: ``{"fields": [name…], "presence": [row | tick], "from": track partition}``,
  each position fanned out to its H3 res-7 cell and ring, one record per destination
  partition (``crc32(cell) % partitions``), consumed by :mod:`streams.proximity`. A record
  is a row in the order ``fields`` names (:data:`~mda.proximity.PRESENCE_ROW`); records
  written as objects are read too. A record names no cells (``cells`` null: the receiver
  knows which cells of the ring it hosts), except ``[]`` to a partition that hosted the
  vessel's previous ring but none of the new one (forget it).
- ``ais.rejected``: ``{"rejects": [reject…]}``, every reject of one input batch and source
  (reason, detail, source, line number, raw text, event time when known), key = source.
- ``mda.alerts``: one ``mda.alert/1`` object per message, key = MMSI.
- no message is larger than :data:`~mda.model.MAX_MESSAGE_BYTES` (512 KiB): a batch whose
  message would be is sent as several, each a run of its rows in order
  (:func:`~mda.model.bounded`), so a batch of long lines (rejects carry their text) is never
  a record the producer or the broker refuses.
- control records ``{"ctl": "eof", "run": …, "source": …}`` follow a source's last line
  through every stage (to every partition), carrying per-stage counts, so ``mda run`` knows
  when every line has been processed and the alerts drained.
- a feed: several files merged into one (``replay.producer.feed_lines``), or the live
  receivers given one ``mda ingest --feed``, each ``ais.raw`` batch naming it (``"feed":
  name``). The decode stage decodes each file or receiver as itself (its station, its
  multipart messages, its rejects) and passes the reports on as the feed's (``source`` the
  feed): one clock, one set of vessels, pairs across files. A file's end (``{"ctl": "eof",
  "source": file, "feed": name}``) stops there; the feed's own end goes on.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter
from typing import Any

import orjson

from mda.alerts import Finding, to_message
from mda.decode import Decoder, Retimed
from mda.errors import DecodeError, MdaError, ReferenceDataError, RejectReason
from mda.geo import releasability
from mda.isps import ReferenceData, geography_with, record_from_json, record_key, same_geometry
from mda.model import (
    REPORT_FIELDS,
    REPORT_ROW_CHECK,
    ROW_EVENT_MS,
    ROW_MMSI,
    ROW_SOURCE,
    ROW_STATION,
    Reject,
    Report,
    ReportRow,
    bounded,
    raw_lines_from_wire,
    report_from_row,
)
from mda.proximity import (
    PRESENCE_CELLS,
    PRESENCE_ROW,
    fan_out,
    home_cell,
    is_exempt,
    presence_row,
)
from mda.rules.context import RuleContext
from mda.rules.isps import facility_event
from mda.state import VesselTrack
from mda.track import check_silence, silence_deadline_ms, step
from streams.topics import TopicNames, partition_for_mmsi

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Out:
    """One message to send: topic, key, value, and the partition when it must be explicit."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None


def _reports_message(rows: list[Any]) -> bytes:
    """An ``ais.reports`` message: report rows (REPORT_FIELDS order) and ticks, in order."""
    return orjson.dumps({"fields": REPORT_FIELDS, "reports": rows})


def _rejects_message(items: list[dict[str, Any]]) -> bytes:
    """An ``ais.rejected`` message: ``{"rejects": [reject…]}``."""
    return orjson.dumps({"rejects": items})


#: Event-time resolution of the watermark ticks the decode stage sends to every partition.
#: It bounds how long a quiet partition's watermark trails the input, and how much the
#: proximity stage buffers (one span between ticks, from every track partition): at 3,300
#: lines/s a 60 s span held ~200,000 reports' presences (~400 MB); 10 s holds a sixth of it.
#: A tick costs one small item per partition (and per presence partition) per source.
TICK_MS = 10_000


def fields_of(msg: dict[str, Any]) -> list[str] | None:
    """A batch's column names (``None``: it names none); not a list of names: ``BAD_MESSAGE``."""
    fields = msg.get("fields")
    if fields is not None and (type(fields) is not list or not all(type(f) is str for f in fields)):
        raise DecodeError(RejectReason.BAD_MESSAGE, "'fields' is not a list of column names")
    return fields


_INT = frozenset({int})


def tick_ok(d: dict[str, Any]) -> bool:
    """A tick item is ours: an int event time, a source, and the stations heard, if any, as
    ``{station: int event time}`` (~0.1 µs; ticks outnumber reports in sparse feeds)."""
    if type(d.get("tick")) is not int or type(d.get("source")) is not str:
        return False
    stations = d.get("stations")
    return stations is None or (
        type(stations) is dict and (not stations or set(map(type, stations.values())) <= _INT)
    )


def tick_problem(d: dict[str, Any]) -> str | None:
    """What is wrong with a tick item (``None``: nothing): :func:`tick_ok`, saying why."""
    if type(d.get("tick")) is not int:
        return "a tick whose 'tick' is not an int event time"
    if type(d.get("source")) is not str:
        return "a tick without a string 'source'"
    if not tick_ok(d):
        return "a tick whose 'stations' is not {station: int event time}"
    return None


def report_items(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a decoded ``ais.reports`` message as objects: each report as
    ``{field: value}`` (rows named by the message's ``fields``), each tick as it is.

    For readers of the topic other than the track stage (tools, tests, benchmarks).
    """
    fields = msg.get("fields")
    return [
        dict(zip(fields, d, strict=True)) if type(d) is list and fields is not None else d
        for d in msg.get("reports", ())
    ]


def _eof_of(msg: dict[str, Any]) -> bool:
    return msg.get("ctl") == "eof"


#: The fields a control record must carry, by kind (``ctl``), each with its JSON type.
_CTL_FIELDS: dict[str, tuple[tuple[str, type], ...]] = {
    "eof": (("source", str),),
    "reference": (("kind", str), ("key", str)),
}
#: The fields a control record may carry, with the JSON type they must have when it does.
_CTL_OPTIONAL: dict[str, tuple[tuple[str, type], ...]] = {
    "eof": (
        ("final_tick", dict),
        ("reports_partition", int),
        ("truncated", dict),
        ("feed", str),
    ),
    "reference": (("offset", int),),
}


def read_object(value: bytes) -> dict[str, Any]:
    """A message's JSON object; not JSON, or not an object, is a ``BAD_MESSAGE``."""
    try:
        msg = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(RejectReason.BAD_MESSAGE, f"not JSON ({exc})") from exc
    if type(msg) is not dict:
        raise DecodeError(RejectReason.BAD_MESSAGE, f"a JSON {type(msg).__name__}, not an object")
    return msg


#: How much of a refused message its ``ais.rejected`` record shows (characters).
REFUSED_CHARS = 1_000


def refusal(stage: str, event: Any, exc: MdaError, rejected_topic: str) -> Out:
    """The ``ais.rejected`` record of a message a stage refused (``BAD_MESSAGE``), logged: the
    topic as its source, the offset as its line number, where it was and why as its detail,
    its first :data:`REFUSED_CHARS` characters as its raw text. The agent counts it and goes
    on with the next message."""
    m = event.message
    where = f"{m.topic}[{m.partition}]@{m.offset}"
    log.warning("%s stage: message %s refused: %s", stage, where, exc)
    value = event.value
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
    reject = Reject(
        exc.reason.value, f"{where}: {exc.detail}", m.topic, m.offset, raw[:REFUSED_CHARS]
    )
    key = m.key if isinstance(m.key, bytes) else None
    return Out(rejected_topic, key, _rejects_message([reject.to_dict()]))


#: What a stage does with the rows of a batch that fail their check: the row's index and why.
BadRows = list[tuple[int, str]]


def bad_rows_out(
    stage: str,
    topic: str,
    partition: int,
    offset: int | None,
    items: list[Any],
    bad: BadRows,
    rejected_topic: str,
) -> list[Out]:
    """The ``ais.rejected`` records of the rows of one message that a stage skipped (logged
    once per message): the topic as their source, the offset as their line number, the row's
    index and what is wrong as their detail, the row (its first :data:`REFUSED_CHARS`
    characters) as their raw text."""
    where = f"{topic}[{partition}]@{offset if offset is not None else '?'}"
    log.warning(
        "%s stage: %d row(s) of message %s skipped; row %d: %s",
        stage,
        len(bad),
        where,
        bad[0][0],
        bad[0][1],
    )
    rejects = [
        Reject(
            RejectReason.BAD_MESSAGE.value,
            f"{where} row {i}: {why}",
            topic,
            -1 if offset is None else offset,
            orjson.dumps(items[i], default=repr).decode()[:REFUSED_CHARS],
        ).to_dict()
        for i, why in bad
    ]
    return [
        Out(rejected_topic, topic.encode(), value)
        for _, value in bounded(_rejects_message, rejects)
    ]


def read_message(value: bytes, items: str, ctls: tuple[str, ...] = ("eof",)) -> dict[str, Any]:
    """A pipeline message as orjson reads it: an object with a list under ``items`` (a batch),
    or a control record of one of the kinds ``ctls`` with the fields it needs.

    Anything else (not JSON, not an object, no such list, an unknown or incomplete control
    record: another program writing to the topic) raises a ``BAD_MESSAGE``
    :class:`~mda.errors.DecodeError`, which the agent counts, forwards to ``ais.rejected``
    and skips; the stage's state is untouched. A few type checks per message.
    """
    msg = read_object(value)
    ctl = msg.get("ctl")
    if ctl is None:
        if type(msg.get(items)) is not list:
            raise DecodeError(RejectReason.BAD_MESSAGE, f"no {items!r} list and no 'ctl'")
        return msg
    if ctl not in ctls:
        raise DecodeError(RejectReason.BAD_MESSAGE, f"control record {ctl!r} not expected here")
    for name, kind in _CTL_FIELDS.get(ctl, ()):
        if type(msg.get(name)) is not kind:
            detail = f"control record {ctl!r} without a {kind.__name__} {name!r}"
            raise DecodeError(RejectReason.BAD_MESSAGE, detail)
    for name, kind in _CTL_OPTIONAL.get(ctl, ()):
        if name in msg and type(msg[name]) is not kind:
            detail = f"control record {ctl!r} whose {name!r} is not a {kind.__name__}"
            raise DecodeError(RejectReason.BAD_MESSAGE, detail)
    final = msg.get("final_tick")
    if final is not None and (why := tick_problem(final)) is not None:
        raise DecodeError(RejectReason.BAD_MESSAGE, f"control record {ctl!r}: {why}")
    return msg


def _type_name(msg_type: int) -> str:
    """The counter label of a message type (``str``, interned for the usual ones)."""
    return _TYPE_NAMES.get(msg_type) or str(msg_type)


_TYPE_NAMES = {t: str(t) for t in range(64)}


@dataclass
class DecodeCounts:
    lines: int = 0
    decoded: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    #: Live lines dated by their receipt (a wrong clock: ``Decoder.feed(live=True)``).
    retimed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "decoded": dict(self.decoded),
            "rejected": dict(self.rejected),
            "retimed": self.retimed,
        }


_source_of = attrgetter("source")

#: Wrong clocks (live lines dated by their receipt) the decode stage remembers and logs once.
MAX_WRONG_CLOCKS = 1024


class DecodeStage:
    """ais.raw → ais.reports (batched per MMSI partition) + ais.rejected."""

    def __init__(self, topics: TopicNames, partitions: int) -> None:
        self.topics = topics
        self.partitions = partitions
        # Rows: the form ais.reports carries (no Report object built to be taken apart).
        self.decoder = Decoder(rows=True)
        # Per source: the last event-time tick sent to every ais.reports partition, and the
        # stations heard since (station → last event time), which ride on the next tick.
        self.tick_ms: dict[str, int] = {}
        self.stations: dict[str, dict[str, int]] = defaultdict(dict)
        self.counts: dict[str, DecodeCounts] = defaultdict(DecodeCounts)
        self.last_rejects: list[Reject] = []
        self.last_decoded_types: list[int] = []
        self.last_lines = 0
        self.last_retimed = 0
        #: Clocks (source, station) whose live lines were dated by their receipt (a time
        #: ahead of it, or no plausible date), and of the last message those found for the
        #: first time (one line each, for the operator's log).
        self.wrong_clocks: set[tuple[str, str | None]] = set()
        self.last_new_wrong_clocks: list[Retimed] = []

    def handle(self, value: bytes) -> list[Out]:
        """One ``ais.raw`` message; a message that is not a batch of lines (or whose lines
        cannot be read) raises a ``BAD_MESSAGE`` :class:`~mda.errors.DecodeError` before any
        state changes (:func:`read_message`)."""
        msg = read_message(value, "lines")
        if _eof_of(msg):
            return self._eof(msg)
        feed = msg.get("feed")
        if feed is not None and (type(feed) is not str or not feed):
            raise DecodeError(RejectReason.BAD_MESSAGE, "a batch whose 'feed' is not a name")
        try:
            raws = raw_lines_from_wire(msg)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise DecodeError(
                RejectReason.BAD_MESSAGE, f"a line that is not a line record ({exc!r})"
            ) from exc
        # Reports travel as rows (REPORT_FIELDS order, named in the message), ticks as objects.
        by_partition: dict[int, list[Any]] = defaultdict(list)
        rejects: list[Reject] = []
        decoded_types: list[int] = []
        lines = msg["lines"]
        live = msg.get("live") is True
        self.last_retimed = 0
        self.last_new_wrong_clocks = []
        # A run of lines of one source (a whole batch, as our producers write them) goes
        # through the decoder into one result and is counted once. The lines of a feed
        # (several files merged, or receivers of one --feed) are decoded per file or receiver
        # and counted, ticked and passed on as the feed's (_route).
        for source, run in groupby(raws, key=_source_of):
            raws = list(run)
            result = self.decoder.feed_many(raws, live=live)
            owner = feed or source  # whose counts and clock these lines are
            counts = self.counts[owner]
            counts.lines += len(raws)
            if result.retimed:
                counts.retimed += len(result.retimed)
                self._wrong_clocks(result.retimed)
            decoded_types += result.decoded_types
            rejects += result.rejects
            decoded = counts.decoded
            for msg_type, n in Counter(result.decoded_types).items():
                decoded[_type_name(msg_type)] += n
            counts.rejected.update(r.reason for r in result.rejects)
            rows = result.rows if feed is None else _of_feed(result.rows, feed, source)
            self._route(owner, rows, by_partition)
        self.last_rejects = rejects
        self.last_decoded_types = decoded_types
        self.last_lines = len(lines)
        out = [
            Out(self.topics.reports, b"batch", value, p)
            for p, reports in sorted(by_partition.items())
            for _, value in bounded(_reports_message, reports)
        ]
        out += self._rejects_out(rejects)
        return out

    def _wrong_clocks(self, retimed: list[Retimed]) -> None:
        """Count retimed lines; note each wrong clock the first time (up to
        :data:`MAX_WRONG_CLOCKS` clocks, so input inventing stations cannot flood the log)."""
        self.last_retimed += len(retimed)
        known = self.wrong_clocks
        for r in retimed:
            clock = (r.source, r.station)
            if clock not in known and len(known) < MAX_WRONG_CLOCKS:
                known.add(clock)
                self.last_new_wrong_clocks.append(r)

    def _route(
        self, source: str, rows: list[ReportRow], by_partition: dict[int, list[Any]]
    ) -> None:
        """Append report ``rows`` (of ``source``, in order) to their partitions' batches, with
        the ticks their event times call for, and note the stations heard."""
        heard = self.stations[source]
        partitions = self.partitions
        for row in rows:
            event_ms = row[ROW_EVENT_MS]
            station = row[ROW_STATION] or row[ROW_SOURCE]
            if event_ms > heard.get(station, 0):
                heard[station] = event_ms
            if self._tick(source, event_ms, by_partition):
                heard = self.stations[source]
            by_partition[partition_for_mmsi(row[ROW_MMSI], partitions)].append(row)

    def _tick(self, source: str, event_ms: int, by_partition: dict[int, list[Any]]) -> bool:
        """Tell every partition that this source's event time has reached ``event_ms``.

        Ticks (one per ``TICK_MS`` of event time) travel in order with the reports, so each
        track partition's watermark advances with the input even when none of its own
        vessels is heard, and each learns which receiving stations are alive — the same way
        at any replay speed and any batch size.
        """
        last = self.tick_ms.get(source)
        if last is not None and event_ms < last + TICK_MS:
            return False
        self.tick_ms[source] = event_ms
        tick = {"tick": event_ms, "source": source, "stations": self.stations.pop(source, {})}
        for p in range(self.partitions):
            by_partition[p].append(tick)
        return True

    def _rejects_out(self, rejects: list[Reject]) -> list[Out]:
        """One ``ais.rejected`` message per source of the batch: ``{"rejects": [reject…]}``.

        Per message, not per reject: a receiver that interleaves its own GPS and compass
        sentences (a fifth of the lines of the DMA recordings) would otherwise cost the worker
        a send (~50 µs) for every such line.
        """
        by_source: dict[str, list[dict[str, Any]]] = {}
        for r in rejects:
            by_source.setdefault(r.source, []).append(r.to_dict())
        return [
            Out(self.topics.rejected, source.encode(), value)
            for source, items in by_source.items()
            for _, value in bounded(_rejects_message, items)
        ]

    def _eof(self, msg: dict[str, Any]) -> list[Out]:
        source = msg["source"]
        # The source's last rejects: its unfinished multipart messages, and its break if its
        # file broke off.
        pending = self.decoder.flush(source)
        broken = _broken_off(msg, source)
        if broken is not None:
            pending.append(broken)
        self.last_rejects = pending
        self.last_decoded_types = []
        self.last_lines = 0
        self.last_retimed = 0
        self.last_new_wrong_clocks = []
        feed = msg.get("feed")
        if feed is not None:
            # One file of a feed: its rejects are counted with the feed's, and nothing goes
            # further (the feed's own record, which follows every file's, ends it everywhere).
            self.counts[feed].rejected.update(r.reason for r in pending)
            return self._rejects_out(pending)
        last_tick = self.tick_ms.pop(source, None)
        heard = self.stations.pop(source, {})
        c = self.counts.pop(source, DecodeCounts())
        c.rejected.update(r.reason for r in pending)
        # The final tick: stations heard since the last one, at the source's last event time.
        final = {
            "tick": max([last_tick or 0, *heard.values()]),
            "source": source,
            "stations": heard,
        }
        ctl = orjson.dumps({**msg, "decode": c.to_dict(), "final_tick": final})
        return self._rejects_out(pending) + [
            Out(self.topics.reports, b"ctl", ctl, p) for p in range(self.partitions)
        ]


def _of_feed(rows: list[ReportRow], feed: str, source: str) -> list[ReportRow]:
    """The report rows of ``source``, one file or receiver of ``feed``, as the feed's: their
    source the feed (its clock, its vessels, its pairs), their station, when their lines name
    none, ``source`` (each receiver, or its recording, is its own station, as when alone)."""
    out: list[ReportRow] = []
    for row in rows:
        values = list(row)
        values[ROW_STATION] = values[ROW_STATION] or source
        values[ROW_SOURCE] = feed
        out.append(tuple(values))
    return out


def _broken_off(msg: dict[str, Any], source: str) -> Reject | None:
    """The ``truncated_input`` reject of a source whose file broke off (its end-of-file
    record's ``truncated``: where and why), or None."""
    t = msg.get("truncated")
    if t is None:
        return None
    line_no, detail = t.get("line_no"), t.get("detail")
    return Reject(
        reason=RejectReason.TRUNCATED_INPUT.value,
        detail=detail if type(detail) is str else "the file broke off",
        source=source,
        line_no=line_no if type(line_no) is int else 0,
        raw="",
    )


def _forward_tick(
    presence: dict[int, list[Any]], runs: dict[int, tuple[str, int, int]], tick: dict[str, Any]
) -> None:
    """Append a tick (one object, shared) to every presence partition's batch, except that of
    a run of a source's ticks with nothing between them only the first and the last are sent.

    The proximity stage reads a tick as "this sending partition has passed this event time":
    the first tick after a sender's presences closes their span (and its time orders them),
    the last of the message is how far the sender has got, and it releases spans only once
    the message is read. So the ticks in between change nothing there; in a sparse feed
    (ticks every 10 s of event time, few reports) they were 60% of the items sent
    (bench corpus: 156,416 tick items for 102,676 presences; 81,965 are left).
    ``runs``: per partition, (source, index of the run's last tick, ticks in the run).
    """
    source = tick["source"]
    for p, items in presence.items():
        run = runs.get(p)
        if run is not None and run[0] == source and run[1] == len(items) - 1:
            if run[2] >= 2:
                items[-1] = tick  # the run's last tick so far becomes one in between: dropped
                continue
            runs[p] = (source, len(items), 2)
        else:
            runs[p] = (source, len(items), 1)
        items.append(tick)


@dataclass
class TrackCounts:
    reports: int = 0
    duplicates: int = 0
    late: int = 0
    vessels: set[int] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reports": self.reports,
            "duplicates": self.duplicates,
            "late": self.late,
            "vessels": len(self.vessels),
        }


#: ``TrackStage.pending`` marks a vessel whose track was dropped (expired) with this.
_DELETED = None


class TrackStage:
    """ais.reports → mda.alerts (+ mda.presence), keeping per-MMSI state in ``tracks``.

    ``tracks`` is the changelog-backed Faust table in the worker (a dict in tests). The table
    write, not the report, is the unit of persistence cost, so changed tracks wait in
    ``pending`` (hot state, per ``ais.reports`` partition; every read looks there first) and
    are written to ``tracks`` once per vessel when the partition is flushed: after a message
    of that partition once ``flush_interval_s`` (wall clock: persistence only, no rule sees
    it) has passed since its last flush, after every control record, and when more than
    ``flush_max_vessels`` wait (``flush_interval_s=0``, the default: after every message);
    the worker also flushes a quiet partition once it is :meth:`due`. ``last_flushed`` tells
    whether the last ``handle`` flushed its partition: the worker acknowledges a partition's
    messages (so their offsets can be committed) only then — a committed offset never runs
    ahead of the state in the table, and a crash costs the reprocessing of the unflushed
    messages, not their state.
    """

    def __init__(
        self,
        topics: TopicNames,
        partitions: int,
        ctx: RuleContext,
        tracks: MutableMapping[int, VesselTrack],
        flush_interval_s: float = 0.0,
        flush_max_vessels: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topics = topics
        self.partitions = partitions
        self.ctx = ctx
        self.tracks = tracks
        self.flush_interval_s = flush_interval_s
        self.flush_max_vessels = flush_max_vessels
        self._clock = clock
        # Per partition: changed tracks not yet written to ``tracks`` (_DELETED: dropped).
        self.pending: dict[int, dict[int, VesselTrack | None]] = defaultdict(dict)
        self._flushed_at: dict[int, float] = {}
        # Per partition: vessels created minus vessels dropped among the pending changes.
        self._born: dict[int, int] = defaultdict(int)
        self.last_flushed = False
        self.table_writes = 0
        # Event-time watermark per (partition, source): recordings replayed in separate runs
        # may lie years apart, so one's time must not silence another's vessels (the files of
        # one run are one source, their feed: the decode stage's ``_of_feed``).
        self.watermarks: dict[tuple[int, str], int] = {}
        # AIS_GAP: per (partition, source), a heap of (deadline_ms, mmsi) checked as the
        # watermark passes, with at most one live entry per vessel (``scheduled``): a report
        # that moves a deadline later does not push; the entry, when it comes due, is
        # rescheduled to the vessel's actual deadline. Memory follows vessels, not reports.
        self.deadlines: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        self.scheduled: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
        # Track expiry: the same scheme, one live entry per vessel at last_ms + track_ttl_s.
        self.expiries: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        self.expiry_scheduled: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
        self.expired = 0
        # Per partition: when any vessel was last heard through each station (event time),
        # learnt from the ticks in order with the data, so the answer never depends on how
        # the partitions interleave.
        self.station_heard_ms: dict[int, dict[str, int]] = defaultdict(dict)
        self.counts: dict[tuple[str, int], TrackCounts] = defaultdict(TrackCounts)
        self.last_findings: list[Finding] = []
        self.last_lags_s: list[float] = []
        self.last_duplicates = 0
        self.recovered: set[int] = set()
        # ISPS reference records applied (kind, key) → source offset: the start-up snapshot and
        # the forwarded copy of a record (one per partition) change the context once.
        self.reference_offsets: dict[tuple[str, str], int] = {}
        self.reference_rejects = 0
        self.last_bad_rows = 0

    def handle(self, value: bytes, partition: int, offset: int | None = None) -> list[Out]:
        """One ``ais.reports`` message of ``partition`` (at ``offset``, which the records of
        skipped rows name); one that is not a batch or a control record of ours raises a
        ``BAD_MESSAGE`` :class:`~mda.errors.DecodeError` before any state changes
        (:func:`read_message`). A row or tick of a batch that is not one of ours is skipped
        before it touches any state, counted in ``last_bad_rows`` and shown on
        ``ais.rejected``; the rest of the batch is processed."""
        self.last_bad_rows = 0
        msg = read_message(value, "reports", ("eof", "reference"))
        if partition not in self.recovered:
            self._recover_deadlines(partition)
        if _eof_of(msg):
            out = self._eof(msg, partition)
            self.flush(partition)
            return out
        if msg.get("ctl") == "reference":
            out = self._reference(msg, partition)
            self.flush(partition)
            return out
        out = self._reports(msg, partition, offset)
        self._maybe_flush(partition)
        return out

    def _maybe_flush(self, partition: int) -> None:
        # A partition's interval starts with its first message (or its last flush).
        self._flushed_at.setdefault(partition, self._clock())
        if self.due(partition):
            self.flush(partition)
        else:
            self.last_flushed = False

    def due(self, partition: int) -> bool:
        """Whether the partition's changes are due to be written (interval or size)."""
        waiting = self.pending.get(partition)
        since = self._flushed_at.get(partition)
        return (
            self.flush_interval_s <= 0
            or (waiting is not None and len(waiting) >= self.flush_max_vessels)
            or since is None
            or self._clock() - since >= self.flush_interval_s
        )

    def flush(self, partition: int) -> int:
        """Write the partition's changed tracks to ``tracks`` (one write per vessel)."""
        waiting = self.pending.pop(partition, {})
        for mmsi, track in waiting.items():
            if track is _DELETED:
                if mmsi in self.tracks:
                    del self.tracks[mmsi]
            else:
                self.tracks[mmsi] = track
        self.table_writes += len(waiting)
        self._born.pop(partition, None)
        self._flushed_at[partition] = self._clock()
        self.last_flushed = True
        return len(waiting)

    def flush_all(self) -> int:
        """Flush every partition (in-process use; a worker flushes per partition)."""
        return sum(self.flush(p) for p in list(self.pending))

    def drop(self, partition: int) -> None:
        """Forget a partition this stage no longer holds (revoked in a rebalance).

        Its unflushed changes are discarded, not written: the messages that made them were not
        acknowledged, so the partition's next owner processes them again from the committed
        offset, on the state in the table. Everything else learnt from those messages goes
        too (watermarks, station liveness, deadlines): afterwards the stage holds the partition
        as a fresh worker would, and rebuilds its deadlines from the table if it comes back.
        """
        self.pending.pop(partition, None)
        self._born.pop(partition, None)
        self._flushed_at.pop(partition, None)
        self.recovered.discard(partition)
        self.station_heard_ms.pop(partition, None)
        books: tuple[dict[tuple[int, str], Any], ...] = (
            self.watermarks,
            self.deadlines,
            self.scheduled,
            self.expiries,
            self.expiry_scheduled,
        )
        for book in books:
            for key in [k for k in book if k[0] == partition]:
                del book[key]

    def get(self, mmsi: int) -> VesselTrack | None:
        """The vessel's current track: unflushed changes first, then the table."""
        for waiting in self.pending.values():  # the few partitions this worker holds
            if mmsi in waiting:
                return waiting[mmsi]
        return self.tracks.get(mmsi)

    def vessel_count(self) -> int:
        """How many vessels have a track (the table's count corrected by the pending changes)."""
        return len(self.tracks) + sum(self._born.values())

    def items(self) -> list[tuple[int, VesselTrack]]:
        """Every current track (the table overlaid with the unflushed changes)."""
        merged: dict[int, VesselTrack | None] = dict(self.tracks.items())
        for waiting in self.pending.values():
            merged.update(waiting)
        return [(k, t) for k, t in merged.items() if t is not None]

    def _store(self, partition: int, changed: dict[int, VesselTrack]) -> None:
        if changed:
            self.pending[partition].update(changed)

    def _reports(self, msg: dict[str, Any], partition: int, offset: int | None) -> list[Out]:
        changed: dict[int, VesselTrack] = {}
        findings: list[Finding] = []
        presence: dict[int, list[Any]] = {p: [] for p in range(self.partitions)}
        runs: dict[int, tuple[str, int, int]] = {}
        lags: list[float] = []
        duplicates = 0
        now_s = time.time()  # only for the lag metric: no rule sees the wall clock
        check = REPORT_ROW_CHECK
        row_ok = check.ok
        # Rows in another column order (a decoder of another version): put in ours.
        reorder = check.reorder(fields_of(msg))
        bad: BadRows = []
        items = msg["reports"]
        for i, d in enumerate(items):
            if type(d) is list:
                if reorder is not None:
                    d = reorder(d)
            elif type(d) is dict and "tick" in d:
                if not tick_ok(d):
                    bad.append((i, tick_problem(d) or "?"))
                    continue
                tick = d["tick"]
                # Event time reaches the proximity stage too, in order with the presences.
                _forward_tick(presence, runs, {"tick": tick, "source": d["source"]})
                self._heard(partition, d.get("stations") or {})
                findings += self._advance((partition, d["source"]), tick, changed)
                continue
            else:
                d = check.row_of(d)  # a report written as an object
            if not row_ok(d):
                # Not a report of ours: skipped (and shown) before it touches any state.
                bad.append((i, check.problem(d) or "?"))
                continue
            report = report_from_row(d)
            # Silences due before this report happened first.
            findings += self._advance((partition, report.source), report.event_ms, changed)
            due = None
            c = self.counts[(report.source, partition)]
            mmsi = report.mmsi
            track = changed.get(mmsi) or self.get(mmsi)
            result = step(track, report, self.ctx)
            if result.duplicate:
                c.duplicates += 1
                duplicates += 1
                continue
            if result.late:
                c.late += 1
                continue
            c.reports += 1
            c.vessels.add(mmsi)
            lags.append(now_s - report.event_ms / 1000)
            if result.track is not None:
                if track is None:
                    self._born[partition] += 1
                changed[mmsi] = result.track
                self._schedule_expiry((partition, report.source), result.track)
                due = silence_deadline_ms(result.track, self.ctx)
                if due is not None:
                    key = (partition, report.source)
                    self._schedule(key, mmsi, due)
            findings += result.findings
            if due is not None and due <= self.watermarks.get(key, 0):
                # Already silent by this source's clock (the report was older than the
                # watermark): decided now, per report, so batching cannot change the answer.
                findings += self._silences(key, self.watermarks[key], changed)
            if report.lat is not None and report.lon is not None and result.track is not None:
                self._presence(track, result.track, report, presence)
        self._store(partition, changed)
        self.last_findings = findings
        self.last_lags_s = lags
        self.last_duplicates = duplicates
        self.last_bad_rows = len(bad)
        out = [self._alert_out(f, changed.get(f.mmsi)) for f in findings]
        if bad:
            out += bad_rows_out(
                "track", self.topics.reports, partition, offset, items, bad, self.topics.rejected
            )
        out += [
            Out(self.topics.presence, b"batch", value, p)
            for p, recs in presence.items()
            if recs
            for _, value in bounded(
                lambda rows: orjson.dumps(
                    {"fields": PRESENCE_ROW, "presence": rows, "from": partition}
                ),
                recs,
            )
        ]
        return out

    def _presence(
        self,
        old: VesselTrack | None,
        new: VesselTrack,
        report: Report,
        presence: dict[int, list[Any]],
    ) -> None:
        """Fan a position out to its H3 cell and the k=1 ring (one record per partition).

        Partitions that held the vessel's previous cells but none of the new ones get a record
        with no cells, so they forget it rather than pair it from a stale position.
        """
        assert report.lat is not None and report.lon is not None
        home = home_cell(report.lat, report.lon)
        dest = fan_out(home, self.partitions)
        if old is not None and old.lat is not None and old.lon is not None:
            before = home_cell(old.lat, old.lon)
            if before != home:
                for p in fan_out(before, self.partitions):
                    dest.setdefault(p, ())
        row = presence_row(
            report.mmsi,
            report.source,
            report.lat,
            report.lon,
            report.sog_kn,
            report.cog_deg,
            report.event_ms,
            is_exempt(self.ctx.find_zone(z) for z in new.zones),
            home,
            new.name,
            new.imo,
        )
        forget: list[Any] | None = None
        for p, cells in dest.items():
            if not cells:
                if forget is None:
                    forget = row.copy()
                    forget[PRESENCE_CELLS] = []
                presence[p].append(forget)
                continue
            presence[p].append(row)

    def apply_references(self, items: list[tuple[str, str, Any, int]]) -> None:
        """Apply ISPS reference records (kind, key, JSON value or None, offset) to the context.

        A record already applied (same or newer offset for its key) is skipped; an invalid one
        is counted in ``reference_rejects`` and logged, never raised. The geography (facility
        radii are zones) is rebuilt once, and only when a facility moved, appeared or went.
        """
        ref = self.ctx.reference or ReferenceData()
        moved = False
        for kind, key, value, offset in items:
            if offset <= self.reference_offsets.get((kind, key), -1):
                continue
            try:
                record = None if value is None else record_from_json(kind, value)  # type: ignore[arg-type]
                if record is not None and record_key(record) != key:
                    raise ReferenceDataError(
                        RejectReason.BAD_REFERENCE_DATA, f"{kind} key {key!r} != its record"
                    )
            except ReferenceDataError as exc:
                self.reference_rejects += 1
                log.warning("isps %s record %r at offset %d rejected: %s", kind, key, offset, exc)
                continue
            if kind == "facility":
                moved |= not same_geometry(ref.facility(key), record)  # type: ignore[arg-type]
            ref = ref.with_record(kind, key, record)  # type: ignore[arg-type]
            self.reference_offsets[(kind, key)] = offset
        geography = geography_with(self.ctx.geography, ref) if moved else self.ctx.geography
        self.ctx = dataclasses.replace(self.ctx, reference=ref, geography=geography)

    def _reference(self, msg: dict[str, Any], partition: int) -> list[Out]:
        """A forwarded isps record: apply it; a facility change is an event for the vessels
        of this partition inside its radius (ISPS_SECURITY_LEVEL on a MARSEC raise)."""
        self.last_findings, self.last_lags_s, self.last_duplicates = [], [], 0
        kind, key = msg["kind"], msg["key"]
        self.apply_references([(kind, key, msg.get("value"), msg.get("offset", -1))])
        if kind != "facility":
            return []
        # "Now" is this partition's event-time watermark (no wall clock in rules).
        at_ms = max((w for (p, _), w in self.watermarks.items() if p == partition), default=0)
        changed: dict[int, VesselTrack] = {}
        findings: list[Finding] = []
        for mmsi, track in self.items():
            if not isinstance(mmsi, int) or partition_for_mmsi(mmsi, self.partitions) != partition:
                continue
            new, found = facility_event(track, key, self.ctx, at_ms or track.last_ms)
            if found:
                changed[mmsi] = new
                findings += found
        self._store(partition, changed)
        self.last_findings = findings
        return [self._alert_out(f, changed.get(f.mmsi)) for f in findings]

    def _recover_deadlines(self, partition: int) -> None:
        """Rebuild the silence deadlines of a partition's vessels from the table.

        The deadlines live in memory; after a restart or a rebalance the tracks come back from
        the changelog, and so, from them, do the deadlines (a gap is not lost to a crash).
        """
        self.recovered.add(partition)
        for mmsi, track in list(self.tracks.items()):
            if partition_for_mmsi(mmsi, self.partitions) != partition or track.source is None:
                continue
            due = silence_deadline_ms(track, self.ctx)
            if due is not None:
                self._schedule((partition, track.source), mmsi, due)

    def station_silence_s(self, limit: int) -> dict[str, float]:
        """Seconds of event time since each station was last heard (the ``limit`` most
        recently heard by name; the rest folded into "other" with the longest silence)."""
        heard: dict[str, int] = {}
        for known in self.station_heard_ms.values():
            for station, at_ms in known.items():
                heard[station] = max(at_ms, heard.get(station, 0))
        now_ms = max(self.watermarks.values(), default=0)
        ranked = sorted(heard.items(), key=lambda kv: (-kv[1], kv[0]))
        out = {s: max(0.0, (now_ms - t) / 1000) for s, t in ranked[:limit]}
        rest = [max(0.0, (now_ms - t) / 1000) for _, t in ranked[limit:]]
        if rest:
            out["other"] = max(rest)
        return out

    def _heard(self, partition: int, stations: dict[str, int]) -> None:
        known = self.station_heard_ms[partition]
        for station, at_ms in stations.items():
            if at_ms > known.get(station, 0):
                known[station] = at_ms

    def _advance(
        self, key: tuple[int, str], event_ms: int, changed: dict[int, VesselTrack]
    ) -> list[Finding]:
        """Move a watermark forward; AIS_GAP for every deadline it passes."""
        if event_ms <= self.watermarks.get(key, 0):
            return []
        self.watermarks[key] = event_ms
        self._expire(key, event_ms, changed)
        return self._silences(key, event_ms, changed)

    def _silences(
        self, key: tuple[int, str], watermark: int, changed: dict[int, VesselTrack]
    ) -> list[Finding]:
        """AIS_GAP for every vessel whose silence deadline the watermark has passed."""
        partition = key[0]
        heap = self.deadlines[key]
        scheduled = self.scheduled[key]
        findings: list[Finding] = []
        while heap and heap[0][0] <= watermark:
            due, mmsi = heapq.heappop(heap)
            if scheduled.get(mmsi) != due:
                continue  # superseded by an earlier entry of the same vessel
            del scheduled[mmsi]
            track = changed.get(mmsi) or self.get(mmsi)
            if track is None or track.source != key[1]:
                continue  # gone, or now heard through another feed (its own clock)
            actual = silence_deadline_ms(track, self.ctx)
            if actual is None:
                continue
            if actual > watermark:
                self._schedule(key, mmsi, actual)  # heard since: not silent yet
                continue
            heard_ms = self.station_heard_ms[partition].get(track.station or "")
            result = check_silence(track, watermark, heard_ms, self.ctx)
            if result.retry_ms is not None:
                self._schedule(key, mmsi, result.retry_ms)
            if result.track is not track:
                changed[mmsi] = result.track
            findings += result.findings
        return findings

    def _schedule_expiry(self, key: tuple[int, str], track: VesselTrack) -> None:
        due = track.last_ms + self.ctx.thresholds.track_ttl_s * 1000
        scheduled = self.expiry_scheduled[key]
        if track.mmsi not in scheduled:
            scheduled[track.mmsi] = due
            heapq.heappush(self.expiries[key], (due, track.mmsi))

    def _expire(
        self, key: tuple[int, str], watermark: int, changed: dict[int, VesselTrack]
    ) -> None:
        """Drop the tracks of vessels silent for ``track_ttl_s`` of their feed's event time."""
        heap, scheduled = self.expiries[key], self.expiry_scheduled[key]
        ttl_ms = self.ctx.thresholds.track_ttl_s * 1000
        while heap and heap[0][0] <= watermark:
            _, mmsi = heapq.heappop(heap)
            scheduled.pop(mmsi, None)
            track = changed.get(mmsi) or self.get(mmsi)
            if track is None or track.source != key[1]:
                continue
            if track.last_ms + ttl_ms > watermark:
                self._schedule_expiry(key, track)  # heard since
                continue
            changed.pop(mmsi, None)
            self.pending[key[0]][mmsi] = _DELETED
            self._born[key[0]] -= 1
            self.expired += 1

    def _schedule(self, key: tuple[int, str], mmsi: int, due: int) -> None:
        """Make sure a vessel's silence is looked at by ``due`` (one live entry per vessel)."""
        scheduled = self.scheduled[key]
        current = scheduled.get(mmsi)
        if current is not None and current <= due:
            return
        scheduled[mmsi] = due
        heapq.heappush(self.deadlines[key], (due, mmsi))

    def _alert_out(self, f: Finding, track: VesselTrack | None) -> Out:
        geo = self.ctx.geography
        track = track or self.get(f.mmsi)
        flag = self.ctx.mids.flag_of(f.mmsi)
        identity = f.identity or (track.identity(flag) if track else None)
        if f.lat is not None and f.lon is not None:
            jurisdiction = geo.jurisdiction(f.lat, f.lon)
        else:
            jurisdiction = "INTL"
        message = to_message(
            f,
            identity or VesselTrack(mmsi=f.mmsi, last_ms=f.event_ms).identity(flag),
            jurisdiction,
            releasability(jurisdiction),
        )
        return Out(self.topics.alerts, str(f.mmsi).encode(), orjson.dumps(message))

    def _eof(self, msg: dict[str, Any], partition: int) -> list[Out]:
        changed: dict[int, VesselTrack] = {}
        final = msg.get("final_tick") or {}
        self._heard(partition, final.get("stations") or {})
        key = (partition, msg["source"])
        findings = self._advance(key, final.get("tick", 0), changed)
        # Vessels already due at the source's last event time are decided now (the last
        # reports may have been older than the watermark, so no advance checked them).
        findings += self._silences(key, self.watermarks.get(key, 0), changed)
        # The source is done: forget its watermark and pending deadlines.
        self.watermarks.pop(key, None)
        self.deadlines.pop(key, None)
        self.scheduled.pop(key, None)
        self.expiries.pop(key, None)
        self.expiry_scheduled.pop(key, None)
        self._store(partition, changed)
        alerts = [self._alert_out(f, changed.get(f.mmsi)) for f in findings]
        c = self.counts.pop((msg["source"], partition), TrackCounts())
        ctl = orjson.dumps({**msg, "reports_partition": partition, "track": c.to_dict()})
        self.last_findings = findings
        self.last_lags_s = []
        self.last_duplicates = 0
        # The end of the source also goes through the proximity stage (which sends its own).
        return (
            alerts
            + [Out(self.topics.alerts, b"ctl", ctl, q) for q in range(self.partitions)]
            + [Out(self.topics.presence, b"ctl", ctl, q) for q in range(self.partitions)]
        )
