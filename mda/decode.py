"""Decode raw input lines into normalised :class:`~mda.model.Report` values.

This is the one module that decodes AIS payloads with pyais. A :class:`Decoder` is stateful
because the fragments of a multipart message arrive on separate lines of the same source, in
order (``ais.raw`` is keyed by source, so one partition sees a whole source).

Accounting: every physical line fed in ends up as at least one decoded message
(:attr:`DecodeResult.decoded_types`), at least one :class:`~mda.model.Reject`, a fragment held
for assembly (rejected later if it never completes, see :meth:`Decoder.flush`), or a ``$PGHP``
time context (consumed: it only dates the lines after it). Comments and blank lines are
rejects (``NOT_NMEA``/``EMPTY_LINE``) so that totals add up. :meth:`Decoder.feed` never raises
for bad data.

Multipart assembly uses pyais's own primitive (``NMEAMessage.assemble_from_iterable``); the
buffer is keyed like pyais's ``stream.py`` — talker, channel, sequence id and fragment count,
per source — plus the tag-block ``g:`` group id when there is one. It is bounded per source
(the oldest entry is rejected when full) and expires by event time, never by the wall clock:
an entry is rejected once the clock that dated it — its (station, time source) pair — has
advanced by more than the TTL since it arrived (see ``Decoder._expire`` for why not by the
fragment's own timestamp).
"""

from __future__ import annotations

import dataclasses
from binascii import b2a_base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from pyais.bit_vector import int_bit_vector
from pyais.constants import ShipType
from pyais.exceptions import AISBaseException, UnknownMessageException
from pyais.messages import AISSentence, NMEAMessage, NMEASentenceFactory, to_lat_lon

from mda import invalid_values as iv
from mda.csv_reports import row_to_report
from mda.errors import DecodeError, RejectReason
from mda.lines import (
    AHEAD_OF_RECEIPT_MS,
    LIVE_AHEAD_OF_RECEIPT_MS,
    ROLLOVER_BEHIND_MS,
    SentencePart,
    clock_offset_text,
    implausible_event_time,
    parse_line,
    plain_sentence,
)
from mda.model import (
    CLASS_BY_TYPE,
    EARLIEST_EVENT_MS,
    LATEST_EVENT_MS,
    POSITION_TYPES,
    ROW_MMSI,
    ROW_MSG_TYPE,
    STATIC_TYPES,
    RawLine,
    Reject,
    Report,
    ReportRow,
    TimeSource,
    report_from_row,
    report_row,
)

#: Fragments held per source before the oldest is rejected.
MAX_PENDING_PER_SOURCE: Final = 1000
#: A pending fragment this much older (event time) than the newest line of its source expires.
FRAGMENT_TTL_MS: Final = 60_000
#: Stations tracked per source for expiry before the table is reset (bounds hostile input).
_MAX_STATIONS: Final = 4096

_REPORT_TYPES: Final = POSITION_TYPES | STATIC_TYPES
_CLASS_BY_TYPE: Final = CLASS_BY_TYPE
_position = iv.position_or_none
_sog = iv.sog_kn_or_none
_cog = iv.cog_deg_or_none
_heading = iv.heading_deg_or_none
_status = iv.nav_status_or_none
_ship_type = iv.ship_type_or_none
_text = iv.text_or_none
_RANK: Final[dict[TimeSource, int]] = {"tagblock": 0, "uscg": 1, "line": 2, "ingest": 3}

_Key = tuple[str, str, int | None, int, int | None]
_Clock = tuple[str | None, TimeSource]


class Retimed(NamedTuple):
    """A live line dated by its receipt, ``received_ms``, because the time it gave, ``event_ms``,
    cannot be right (:data:`~mda.lines.LIVE_AHEAD_OF_RECEIPT_MS`)."""

    source: str
    #: The receiving station whose clock it was (``None``: the source's, without a station).
    station: str | None
    line_no: int
    event_ms: int
    received_ms: int

    def describe(self) -> str:
        """For the operator's log: the source, the station and what its clock said."""
        return (
            f"{self.source}, station {self.station or '(none)'}: its clock read "
            f"{clock_offset_text(self.event_ms, self.received_ms)}"
        )


class DecodeResult:
    """What one :meth:`Decoder.feed` produced.

    ``decoded_types`` lists the message type of every complete message with a checksum-valid
    payload, including messages rejected afterwards (MMSI 0) and types that give no report
    (4, 8, 21 …: counted by their type field and not decoded further, since no rule reads
    them), so that ``mda_messages_decoded_total{type}`` matches what was on the air. A
    plain slotted class: it is created for every line, and the caller only reads it.

    The reports are in ``reports`` (:class:`~mda.model.Report` values), or, from a decoder
    made with ``rows=True``, in ``rows`` (:func:`~mda.model.report_row` of each).
    ``retimed`` lists the live lines dated by their receipt (:data:`LIVE_AHEAD_OF_RECEIPT_MS`).
    """

    __slots__ = ("decoded_types", "rejects", "reports", "retimed", "rows")

    def __init__(self) -> None:
        self.reports: list[Report] = []
        self.rows: list[ReportRow] = []
        self.rejects: list[Reject] = []
        self.decoded_types: list[int] = []
        self.retimed: list[Retimed] = []

    def __repr__(self) -> str:
        return (
            f"DecodeResult(reports={self.reports!r}, rows={self.rows!r}, "
            f"rejects={self.rejects!r}, decoded_types={self.decoded_types!r}, "
            f"retimed={self.retimed!r})"
        )


@dataclass(slots=True)
class _Fragment:
    sentence: AISSentence
    part: SentencePart
    event_ms: int
    time_source: TimeSource
    line_no: int
    text: str


@dataclass(slots=True)
class _Pending:
    fragments: list[_Fragment]
    frag_cnt: int
    clock: _Clock
    #: The newest event time of that clock when the first fragment arrived.
    watermark_ms: int


@dataclass(slots=True)
class _SourceState:
    pending: dict[_Key, _Pending] = field(default_factory=dict)
    #: Newest event time per clock: (receiving station or ``None``, time source).
    newest_ms: dict[_Clock, int] = field(default_factory=dict)
    context_ms: int | None = None


class Decoder:
    """Decode :class:`~mda.model.RawLine` values, one source's lines in order.

    One instance may serve many sources; its state (pending fragments, the last ``$PGHP`` time,
    the newest event time) is kept per source, from its first line to its :meth:`flush`.

    With ``rows=True`` the reports come as rows (``DecodeResult.rows``, each the
    :func:`~mda.model.report_row` of the report it would otherwise give): the decode stage
    sends rows, and the fast path builds one anyway, so no object is built to be taken apart
    again (~0.65 µs per report, ~4% of the stage).
    """

    def __init__(
        self,
        *,
        max_pending_per_source: int = MAX_PENDING_PER_SOURCE,
        fragment_ttl_ms: int = FRAGMENT_TTL_MS,
        rows: bool = False,
    ) -> None:
        self._max_pending = max_pending_per_source
        self._ttl_ms = fragment_ttl_ms
        self._rows = rows
        self._sources: dict[str, _SourceState] = {}

    def pending_count(self, source: str) -> int:
        """Fragments held for ``source`` (a gauge for monitoring, and for tests)."""
        state = self._sources.get(source)
        return 0 if state is None else sum(len(p.fragments) for p in state.pending.values())

    def feed(self, raw: RawLine, *, live: bool = False) -> DecodeResult:
        """Decode one physical line; bad data becomes rejects, never an exception.

        ``live``: the line's ``ingest_ms`` is the moment it was received (a live receiver),
        not the start of a replay; a time read from it more than
        :data:`~mda.lines.LIVE_AHEAD_OF_RECEIPT_MS` ahead of that, or with no date from 2000
        to 2099, is a wrong clock, and the line is dated by its receipt instead
        (:attr:`DecodeResult.retimed`).
        """
        result = DecodeResult()
        self._feed_into(raw, result, LIVE_AHEAD_OF_RECEIPT_MS if live else AHEAD_OF_RECEIPT_MS)
        return result

    def feed_many(self, raws: Iterable[RawLine], *, live: bool = False) -> DecodeResult:
        """:meth:`feed` for consecutive lines, into one result.

        The same reports, rejects and decoded types, in the same order, as feeding the lines
        one by one and concatenating the results — without a result per line (the decode
        stage feeds a batch of lines per Kafka message).
        """
        result = DecodeResult()
        feed_into = self._feed_into
        ahead_ms = LIVE_AHEAD_OF_RECEIPT_MS if live else AHEAD_OF_RECEIPT_MS
        for raw in raws:
            feed_into(raw, result, ahead_ms)
        return result

    def _feed_into(self, raw: RawLine, result: DecodeResult, ahead_ms: int) -> None:
        """One line; a time read from it more than ``ahead_ms`` ahead of its receipt is
        refused (:data:`AHEAD_OF_RECEIPT_MS`) or, from a live line, replaced by the receipt
        (:data:`LIVE_AHEAD_OF_RECEIPT_MS`)."""
        if raw.csv_header is not None:
            self._feed_csv(raw, result, ahead_ms)
            return
        text = raw.text
        if plain_sentence(text):
            # One bare sentence (most lines of most feeds): no envelope to take apart.
            state = self._sources.get(raw.source)
            if state is None:
                state = self._sources[raw.source] = _SourceState()
            self._sentence(raw, SentencePart(text.encode("ascii")), state, result, ahead_ms)
            return
        sentences, problems, context_ms = parse_line(text)
        for problem in problems:
            result.rejects.append(
                Reject(problem.reason.value, problem.detail, raw.source, raw.line_no, raw.text)
            )
        state = self._sources.get(raw.source)
        if state is None:
            state = self._sources[raw.source] = _SourceState()
        if context_ms is not None:
            state.context_ms = context_ms
        for part in sentences:
            self._sentence(raw, part, state, result, ahead_ms)

    def sources(self) -> frozenset[str]:
        """Sources whose state (fragments, clocks, ``$PGHP`` time) is held (for tests)."""
        return frozenset(self._sources)

    def flush(self, source: str) -> list[Reject]:
        """End of input for ``source``: reject every fragment still pending, forget the source.

        The source's whole state is released (pending fragments, the newest event time per
        clock, the last ``$PGHP`` time), so a long-running decoder fed many finite sources
        (``mda run`` files, replays) holds state only for the sources still open. Lines fed
        for the same source afterwards start from a fresh state.
        """
        state = self._sources.pop(source, None)
        if state is None:
            return []
        return [
            _incomplete(source, p, "input ended before the message was complete")
            for p in state.pending.values()
        ]

    def flush_all(self) -> list[Reject]:
        """:meth:`flush` for every source seen."""
        return [r for source in list(self._sources) for r in self.flush(source)]

    # -- internals -------------------------------------------------------------------------

    def _feed_csv(self, raw: RawLine, result: DecodeResult, ahead_ms: int) -> None:
        assert raw.csv_header is not None
        if not raw.text.strip():
            self._reject(result, raw, RejectReason.EMPTY_LINE, "blank line")
            return
        try:
            report, msg_type = row_to_report(raw.csv_header, raw.text, source=raw.source)
        except DecodeError as exc:
            result.rejects.append(
                Reject(exc.reason.value, exc.detail, raw.source, raw.line_no, raw.text)
            )
            return
        if report is not None:
            why = implausible_event_time(report.event_ms, raw.ingest_ms, ahead_ms)
            if why is not None:
                if ahead_ms == LIVE_AHEAD_OF_RECEIPT_MS and _retime(
                    report.event_ms, raw, report.station, result
                ):
                    report = dataclasses.replace(
                        report, event_ms=raw.ingest_ms, time_source="ingest"
                    )
                else:
                    self._reject(result, raw, RejectReason.BAD_TIMESTAMP, why)
                    return
        result.decoded_types.append(msg_type)
        if report is not None:
            self._add(result, report)

    def _sentence(
        self,
        raw: RawLine,
        part: SentencePart,
        state: _SourceState,
        result: DecodeResult,
        ahead_ms: int,
    ) -> None:
        try:
            sentence = NMEASentenceFactory.produce(part.nmea)
        except UnknownMessageException as exc:
            self._reject(result, raw, RejectReason.UNSUPPORTED_SENTENCE, str(exc))
            return
        except AISBaseException as exc:
            self._reject(result, raw, RejectReason.MALFORMED_SENTENCE, str(exc))
            return
        except Exception as exc:  # pyais on hostile input: data, not a bug of ours
            self._reject(result, raw, RejectReason.MALFORMED_SENTENCE, _exc_detail(exc))
            return
        if not isinstance(sentence, AISSentence):  # the line parser only passes VDM/VDO
            self._reject(result, raw, RejectReason.UNSUPPORTED_SENTENCE, sentence.type)
            return
        if not sentence.is_valid:
            self._reject(result, raw, RejectReason.BAD_CHECKSUM, f"expected {sentence.checksum}")
            return

        if part.event_ms is not None and part.time_source is not None:
            event_ms, time_source = part.event_ms, part.time_source
        elif state.context_ms is not None:
            event_ms, time_source = state.context_ms, "line"
        else:
            event_ms, time_source = raw.ingest_ms, "ingest"
        if time_source != "ingest" and (
            event_ms < EARLIEST_EVENT_MS
            or event_ms >= LATEST_EVENT_MS
            or (raw.ingest_ms > 0 and event_ms > raw.ingest_ms + ahead_ms)
            or (
                ahead_ms == LIVE_AHEAD_OF_RECEIPT_MS
                and raw.ingest_ms - event_ms > ROLLOVER_BEHIND_MS
            )
        ):
            # Before its station's clock or its fragments see it (a time a year ahead would
            # expire every pending fragment of the station). The comparisons of
            # implausible_event_time, inline: this is every dated line's path; a live line
            # far behind its receipt is looked at closer (a GPS rollover, or kept).
            why = implausible_event_time(event_ms, raw.ingest_ms, ahead_ms)
            if why is None:
                pass  # far behind, not 1024 weeks: latency, or a recording streamed live
            elif ahead_ms == LIVE_AHEAD_OF_RECEIPT_MS and _retime(
                event_ms, raw, part.station, result
            ):
                event_ms, time_source = raw.ingest_ms, "ingest"
            else:
                self._reject(result, raw, RejectReason.BAD_TIMESTAMP, why)
                return
        newest_ms = state.newest_ms
        station = part.station
        clock = (station, time_source)
        newest = newest_ms.get(clock)
        if newest is None or event_ms > newest:
            if newest is None and len(newest_ms) >= _MAX_STATIONS:
                newest_ms.clear()  # hostile input inventing stations; expiry restarts
            newest_ms[clock] = event_ms
            if state.pending:
                self._expire(raw.source, state, result)

        if sentence.frag_cnt == 1:
            self._decode(raw, sentence, event_ms, time_source, station, sentence.fill_bits, result)
            return

        fragment = _Fragment(sentence, part, event_ms, time_source, raw.line_no, raw.text)
        key: _Key = (
            sentence.talker_id,
            sentence.channel,
            sentence.seq_id,
            sentence.frag_cnt,
            part.group_id,
        )
        pending = state.pending
        if sentence.frag_num == 1:
            old = pending.pop(key, None)
            if old is not None:
                result.rejects.append(
                    _incomplete(raw.source, old, "a new first fragment replaced it")
                )
            elif len(pending) >= self._max_pending:
                oldest = next(iter(pending))
                result.rejects.append(
                    _incomplete(raw.source, pending.pop(oldest), "fragment buffer full")
                )
            pending[key] = _Pending(
                [fragment], sentence.frag_cnt, clock, state.newest_ms.get(clock, event_ms)
            )
            return
        entry = pending.get(key)
        if entry is None:
            self._reject(result, raw, RejectReason.ORPHAN_FRAGMENT, f"fragment {sentence.frag_num}")
            return
        if sentence.frag_num != len(entry.fragments) + 1:
            self._reject(
                result,
                raw,
                RejectReason.ORPHAN_FRAGMENT,
                f"fragment {sentence.frag_num} out of order",
            )
            return
        entry.fragments.append(fragment)
        if len(entry.fragments) < entry.frag_cnt:
            return
        del pending[key]
        frags = entry.fragments
        best = frags[0]
        for f in frags[1:]:
            if _RANK[f.time_source] < _RANK[best.time_source]:
                best = f
        fill_bits = frags[-1].sentence.fill_bits
        assembled = NMEAMessage.assemble_from_iterable([f.sentence for f in frags])
        self._decode(
            raw,
            assembled,
            best.event_ms,
            best.time_source,
            _first_station(frags),
            fill_bits,
            result,
        )

    def _expire(self, source: str, state: _SourceState, result: DecodeResult) -> None:
        # A fragment expires once the clock that dated it has moved on by the TTL since the
        # fragment arrived. Comparing with the fragment's own time instead would expire it on
        # arrival in feeds whose timestamps are out of order (satellite feeds, EE/ORBCOMM).
        # A clock is a (station, time source) pair: stations' clocks and downlink delays differ
        # by far more than the TTL, and a tag-block time and the ingest time of an undated
        # second fragment are not comparable. The scan is over the small, bounded buffer.
        newest_ms = state.newest_ms
        ttl_ms = self._ttl_ms
        expired = [
            key
            for key, entry in state.pending.items()
            if newest_ms.get(entry.clock, entry.watermark_ms) - entry.watermark_ms > ttl_ms
        ]
        for key in expired:
            result.rejects.append(_incomplete(source, state.pending.pop(key), "expired"))

    def _decode(
        self,
        raw: RawLine,
        sentence: AISSentence,
        event_ms: int,
        time_source: TimeSource,
        station: str | None,
        fill_bits: int,
        result: DecodeResult,
    ) -> None:
        payload = sentence.payload
        if not payload:
            self._reject(result, raw, RejectReason.EMPTY_PAYLOAD, "", event_ms)
            return
        bv = sentence.bv
        if type(bv) is int_bit_vector:
            # The commonest report types, straight from pyais's bit vector (see _fast_row).
            row = _fast_row(
                sentence.ais_id,
                bv._value,
                bv._length,
                event_ms,
                time_source,
                raw.source,
                station,
                payload,
                fill_bits,
            )
            if row is not None:
                result.decoded_types.append(row[ROW_MSG_TYPE])
                if not row[ROW_MMSI]:
                    self._reject(result, raw, RejectReason.BAD_MMSI, "MMSI 0", event_ms)
                elif self._rows:
                    result.rows.append(row)
                else:
                    result.reports.append(_make_report(row))
                return
        ais_id = sentence.ais_id
        if ais_id not in _REPORT_TYPES:
            # A type no rule reads (base stations, binary, safety text, AtoN …): counted by its
            # type field, not decoded. pyais's decode() of it (~3-20 µs) would only be thrown
            # away; 1 message in 14 of the recordings bench.run decodes.
            result.decoded_types.append(ais_id)
            return
        try:
            msg = sentence.decode()
        except Exception as exc:  # pyais raises assorted errors on bad bits: data, not bugs
            self._reject(result, raw, RejectReason.DECODE_ERROR, _exc_detail(exc), event_ms)
            return
        msg_type: int = msg.msg_type
        result.decoded_types.append(msg_type)
        mmsi: int = msg.mmsi
        if not mmsi:
            self._reject(result, raw, RejectReason.BAD_MMSI, "MMSI 0", event_ms)
            return
        report = _build_report(
            msg,
            msg_type,
            mmsi,
            event_ms,
            time_source,
            raw.source,
            station,
            f"{payload.decode('ascii')},{fill_bits}",
        )
        self._add(result, report)

    def _add(self, result: DecodeResult, report: Report) -> None:
        """A report of the slow path or a CSV row, in the result's form."""
        if self._rows:
            result.rows.append(report_row(report))
        else:
            result.reports.append(report)

    @staticmethod
    def _reject(
        result: DecodeResult,
        raw: RawLine,
        reason: RejectReason,
        detail: str,
        event_ms: int | None = None,
    ) -> None:
        result.rejects.append(
            Reject(reason.value, detail[:200], raw.source, raw.line_no, raw.text, event_ms)
        )


def _retime(event_ms: int, raw: RawLine, station: str | None, result: DecodeResult) -> bool:
    """Whether a live line's implausible ``event_ms`` is to be replaced by its receipt (noted
    in ``result.retimed``): yes when the receipt is known (not 0); else it is refused."""
    if raw.ingest_ms <= 0:
        return False
    result.retimed.append(Retimed(raw.source, station, raw.line_no, event_ms, raw.ingest_ms))
    return True


def _exc_detail(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def _first_station(frags: Sequence[_Fragment]) -> str | None:
    for f in frags:
        if f.part.station is not None:
            return f.part.station
    return None


def _incomplete(source: str, entry: _Pending, why: str) -> Reject:
    first = entry.fragments[0]
    return Reject(
        RejectReason.INCOMPLETE_MULTIPART.value,
        f"{len(entry.fragments)} of {entry.frag_cnt} fragments; {why}",
        source,
        first.line_no,
        "\n".join(f.text for f in entry.fragments),
        first.event_ms,
    )


def _build_report(
    msg: Any,
    msg_type: int,
    mmsi: int,
    event_ms: int,
    time_source: TimeSource,
    source: str,
    station: str | None,
    dedup_key: str,
) -> Report:
    """Map a decoded pyais message onto a :class:`Report`, normalising "not available"."""
    lat = lon = sog = cog = None
    heading = status = None
    name = callsign = None
    imo = ship_type = None
    if msg_type in POSITION_TYPES:
        lat, lon = _position(msg.lat, msg.lon)
        if msg_type == 27:
            sog = iv.type27_sog_kn_or_none(msg.speed)
        else:
            sog = _sog(msg.speed)
            heading = _heading(msg.heading)
        cog = _cog(msg.course)
        if msg_type <= 3 or msg_type == 27:
            status = _status(msg.status)
        elif msg_type == 19:
            name = _text(msg.shipname)
            ship_type = _ship_type(msg.ship_type)
    elif msg_type == 5:
        name = _text(msg.shipname)
        callsign = _text(msg.callsign)
        imo = iv.imo_or_none(msg.imo)
        ship_type = _ship_type(msg.ship_type)
    elif msg_type == 24:
        # By the decoded class, not partno: pyais returns a sentence too short to hold its
        # part number as part A with partno None.
        if hasattr(msg, "callsign"):
            callsign = _text(msg.callsign)
            ship_type = _ship_type(msg.ship_type)
        else:
            name = _text(msg.shipname)
    # The slow path (types 19, 24, 27 and odd lengths, after pyais's decode()): the plain
    # constructor. The fast path below builds its reports through slot_builder.
    return Report(
        mmsi=mmsi,
        msg_type=msg_type,
        event_ms=event_ms,
        time_source=time_source,
        source=source,
        station=station,
        lat=lat,
        lon=lon,
        sog_kn=sog,
        cog_deg=cog,
        heading_deg=heading,
        nav_status=status,
        ais_class=_CLASS_BY_TYPE.get(msg_type),
        name=name,
        callsign=callsign,
        imo=imo,
        ship_type=ship_type,
        dedup_key=dedup_key,
    )


# -- the fast path for the commonest report types ----------------------------------------
#
# pyais's ``decode()`` builds a full message object (every field, enums, an attrs instance):
# ~3 µs for a position report, ~20 µs for a type 5, more than everything else the decoder does.
# A report needs a few fields, so for types 1/2/3/18 (≥ 168 bits) and 5 (≥ 240 bits) they are
# read here from the bit vector pyais already built for the sentence, at the offsets and with
# the converters of pyais's own decoder plan (pyais's ``_fast_path`` does the same shifts), so
# the values are identical; the fields read lie wholly inside the payload at those lengths,
# and pyais's decoder raises for none of these types and lengths, so nothing else changes.
# The one converter that is not the identity for a report (ShipType: unlisted types → 0) is
# pyais's own.
# Every other type and length goes through ``decode()``. tests/unit/test_decode.py and the
# golden files pin the result; bench/verify_decode.py compares the two paths on every
# recording and on random payloads.


def _signed(x: int, bits: int) -> int:
    return x - (1 << bits) if x >> (bits - 1) else x


def _fast_row(
    ais_id: int,
    v: int,
    length: int,
    event_ms: int,
    time_source: TimeSource,
    source: str,
    station: str | None,
    payload: bytes,
    fill_bits: int,
) -> ReportRow | None:
    """The report of a type 1/2/3/18/5 message as a row (:data:`REPORT_FIELDS` order), or
    ``None`` to let pyais decode it."""
    name = callsign = imo = ship_type = None
    if ais_id <= 3:
        if ais_id == 0 or length < 168:
            return None
        s = length - 137  # everything up to the heading (bit 137)
        if (v >> (length - 6)) != ais_id:
            return None
        lat, lon = _position(
            to_lat_lon(_signed((v >> (s + 21)) & 0x7FFFFFF, 27)),
            to_lat_lon(_signed((v >> (s + 48)) & 0xFFFFFFF, 28)),
        )
        mmsi = (v >> (s + 99)) & 0x3FFFFFFF
        status = _status((v >> (s + 95)) & 15)
        sog = _sog(((v >> (s + 77)) & 1023) / 10.0)
        cog = _cog(((v >> (s + 9)) & 4095) / 10.0)
        heading = _heading((v >> s) & 511)
        ais_class: str = "A"
    elif ais_id == 18:
        if length < 168:
            return None
        s = length - 133  # everything up to the heading (bit 133)
        if (v >> (length - 6)) != 18:
            return None
        lat, lon = _position(
            to_lat_lon(_signed((v >> (s + 21)) & 0x7FFFFFF, 27)),
            to_lat_lon(_signed((v >> (s + 48)) & 0xFFFFFFF, 28)),
        )
        mmsi = (v >> (s + 95)) & 0x3FFFFFFF
        status = None
        sog = _sog(((v >> (s + 77)) & 1023) / 10.0)
        cog = _cog(((v >> (s + 9)) & 4095) / 10.0)
        heading = _heading((v >> s) & 511)
        ais_class = "B"
    elif ais_id == 5:
        if length < 240:
            return None
        s = length - 240  # everything up to the ship type (bit 240)
        if (v >> (length - 6)) != 5:
            return None
        lat = lon = sog = cog = heading = status = None
        mmsi = (v >> (s + 202)) & 0x3FFFFFFF
        ais_class = "A"
        name = _text(_sixbit((v >> (s + 8)) & _MASK_120, 20))
        callsign = _text(_sixbit((v >> (s + 128)) & _MASK_42, 7))
        imo = iv.imo_or_none((v >> (s + 170)) & 0x3FFFFFFF)
        ship_type = _ship_type(_SHIP_TYPE((v >> s) & 255))
    else:
        return None
    return (
        mmsi,
        ais_id,
        event_ms,
        time_source,
        source,
        station,
        lat,
        lon,
        sog,
        cog,
        heading,
        status,
        ais_class,
        name,
        callsign,
        imo,
        ship_type,
        f"{payload.decode('ascii')},{fill_bits}",
    )


#: pyais's converter of the ship type field: types it does not list become 0 (not available).
_SHIP_TYPE: Final = ShipType.from_value
_MASK_120: Final = (1 << 120) - 1
_MASK_42: Final = (1 << 42) - 1
#: base64 alphabet → AIS 6-bit text (pyais's ``_SIXBIT_CHAR``): base64 turns 6-bit groups
#: into characters in C, this table renames them.
_B64_TO_SIXBIT: Final = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    bytes(v + 64 if v < 32 else v for v in range(64)),
)


def _sixbit(bits: int, chars: int) -> str:
    """``chars`` 6-bit characters from the low bits of ``bits``, as pyais's ``get_str``."""
    pad = -chars % 4
    text = b2a_base64((bits << (6 * pad)).to_bytes((chars + pad) * 3 // 4, "big"), newline=False)
    return text[:chars].translate(_B64_TO_SIXBIT).decode("ascii").rstrip("@").strip()


#: The Report fields :func:`_fast_row` fills, in this order.
REPORT_FIELDS: Final = (
    "mmsi",
    "msg_type",
    "event_ms",
    "time_source",
    "source",
    "station",
    "lat",
    "lon",
    "sog_kn",
    "cog_deg",
    "heading_deg",
    "nav_status",
    "ais_class",
    "name",
    "callsign",
    "imo",
    "ship_type",
    "dedup_key",
)
#: Builds a report from the fast path's row (the model's row builder: tested to take this
#: order).
_make_report = report_from_row
