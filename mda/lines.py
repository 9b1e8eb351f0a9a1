"""Split one physical input line into the NMEA sentences it carries and their metadata.

Recorded and live AIS feeds wrap the same NMEA 0183 sentences in different envelopes, and the
envelope is where the event time and the receiving station are (DESIGN.md §4, §6). This
module recognises the envelopes, per line, without decoding any AIS payload:

- plain ``!AIVDM``/``!AIVDO`` with any talker (``!BSVDM``, ``!ABVDM``, ``!SAVDM``, ``!--VDM``);
- IEC 61162-450 tag blocks ``\\s:STATION,c:EPOCH*hh\\!AIVDM,...`` (fields in any order;
  ``c:`` in seconds, or milliseconds when above 1e11; ``g:`` sentence groups);
- USCG/N-AIS trailing fields ``!AIVDM,...*hh,rSTATION,EPOCH`` and the longer
  ``,d-109,S2105,t050056.00,T56.13718694,r003669946,1325394060,1325394001`` form: the station
  is the first ``r``/``b`` field, the event time the first plain integer after the checksum.
  The trailer is cut off here because pyais reads the checksum from the last comma field;
- an epoch (s or ms) or ISO-8601 timestamp in front of the sentence, followed by blanks or
  ``;``;
- Gatehouse ``$PGHP`` lines, which carry the time of the VDM lines that follow them: returned
  as a time context (:attr:`ParsedLine.context_ms`), not as a sentence;
- several sentences on one line (each possibly with its own tag block), also when joined by
  the literal text ``\\r\\n`` or ``\\x0d\\x0a`` (seen in dma ais250.txt and gpsd sample.aivdm).

Everything else is classified with a :class:`~mda.errors.RejectReason` so that the decoder can
count it: nothing is dropped silently.

The tag-block checksum is deliberately *not* enforced: real feeds write stale or dummy ones
(Kystverket reuses the checksum of the ``c:`` block on its ``g:`` blocks, Spire writes
``*00``), while the sentence's own checksum still protects the payload. A tag block that
cannot be parsed at all (no ``*``, a non-numeric ``c:``) rejects its sentence as
``BAD_TAG_BLOCK``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final, NamedTuple

from pyais.exceptions import AISBaseException
from pyais.messages import GatehouseSentence, NMEASentenceFactory

from mda.errors import RejectReason
from mda.model import EARLIEST_EVENT_MS, LATEST_EVENT_MS, TimeSource

#: Lines longer than this are rejected without being scanned (a binary file, a stuck socket).
MAX_LINE_CHARS: Final = 4096
#: Epoch values above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
EPOCH_MS_THRESHOLD: Final = 100_000_000_000

_PREFIX_RE: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{9,13}(?:\.\d+)?)"
    r"[\s;,]*"
)
#: An optional tag block followed by a sentence; a sentence ends where the next one starts.
_SEGMENT_RE: Final = re.compile(r"(?:\\([^\\]*)\\)?([!$][^!$\\]*)")
_AIS_TYPES: Final = frozenset({"VDM", "VDO"})


# The three result types are NamedTuples rather than frozen dataclasses: they are built for
# every input line, and a frozen dataclass costs about a microsecond more per instance, which
# is a tenth of pyais's own per-sentence decode time. They are just as immutable.


class SentencePart(NamedTuple):
    """One AIS sentence found on a line, ready for ``NMEASentenceFactory.produce``.

    ``event_ms``/``time_source`` are ``None`` when the line itself carries no time (the decoder
    then uses a preceding ``$PGHP`` or the ingest time). ``group_id`` is the tag-block ``g:``
    group id when the sentence belongs to a valid multi-sentence group.
    """

    nmea: bytes
    station: str | None = None
    event_ms: int | None = None
    time_source: TimeSource | None = None
    group_id: int | None = None


class LineProblem(NamedTuple):
    """Something on the line that cannot become a sentence, with the reason it is rejected."""

    reason: RejectReason
    detail: str


class ParsedLine(NamedTuple):
    """What one physical line holds: sentences, problems and/or a ``$PGHP`` time context."""

    sentences: tuple[SentencePart, ...] = ()
    problems: tuple[LineProblem, ...] = ()
    context_ms: int | None = None


def _problem(reason: RejectReason, detail: str) -> ParsedLine:
    return ParsedLine(problems=(LineProblem(reason, detail),))


#: How far ahead of its receipt (the line's ``ingest_ms``) an event time may be. A receiver
#: whose clock is set to local time instead of UTC is up to 14 h ahead, and its reports still
#: agree among themselves; a clock a day or more ahead (a wrong date) would carry its feed's
#: watermark that far into the future: every track of the feed would expire at once (its state
#: lost, its alerts raised again when it is next heard) and gaps would go unseen meanwhile.
AHEAD_OF_RECEIPT_MS: Final = 86_400_000

#: How far ahead of its receipt a line from a live receiver may be dated. There the receipt
#: is the moment the line arrived, so a time ahead of it is a wrong clock: the receiving
#: station's, or ours. One station of an aggregated feed whose clock is ahead carries the
#: feed's watermark ahead with it, and every other vessel of the feed then looks silent
#: early: with a station 9 min ahead, a vessel silent for 25 min was alerted as an AIS_GAP
#: (30 min). Such a line is dated by its receipt instead (``time_source`` ``"ingest"``) and
#: counted; the report itself is good. So is a live line dated before 2000 or after 2099 (a
#: receiver that booted without a time fix says 1970 or 1980; a GPS week-number rollover,
#: 1999). A minute covers a receiver's clock drift, while moving a gap no more than a minute
#: early. Replayed files are not live (their lines share the replay's start as receipt) and
#: keep :data:`AHEAD_OF_RECEIPT_MS` and the refusal. A live line dated *behind* its receipt
#: keeps its time: latency (satellite AIS: hours) and a recording streamed over TCP look so;
#: except 1024 weeks behind (:data:`GPS_ROLLOVER_MS`).
LIVE_AHEAD_OF_RECEIPT_MS: Final = 60_000

#: A GPS week-number rollover: a receiver whose firmware counts GPS weeks from the wrong epoch
#: dates every line 1024 weeks (19.6 years) back — in 2026, in 2006 or 2007, a date a file or
#: a feed can have — and is otherwise right to the second; the reports are good. A live line
#: dated that far behind its receipt, give or take :data:`ROLLOVER_SLACK_MS`, is dated by its
#: receipt (counted, and logged once per clock, like a clock ahead). Before, such a station's
#: vessels were tracked 19.6 years in the past: their tracks expired at once, and their alerts
#: were dated then. (Two rollovers back is before 2000 until 2039, refused as such.)
GPS_ROLLOVER_MS: Final = 1024 * 7 * 86_400_000
#: How far from exactly 1024 weeks behind its receipt a live line is still a rollover: a day
#: (its latency and drift; a recording streamed live falls in it only by a day's coincidence).
ROLLOVER_SLACK_MS: Final = 86_400_000
#: A live line dated further behind its receipt than this may be a rollover (the decoder's
#: quick test before :func:`implausible_event_time`).
ROLLOVER_BEHIND_MS: Final = GPS_ROLLOVER_MS - ROLLOVER_SLACK_MS


def implausible_event_time(
    event_ms: int, ingest_ms: int, ahead_ms: int = AHEAD_OF_RECEIPT_MS
) -> str | None:
    """Why a time read from a line cannot be its event time (``None``: it can).

    ``ingest_ms`` is when the line was received (0: not known, as in tests and tools, and
    then only the fixed bounds apply), and ``ahead_ms`` how far ahead of that it may be
    (:data:`LIVE_AHEAD_OF_RECEIPT_MS` for a live line, which may not be a GPS week-number
    rollover behind it either: :data:`GPS_ROLLOVER_MS`). Not for the ingest time itself, the
    time of last resort, which is the system's own clock.
    """
    if event_ms < EARLIEST_EVENT_MS:
        return f"event time {_readable(event_ms)} is before 2000"
    if event_ms >= LATEST_EVENT_MS:
        return f"event time {_readable(event_ms)} is after 2099"
    if ingest_ms > 0 and event_ms > ingest_ms + ahead_ms:
        return (
            f"event time {_readable(event_ms)} is {_span(event_ms - ingest_ms)} ahead of the "
            f"line's receipt ({_readable(ingest_ms)})"
        )
    if (
        ahead_ms == LIVE_AHEAD_OF_RECEIPT_MS
        and ingest_ms > 0
        and abs(ingest_ms - event_ms - GPS_ROLLOVER_MS) <= ROLLOVER_SLACK_MS
    ):
        return (
            f"event time {_readable(event_ms)} is 1024 weeks behind the line's receipt "
            f"({_readable(ingest_ms)}): a GPS week-number rollover"
        )
    return None


def clock_offset_text(event_ms: int, received_ms: int) -> str:
    """A clock against a line's receipt, for the operator: ``"2026-06-01T12:09:00Z at our
    receipt 2026-06-01T12:00:00Z (9.0 min ahead)"``."""
    offset = event_ms - received_ms
    way = "ahead" if offset >= 0 else "behind"
    return f"{_readable(event_ms)} at our receipt {_readable(received_ms)} ({_span(offset)} {way})"


def _span(ms: int) -> str:
    """A duration's size in the unit that reads best: 45.0 s, 9.0 min, 48.0 h, 16,800 days."""
    s = abs(ms) / 1000
    if s < 120:
        return f"{s:,.1f} s"
    if s < 7200:
        return f"{s / 60:,.1f} min"
    if s < 259_200:
        return f"{s / 3600:,.1f} h"
    return f"{s / 86_400:,.0f} days"


def _readable(ms: int) -> str:
    """An epoch-ms value for a message: ISO-8601 when it is a date, else the number."""
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms"


def epoch_to_ms(value: str) -> int | None:
    """Epoch seconds or milliseconds (by magnitude, see :data:`EPOCH_MS_THRESHOLD`) → ms.

    Returns ``None`` when ``value`` is not a non-negative decimal number.
    """
    if value.isdigit():
        n = int(value)
        return n if n > EPOCH_MS_THRESHOLD else n * 1000
    head, dot, frac = value.partition(".")
    if not (dot and head.isdigit() and frac.isdigit()):
        return None
    x = float(value)
    return round(x) if x > EPOCH_MS_THRESHOLD else round(x * 1000)


def iso_to_ms(value: str) -> int | None:
    """ISO-8601 date-time → epoch ms; a value without a zone is taken as UTC (feeds log UTC)."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def plain_sentence(text: str) -> bool:
    """True when ``text`` is exactly one bare VDM/VDO sentence: no envelope, no blanks.

    A cheap test that lets the decoder skip :func:`parse_line` for the commonest line.
    """
    return (
        text[:1] == "!"
        and text.find("*") == len(text) - 3
        and text.find(",") == 6
        and text[3:6] in _AIS_TYPES
        and "\\" not in text
        and text.isascii()
    )


def parse_line(text: str) -> ParsedLine:
    """Split one physical line into its sentences, problems and time context.

    Pure and total: it never raises for bad input, every unusable piece is a
    :class:`LineProblem`. A line may hold both sentences and problems (a good sentence
    followed by junk).
    """
    if len(text) > MAX_LINE_CHARS:
        return _problem(RejectReason.LINE_TOO_LONG, f"{len(text)} characters")
    s = text.strip()
    if not s:
        return _problem(RejectReason.EMPTY_LINE, "blank line")
    c0 = s[0]
    if c0 == "#":
        return _problem(RejectReason.NOT_NMEA, "comment")
    if not s.isascii():
        return _problem(RejectReason.BAD_ENCODING, "non-ASCII characters")
    prefix_ms: int | None = None
    if c0.isdigit():
        m = _PREFIX_RE.match(s)
        if m is None:
            return _problem(RejectReason.NOT_NMEA, "no sentence start")
        stamp = m.group(1)
        prefix_ms = iso_to_ms(stamp) if "-" in stamp else epoch_to_ms(stamp)
        s = s[m.end() :]
        if prefix_ms is None or not s:
            return _problem(RejectReason.NOT_NMEA, "timestamp without a sentence")
        c0 = s[0]
    if c0 != "!" and c0 != "$" and c0 != "\\":
        return _problem(RejectReason.NOT_NMEA, "no sentence start")

    # The common case (one plain sentence) skips the segment scan.
    if c0 == "!" and "\\" not in s:
        if s.find("*") == len(s) - 3 and s.find(",") == 6 and s[3:6] in _AIS_TYPES:
            # Junk in front of a sentence on such a line fails the sentence checksum.
            if prefix_ms is None:
                return ParsedLine((SentencePart(s.encode("ascii")),))
            return ParsedLine((SentencePart(s.encode("ascii"), None, prefix_ms, "line"),))
        sentences: list[SentencePart] = []
        problems: list[LineProblem] = []
        context: list[int] = []
        _segment(None, s, prefix_ms, sentences, problems, context)
        if problems:
            return ParsedLine(tuple(sentences), tuple(problems))
        return ParsedLine(tuple(sentences))
    if c0 == "$" and "\\" not in s and "!" not in s and s.count("$") == 1:
        # One non-AIS sentence (a receiver's GPS, compass and wind lines; a $PGHP time):
        # the line is the whole of its only segment, as _parse_segments would find it.
        sentences = []
        problems = []
        context = []
        _segment(None, s, prefix_ms, sentences, problems, context)  # always yields one thing
        return ParsedLine(tuple(sentences), tuple(problems), context[-1] if context else None)
    end = s.find("\\", 1)
    if (
        c0 == "\\"
        and s[end + 1 : end + 2] == "!"
        and s.count("\\") == 2
        and s.count("!") == 1
        and "$" not in s
    ):
        # One tag block and one sentence (aisdb, Kystverket, MarineTraffic feeds).
        sentences = []
        problems = []
        _segment(s[1:end], s[end + 1 :], prefix_ms, sentences, problems, [])
        return ParsedLine(tuple(sentences), tuple(problems))
    return _parse_segments(s, prefix_ms)


def _parse_segments(s: str, prefix_ms: int | None) -> ParsedLine:
    if "\\" in s:
        # Literal escape text joining two sentences (a log written with repr()).
        s = s.replace("\\r\\n", " ").replace("\\x0d\\x0a", " ")
    sentences: list[SentencePart] = []
    problems: list[LineProblem] = []
    context: list[int] = []
    pos = 0
    for m in _SEGMENT_RE.finditer(s):
        gap = s[pos : m.start()]
        if gap.strip():
            problems.append(LineProblem(RejectReason.NOT_NMEA, f"junk {gap.strip()[:40]!r}"))
        pos = m.end()
        _segment(m.group(1), m.group(2), prefix_ms, sentences, problems, context)
    tail = s[pos:]
    if tail.strip():
        problems.append(LineProblem(RejectReason.NOT_NMEA, f"junk {tail.strip()[:40]!r}"))
    if not (sentences or problems or context):
        problems.append(LineProblem(RejectReason.NOT_NMEA, "no sentence"))
    return ParsedLine(tuple(sentences), _merged(problems), context[-1] if context else None)


def _merged(problems: list[LineProblem]) -> tuple[LineProblem, ...]:
    """One problem per reason and line: a garbled line of five ``$`` fragments is one reject."""
    if len(problems) < 2:
        return tuple(problems)
    by_reason: dict[RejectReason, list[str]] = {}
    for p in problems:
        by_reason.setdefault(p.reason, []).append(p.detail)
    return tuple(
        LineProblem(
            reason, details[0] if len(details) == 1 else f"{details[0]} (+{len(details) - 1})"
        )
        for reason, details in by_reason.items()
    )


def _segment(
    tag: str | None,
    body: str,
    prefix_ms: int | None,
    sentences: list[SentencePart],
    problems: list[LineProblem],
    context: list[int],
) -> None:
    """Classify one ``[tag block] sentence [trailer]`` segment and append what it yields."""
    body = body.rstrip()
    comma = body.find(",")
    if comma < 0:
        problems.append(LineProblem(RejectReason.MALFORMED_SENTENCE, "no fields"))
        return
    address = body[1:comma]
    if address[2:].upper() not in _AIS_TYPES or len(address) != 5:
        if body[0] == "$" and address == "PGHP":
            _gatehouse(body, problems, context)
        else:
            problems.append(LineProblem(RejectReason.UNSUPPORTED_SENTENCE, address[:10]))
        return

    star = body.find("*")
    station: str | None = None
    trailer_ms: int | None = None
    if star >= 0 and len(body) > star + 3:
        trailer = body[star + 3 :].strip()
        body = body[: star + 3]
        if trailer:
            if trailer[0] != ",":
                problems.append(
                    LineProblem(RejectReason.MALFORMED_SENTENCE, "text after the checksum")
                )
                return
            for field in trailer[1:].split(","):
                if not field:
                    continue
                f0 = field[0]
                if (f0 == "r" or f0 == "b") and station is None and len(field) > 1:
                    station = field
                elif trailer_ms is None and field.isdigit():
                    trailer_ms = epoch_to_ms(field)

    event_ms: int | None = None
    time_source: TimeSource | None = None
    group_id: int | None = None
    if tag is not None:
        if "*" not in tag:
            problems.append(LineProblem(RejectReason.BAD_TAG_BLOCK, "tag block without '*'"))
            return
        c, s_field, group_id = _tag_fields(tag)
        if c is not None:
            event_ms = epoch_to_ms(c)
            if event_ms is None:
                problems.append(LineProblem(RejectReason.BAD_TAG_BLOCK, f"c:{c[:20]}"))
                return
            time_source = "tagblock"
        if s_field:
            station = s_field
    if event_ms is None:
        if trailer_ms is not None:
            event_ms, time_source = trailer_ms, "uscg"
        elif prefix_ms is not None:
            event_ms, time_source = prefix_ms, "line"
    sentences.append(SentencePart(body.encode("ascii"), station, event_ms, time_source, group_id))


def _tag_fields(tag: str) -> tuple[str | None, str | None, int | None]:
    """The ``c:``, ``s:`` and valid ``g:`` group id of a tag block (``fields*hh``).

    pyais's ``TagBlock`` gives the same fields but costs ~4 µs per line (it verifies the
    checksum we deliberately do not enforce, and wraps every field in a checked property), a
    third of a whole sentence decode; these three fields are all the decoder needs.
    Malformed fields are ignored, like ``TagBlock`` does.
    """
    c = s_field = None
    group_id = None
    for f in tag[: tag.find("*")].split(","):
        code, colon, value = f.partition(":")
        if not colon:
            continue
        if code == "c":
            c = value
        elif code == "s":
            s_field = value
        elif code == "g":
            parts = value.split("-")
            if len(parts) == 3 and all(p.isdigit() for p in parts):
                num, tot, gid = int(parts[0]), int(parts[1]), int(parts[2])
                if 1 <= num <= tot and tot > 1:
                    group_id = gid
    return c, s_field, group_id


def _gatehouse(body: str, problems: list[LineProblem], context: list[int]) -> None:
    """A ``$PGHP,1,YYYY,M,D,h,m,s,ms,...`` line: the time of the VDM lines that follow."""
    try:
        sentence = NMEASentenceFactory.produce(body.encode("ascii"))
    except AISBaseException as exc:
        problems.append(LineProblem(RejectReason.MALFORMED_SENTENCE, f"$PGHP: {exc}"[:80]))
        return
    if not isinstance(sentence, GatehouseSentence):  # pragma: no cover - factory contract
        problems.append(LineProblem(RejectReason.MALFORMED_SENTENCE, "$PGHP"))
        return
    if not sentence.is_valid:
        problems.append(LineProblem(RejectReason.BAD_CHECKSUM, "$PGHP"))
        return
    ts = sentence.timestamp.replace(tzinfo=UTC)
    context.append(round(ts.timestamp() * 1000))
