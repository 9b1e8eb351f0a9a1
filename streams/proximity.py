"""The proximity stage: ``mda.presence`` → ``mda.alerts`` (ENCOUNTER), bytes in, ``Out`` out.

Wire value on ``mda.presence``: ``{"presence": [record | tick…], "from": q}``, one message
per destination partition per track batch (``q`` the ``ais.reports`` partition that sent
it), or the track stage's end-of-file control record.

Order, so that a replay gives the same alerts at any speed: a partition receives the
presences of the vessels of every track partition, interleaved however the network pleases.
Each track partition forwards the event-time ticks of every source in order with its
presences (of a run of ticks with nothing between them, only the first, which closes the
span before it, and the last: ``streams.pipeline._forward_tick``), and every track partition
sees the same ticks. So the presences between two
ticks, over all track partitions, are the same set whatever the interleaving: the stage
buffers them per (source, sending partition) and releases a span once every track partition
has passed its closing tick, sorted by event time and MMSI. The cost is up to one tick
(``TICK_MS``, 10 s of event time) of delay, which a 20-minute rule does not feel, and the
memory of one span of presences (plus however far the slowest track partition trails).

State lives in the stage (in memory), per (partition, source): the vessel sets and pairs of
:class:`mda.proximity.ProximityState`, bounded by event time (the files of one run are one
source, their feed, so vessels heard in different files are paired). The pairs worth keeping (an
ENCOUNTER alert open, or close for a minute or more: :func:`mda.proximity.worth_keeping`),
with their vessels' IMO and name, are also written to a checkpoint, the changelog-backed
table ``proximity_pairs`` in the worker, keyed by partition, source and pair: when one
becomes worth keeping, opens, closes or is dropped, and again once seen
:data:`CHECKPOINT_REFRESH_MS` of event time after its last write. The first message of a
(partition, source) that this stage does not hold takes the partition's pairs back, so the
next owner of a partition after a rebalance, or a worker after a restart, closes the
encounter the old one opened and does not open it again (with a new alert id), and opens
one in progress when the old one would have. A report up to the pair's checkpointed time is
not evaluated again (after a crash, Faust delivers again what was processed after the last
commit). What a crash or a rebalance still costs: the vessel sets rebuild from new presences
within ``presence_ttl_s`` (10 min), and a pair close for less than a minute is begun again
(its alert, if it comes to one, opens up to a minute later). Those are not checkpointed: a
pair begins with every report of two slow vessels near each other, and a table write costs
~110 µs (on the bench's recordings 2,470 pairs began, 10 were close for a minute). A
partition that moves to another worker is forgotten here (:meth:`ProximityStage.keep_only`),
so that if it comes back later it starts again from the checkpoint, not from stale sets.
A source's end is not lost: the agent leaves an end-of-file record that does not complete it
unacknowledged, so the new owner reads it again (``streams.agents.proximity``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from mda.alerts import Finding, VesselIdentity, to_message
from mda.errors import DecodeError, RejectReason
from mda.geo import Geography, releasability
from mda.mid import MidTable
from mda.proximity import (
    PRESENCE_ROW_CHECK,
    PRESENCE_SOURCE,
    PairState,
    Presence,
    ProximityState,
    worth_keeping,
)
from mda.thresholds import Thresholds
from streams.pipeline import (
    BadRows,
    Out,
    bad_rows_out,
    fields_of,
    read_message,
    tick_problem,
)
from streams.topics import TopicNames

log = logging.getLogger(__name__)

#: Closes every span at the end of a source.
_END = 2**62
#: The worker's checkpoint table (its changelog: ``<app id>-proximity_pairs-changelog``).
PAIRS_TABLE = "proximity_pairs"
#: A pair seen this much event time after its last checkpoint is written again: an open pair
#: taken back after a restart may be dropped (``encounter_keep_s`` unseen, 6 h) this early.
CHECKPOINT_REFRESH_MS = 10 * 60 * 1000
#: Ended sources remembered (per stage) so that a late copy of an end is known as one.
MAX_ENDED = 1024
_TICK_SENDER = itemgetter(0, 1)
_TICK_TIME_MMSI = itemgetter(0, 1, 2)


@dataclass
class _Source:
    """One source on one partition: buffered spans per sending partition, and the state."""

    state: ProximityState
    #: per sending partition: the last closing tick received
    passed: dict[int, int] = field(default_factory=dict)
    #: per sending partition: presences since its last tick (parsed on arrival: a slotted
    #: Presence holds a buffered record in about a third of the memory of its JSON dict)
    pending: dict[int, list[Presence]] = field(default_factory=lambda: defaultdict(list))
    #: closed spans, (closing tick, sending partition, presences), released in order
    spans: list[tuple[int, int, list[Presence]]] = field(default_factory=list)
    #: the end-of-file control record of each track partition that has sent it (a copy that
    #: comes again, processed twice after a rebalance, does not count as another partition's)
    eofs: dict[int, dict[str, Any]] = field(default_factory=dict)
    identities: dict[int, VesselIdentity] = field(default_factory=dict)
    #: the pairs in the checkpoint: (first_close_ms, opened_ms, seen_ms) as written
    written: dict[tuple[int, int], tuple[int | None, int | None, int]] = field(default_factory=dict)


def _as_written(state: PairState) -> tuple[int | None, int | None, int]:
    """What :attr:`_Source.written` remembers of a pair in the checkpoint."""
    return (state.first_close_ms, state.opened_ms, state.seen_ms)


def checkpoint_key(partition: int, source: str, a: int, b: int) -> str:
    """A pair's key in the checkpoint: a JSON array (any source name stays apart)."""
    return orjson.dumps([partition, source, a, b]).decode()


def pair_value(state: PairState, identities: dict[int, VesselIdentity]) -> dict[str, Any]:
    """A pair's checkpoint value, with the two vessels' IMO and name where known (so
    that the next holder's close alert names them, before their next static report)."""
    return {
        "a": state.a,
        "b": state.b,
        "first_close_ms": state.first_close_ms,
        "last_close_ms": state.last_close_ms,
        "opened_ms": state.opened_ms,
        "severity": state.severity,
        "seen_ms": state.seen_ms,
        "identities": {
            str(m): [identities[m].imo, identities[m].name]
            for m in (state.a, state.b)
            if m in identities
        },
    }


def identities_of(value: Any) -> dict[int, VesselIdentity]:
    """The vessels' IMO and name of a checkpoint value (what cannot be read: left out)."""
    out: dict[int, VesselIdentity] = {}
    found = value.get("identities") if type(value) is dict else None
    if type(found) is not dict:
        return out
    for mmsi, known in found.items():
        if (
            type(known) is list
            and len(known) == 2
            and type(known[0]) in (int, type(None))
            and type(known[1]) in (str, type(None))
            and mmsi.isdigit()
        ):
            out[int(mmsi)] = VesselIdentity(known[0], known[1], None)
    return out


def _ms(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise ValueError(f"{value!r} is not a time in ms")
    return value


def pair_of(key: Any, value: Any) -> tuple[int, str, PairState]:
    """(partition, source, pair) from a checkpoint entry; ValueError if it is not one of
    ours (a pair worth keeping: open with a severity, or in progress for long enough)."""
    try:
        partition, source, a, b = orjson.loads(key)
        state = PairState(
            a=int(value["a"]),
            b=int(value["b"]),
            first_close_ms=_ms(value.get("first_close_ms")),
            last_close_ms=_ms(value.get("last_close_ms")),
            opened_ms=_ms(value["opened_ms"]),
            severity=value["severity"],
            seen_ms=int(value["seen_ms"]),
        )
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"not a pair of ours ({exc!r})") from None
    if (
        type(partition) is not int
        or type(source) is not str
        or (state.a, state.b) != (a, b)
        or state.severity not in ((None,) if state.opened_ms is None else ("high", "medium"))
        or not worth_keeping(state)
    ):
        raise ValueError("not a pair of ours")
    return partition, source, state


class ProximityStage:
    """mda.presence → mda.alerts: ENCOUNTER over per-cell vessel sets (one alert per pair)."""

    def __init__(
        self,
        topics: TopicNames,
        partitions: int,
        geography: Geography,
        mids: MidTable,
        thresholds: Thresholds,
        checkpoint: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.topics = topics
        self.partitions = partitions
        self.geography = geography
        self.mids = mids
        self.thresholds = thresholds
        self.sources: dict[tuple[int, str], _Source] = {}
        self.last_findings: list[Finding] = []
        self.last_records = 0
        self.last_bad_rows = 0
        #: The (partition, source) of the end-of-file record just handled (None: not one),
        #: and whether it completed the source's end (every track partition's record in).
        self.last_eof: tuple[int, str] | None = None
        self.last_eof_complete = False
        #: The (partition, source, run) ends sent (the newest MAX_ENDED): a copy of an
        #: end-of-file record that comes after its end is not the start of another.
        self.ended: dict[tuple[int, str, str], None] = {}
        #: Pairs written here and read back by the next holder of a partition (the
        #: worker's changelog-backed table; None: no checkpoint).
        self.checkpoint = checkpoint
        #: Per partition read from the checkpoint: the pairs of each source not taken yet,
        #: with what the checkpoint knows of their vessels.
        self._checkpointed: dict[
            int, dict[str, list[tuple[PairState, dict[int, VesselIdentity]]]]
        ] = {}
        #: Pairs taken back from the checkpoint, and its entries that were not ours.
        self.pairs_restored = 0
        self.checkpoint_rejects = 0

    def _source(self, partition: int, source: str) -> _Source:
        key = (partition, source)
        s = self.sources.get(key)
        if s is None:
            s = _Source(ProximityState(self.thresholds, self.geography.boundary_distance_m))
            self.sources[key] = s
            if self.checkpoint is not None:
                taken = self._pairs_of(partition).pop(source, [])
                if taken:
                    pairs = [pair for pair, _ in taken]
                    s.state.restore(pairs)
                    s.written = {(p.a, p.b): _as_written(p) for p in pairs}
                    for _, identities in taken:
                        s.identities.update(identities)
                    self.pairs_restored += len(pairs)
                    log.info(
                        "proximity: %d pair(s) of %r on mda.presence partition %d taken "
                        "back from the checkpoint",
                        len(pairs),
                        source,
                        partition,
                    )
        return s

    def _pairs_of(
        self, partition: int
    ) -> dict[str, list[tuple[PairState, dict[int, VesselIdentity]]]]:
        """The checkpoint's pairs of ``partition`` by source, read once per holding."""
        got = self._checkpointed.get(partition)
        if got is None:
            assert self.checkpoint is not None
            got = self._checkpointed[partition] = defaultdict(list)
            for key, value in list(self.checkpoint.items()):
                try:
                    p, source, state = pair_of(key, value)
                except ValueError as exc:
                    self.checkpoint_rejects += 1
                    log.warning("proximity checkpoint entry %r skipped: %s", key, exc)
                    continue
                if p == partition:
                    got[source].append((state, identities_of(value)))
        return got

    def _save(self, partition: int, source: str, s: _Source) -> None:
        """Write the pairs of ``s`` worth keeping that began to be, opened, ended, were
        dropped or were seen :data:`CHECKPOINT_REFRESH_MS` after their last write, to the
        checkpoint."""
        changed = s.state.changed
        if self.checkpoint is not None:
            for pair in sorted(changed):
                state = s.state.pairs.get(pair)
                written = s.written.get(pair)
                if state is not None and worth_keeping(state):
                    if (
                        written is None
                        or written[:2] != (state.first_close_ms, state.opened_ms)
                        or state.seen_ms - written[2] >= CHECKPOINT_REFRESH_MS
                    ):
                        self.checkpoint[checkpoint_key(partition, source, *pair)] = pair_value(
                            state, s.identities
                        )
                        s.written[pair] = _as_written(state)
                elif written is not None:
                    del self.checkpoint[checkpoint_key(partition, source, *pair)]
                    del s.written[pair]
        changed.clear()

    def keep_only(self, partitions: set[int]) -> None:
        """Forget the partitions not in ``partitions`` (this worker's assignment): their
        next holder takes their pairs from the checkpoint, and so does this stage if one
        comes back."""
        for key in [k for k in self.sources if k[0] not in partitions]:
            del self.sources[key]
        for p in [p for p in self._checkpointed if p not in partitions]:
            del self._checkpointed[p]

    def handle(self, value: bytes, partition: int, offset: int | None = None) -> list[Out]:
        """One ``mda.presence`` message of ``partition`` (at ``offset``, which the records of
        skipped rows name); one that is not a batch or a control record of ours raises a
        ``BAD_MESSAGE`` :class:`~mda.errors.DecodeError` before any state changes
        (:func:`~streams.pipeline.read_message`). A row or tick that is not one of ours is
        skipped before it joins a span, counted in ``last_bad_rows`` and shown on
        ``ais.rejected``; the rest of the batch is processed."""
        self.last_bad_rows = 0
        self.last_eof = None
        self.last_eof_complete = False
        msg = read_message(value, "presence")
        findings: list[Finding] = []
        out: list[Out] = []
        if msg.get("ctl") == "eof":
            reports_partition = msg.get("reports_partition", 0)
            if not 0 <= reports_partition < self.partitions:  # (an int: read_message)
                why = f"'reports_partition' {reports_partition} is not a track partition"
                raise DecodeError(RejectReason.BAD_MESSAGE, why)
            key = (partition, msg["source"])
            self.last_eof = key
            end = (partition, msg["source"], str(msg.get("run")))
            if end in self.ended:
                self.last_eof_complete = True
                self.last_findings = []
                self.last_records = 0
                return out
            s = self._source(partition, msg["source"])
            s.eofs.setdefault(reports_partition, msg)
            self._close_span(s, reports_partition, _END)
            findings, identities = self._release(s)
            out += [self._alert_out(f, identities) for f in findings]
            if len(s.eofs) < self.partitions:
                self._save(partition, msg["source"], s)
            else:
                self.last_eof_complete = True
                del self.sources[key]
                if self.checkpoint is not None:  # the source is over: so are its pairs
                    for pair in s.written:
                        del self.checkpoint[checkpoint_key(partition, msg["source"], *pair)]
                self.ended[end] = None
                if len(self.ended) > MAX_ENDED:
                    del self.ended[next(iter(self.ended))]
                first = next(iter(s.eofs.values()))
                ctl = {k: v for k, v in first.items() if k not in ("track", "reports_partition")}
                ctl.update(stage="proximity", presence_partition=partition)
                body = orjson.dumps(ctl)
                out += [Out(self.topics.alerts, b"ctl", body, q) for q in range(self.partitions)]
            self.last_findings = findings
            self.last_records = 0
            return out
        sender = msg.get("from", 0)
        if type(sender) is not int or not 0 <= sender < self.partitions:
            # Checked before any state changes: a sender that is not a track partition would
            # count as one that has passed a tick, and release spans too early.
            why = f"'from' is {sender!r}, not a track partition (0–{self.partitions - 1})"
            raise DecodeError(RejectReason.BAD_MESSAGE, why)
        check = PRESENCE_ROW_CHECK
        row_ok = check.ok
        # Rows in another column order (a track stage of another version): put in ours.
        reorder = check.reorder(fields_of(msg))
        touched: dict[str, _Source] = {}
        records = 0
        bad: BadRows = []
        items = msg["presence"]
        for i, d in enumerate(items):
            if type(d) is list:
                if reorder is not None:
                    d = reorder(d)
            elif type(d) is dict and "tick" in d:
                # (Its stations, if any, are the track stage's: not read here.)
                tick, source = d["tick"], d.get("source")
                if type(tick) is not int or type(source) is not str:
                    bad.append((i, tick_problem(d) or "?"))
                    continue
                s = touched.get(source) or self._source(partition, source)
                touched[source] = s
                self._close_span(s, sender, tick)
                continue
            else:
                d = check.row_of(d)  # a record written as an object
            if not row_ok(d):
                # Not a presence of ours: skipped (and shown) before it joins a span.
                bad.append((i, check.problem(d) or "?"))
                continue
            try:
                presence = Presence.from_row(d, partition, self.partitions)
            except (ValueError, TypeError) as exc:  # not an H3 cell (h3), a cell not a string
                bad.append((i, f"its cells cannot be read ({exc})"))
                continue
            source = d[PRESENCE_SOURCE]
            s = touched.get(source) or self._source(partition, source)
            touched[source] = s
            records += 1
            s.pending[sender].append(presence)
        for source, s in touched.items():
            found, identities = self._release(s)
            findings += found
            out += [self._alert_out(f, identities) for f in found]
            self._save(partition, source, s)
        self.last_findings = findings
        self.last_records = records
        self.last_bad_rows = len(bad)
        if bad:
            out += bad_rows_out(
                "proximity",
                self.topics.presence,
                partition,
                offset,
                items,
                bad,
                self.topics.rejected,
            )
        return out

    def _close_span(self, s: _Source, sender: int, tick: int) -> None:
        if tick < s.passed.get(sender, 0):
            return
        s.passed[sender] = tick
        span = s.pending.pop(sender, [])
        if span:
            s.spans.append((tick, sender, span))

    def _release(self, s: _Source) -> tuple[list[Finding], dict[int, VesselIdentity]]:
        """Process every span that all sending partitions have passed, in a fixed order."""
        if len(s.passed) < self.partitions:
            return [], s.identities
        watermark = min(s.passed.values())
        ready = [sp for sp in s.spans if sp[0] <= watermark]
        if not ready:
            return [], s.identities
        s.spans = [sp for sp in s.spans if sp[0] > watermark]
        records: list[tuple[int, int, int, Presence]] = []
        for tick, _, span in sorted(ready, key=_TICK_SENDER):
            records += [(tick, p.event_ms, p.mmsi, p) for p in span]
        # Stable: one vessel's records keep their order (they all come from one partition).
        records.sort(key=_TICK_TIME_MMSI)
        findings: list[Finding] = []
        for _, _, _, p in records:
            if p.name is not None or p.imo is not None:
                s.identities[p.mmsi] = VesselIdentity(p.imo, p.name, None)
            findings += s.state.observe(p)
        if watermark < _END:
            s.state.expire(watermark)
        gone = [m for m in s.identities if m not in s.state.vessels]
        if gone:
            in_open = {m for pair in s.state.open_pairs() for m in (pair.a, pair.b)}
            for mmsi in gone:
                if mmsi not in in_open:
                    del s.identities[mmsi]
        return findings, s.identities

    def _alert_out(self, f: Finding, identities: dict[int, VesselIdentity]) -> Out:
        known = identities.get(f.mmsi) or VesselIdentity()
        identity = VesselIdentity(known.imo, known.name, self.mids.flag_of(f.mmsi))
        if f.lat is not None and f.lon is not None:
            jurisdiction = self.geography.jurisdiction(f.lat, f.lon)
        else:
            jurisdiction = "INTL"
        message = to_message(f, identity, jurisdiction, releasability(jurisdiction))
        return Out(self.topics.alerts, str(f.mmsi).encode(), orjson.dumps(message))

    def vessels(self) -> list[Presence]:
        """The latest presence of every vessel this worker's partitions hold (deduplicated)."""
        latest: dict[int, Presence] = {}
        for s in self.sources.values():
            for p in s.state.vessels.values():
                if p.mmsi not in latest or p.event_ms > latest[p.mmsi].event_ms:
                    latest[p.mmsi] = p
        return list(latest.values())

    def open_encounters(self) -> dict[int, list[dict[str, Any]]]:
        """Open ENCOUNTER alerts by MMSI (both vessels of each pair)."""
        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        seen: set[tuple[int, int, int]] = set()
        for s in self.sources.values():
            for pair in s.state.open_pairs():
                assert pair.opened_ms is not None
                if (pair.a, pair.b, pair.opened_ms) in seen:
                    continue
                seen.add((pair.a, pair.b, pair.opened_ms))
                item = {
                    "rule": "ENCOUNTER",
                    "severity": pair.severity,
                    "opened_ms": pair.opened_ms,
                    "mmsi": pair.a,
                    "other_mmsi": pair.b,
                }
                out[pair.a].append(item)
                out[pair.b].append(item)
        return out
