"""Core value types shared by every stage: decoded reports and rejects.

All values are frozen; times are integer epoch milliseconds (``*_ms``) on the wire and in
state, aware UTC datetimes only at the edges (alert messages, CLI output).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NewType, TypeVar

import orjson

from mda.rows import RowCheck, hints_of

Mmsi = NewType("Mmsi", int)
H3Cell = NewType("H3Cell", str)
_T = TypeVar("_T")

#: The largest MMSI an AIS message can carry (a 30-bit field).
MAX_MMSI = 2**30 - 1
#: The earliest event time a line may carry: 2000-01-01. AIS was adopted by the IMO in 1998
#: and carried from 2002; a receiver whose GPS week number rolled over says 1999 or 1980.
EARLIEST_EVENT_MS = 946_684_800_000
#: The latest: 2100-01-01. Beyond it, a corrupt or hostile value (a tag block's ``c:`` of
#: 22 digits once made the decode stage's message unwritable, an int over 64 bits, and a
#: year past 9999 would have failed the alert's timestamp). Rows read from the internal
#: topics are held to it too (:data:`REPORT_ROW_CHECK`).
LATEST_EVENT_MS = 4_102_444_800_000

AisClass = Literal["A", "B"]
#: Where a report's event time came from, best first (DESIGN.md §4).
TimeSource = Literal["tagblock", "uscg", "line", "ingest"]

#: Message types that carry a position we track.
POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 27})
#: Message types that carry static/voyage data.
STATIC_TYPES = frozenset({5, 19, 24})
CLASS_A_TYPES = frozenset({1, 2, 3, 5})
CLASS_B_TYPES = frozenset({18, 19, 24})
#: The transceiver class a message type implies (type 27 and others: unknown).
_CLASS_A: AisClass = "A"
_CLASS_B: AisClass = "B"
CLASS_BY_TYPE: dict[int, AisClass] = {t: _CLASS_A for t in CLASS_A_TYPES} | {
    t: _CLASS_B for t in CLASS_B_TYPES
}


@dataclass(frozen=True, slots=True)
class Report:
    """One decoded AIS report, normalised: every "not available" value is ``None``.

    ``dedup_key`` identifies the transmission (the assembled payload); the same sentence heard
    by several stations has the same key and is suppressed by the track stage.
    """

    mmsi: int
    msg_type: int
    event_ms: int
    time_source: TimeSource
    source: str
    station: str | None = None
    lat: float | None = None
    lon: float | None = None
    sog_kn: float | None = None
    cog_deg: float | None = None
    heading_deg: int | None = None
    nav_status: int | None = None
    ais_class: AisClass | None = None
    name: str | None = None
    callsign: str | None = None
    imo: int | None = None
    ship_type: int | None = None
    dedup_key: str = ""

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None

    def to_dict(self) -> dict[str, Any]:
        # Flat fields: no need for asdict's recursive deep copy.
        return {f: getattr(self, f) for f in REPORT_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        return cls(**d)


def slot_builder(cls: type[_T], names: Sequence[str]) -> Callable[[Sequence[Any]], _T]:
    """A function that makes a ``cls`` from all its field values, without its ``__init__``.

    The values come as a sequence in ``names`` order. For the hot paths that build a frozen
    slotted dataclass once per report: the generated function fills an instance of a twin
    class (the same slots, not frozen) with plain attribute stores, which the interpreter
    specialises, then gives it its class (``obj.__class__ = cls``: CPython allows it between
    classes of the same slot layout). The result is an ordinary frozen ``cls``; building it
    costs ~1/3 of filling the slots through their descriptors and ~1/8 of ``__init__``. No
    field is converted or checked: the caller vouches for the values (a row read from a
    topic, with a :class:`~mda.rows.RowCheck`).
    """
    slots = tuple(getattr(cls, "__slots__", ()))
    if cls.__bases__ != (object,) or sorted(slots) != sorted(names):
        raise TypeError(f"{cls.__name__}: slot_builder needs every slot named, and no base")
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": slots})
    lines = ["def build(values):", "    new = _new(_twin)"]
    for i, name in enumerate(names):
        lines.append(f"    new.{name} = values[{i}]")
    lines += ["    new.__class__ = _cls", "    return new"]
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": cls}
    exec("\n".join(lines), namespace)  # the source is made here, from the field names
    build: Callable[[Any], _T] = namespace["build"]
    build.__qualname__ = f"slot_builder.<{cls.__name__}>"
    return build


REPORT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Report))
#: A report as a row: its field values in :data:`REPORT_FIELDS` order (its ``ais.reports`` wire
#: form: orjson writes a tuple ~3x faster than a dataclass, reads the list back ~2.5x faster
#: than an object, and the message is about half the size).
report_row: Callable[[Report], tuple[Any, ...]] = operator.attrgetter(*REPORT_FIELDS)
#: The report from its row (:func:`report_row`), without ``__init__`` (:func:`slot_builder`).
report_from_row: Callable[[Sequence[Any]], Report] = slot_builder(Report, REPORT_FIELDS)
#: The bounds of the numbers of every row read from an internal topic (reports, presences):
#: an MMSI an AIS message can carry, a position h3 takes, an event time an alert can carry.
ROW_BOUNDS: dict[str, tuple[float, float]] = {
    "mmsi": (1, MAX_MMSI),
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
    "event_ms": (0, LATEST_EVENT_MS - 1),
}
#: What a report row read from ``ais.reports`` must be before :func:`report_from_row` takes
#: it: :class:`Report`'s columns and types, a latitude and longitude h3 takes; a report
#: written without an optional field (another version, or as an object) takes its default.
REPORT_ROW_CHECK = RowCheck(
    REPORT_FIELDS,
    hints_of(Report),
    bounds=ROW_BOUNDS,
    defaults={
        f.name: f.default
        for f in dataclasses.fields(Report)
        if f.default is not dataclasses.MISSING
    },
)
#: A report as a row (:func:`report_row`), as :class:`~mda.decode.Decoder` gives it with
#: ``rows=True``; and where a row holds the fields the decode stage routes by.
ReportRow = tuple[Any, ...]
ROW_MMSI = REPORT_FIELDS.index("mmsi")
ROW_MSG_TYPE = REPORT_FIELDS.index("msg_type")
ROW_EVENT_MS = REPORT_FIELDS.index("event_ms")
ROW_SOURCE = REPORT_FIELDS.index("source")
ROW_STATION = REPORT_FIELDS.index("station")


@dataclass(frozen=True, slots=True)
class Reject:
    """A rejected input: the raw text, where it came from, and why (a closed reason)."""

    reason: str
    detail: str
    source: str
    line_no: int
    raw: str
    event_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Its fields as a dict (its ``ais.rejected`` wire form): flat values, so no
        ``asdict`` deep copy, and orjson writes this dict ~2.5x faster than the dataclass."""
        return {
            "reason": self.reason,
            "detail": self.detail,
            "source": self.source,
            "line_no": self.line_no,
            "raw": self.raw,
            "event_ms": self.event_ms,
        }


@dataclass(frozen=True, slots=True)
class RawLine:
    """One physical input line as it travels on ``ais.raw`` (the wire record of that topic).

    ``ingest_ms`` is when the line entered the system; it is the event time of last resort
    (DESIGN.md §4), so it must come from the edge, never from a clock inside :mod:`mda`.
    ``csv_header`` is set when the line is a row of a decoded-CSV file (the header columns).
    """

    source: str
    line_no: int
    text: str
    ingest_ms: int
    csv_header: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line_no": self.line_no,
            "text": self.text,
            "ingest_ms": self.ingest_ms,
            "csv_header": list(self.csv_header) if self.csv_header is not None else None,
        }

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> RawLine:
        """:meth:`from_dict` for the decode stage's hot path (:func:`raw_lines_from_wire`)."""
        return raw_lines_from_wire({"lines": (d,)})[0]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RawLine:
        header = d.get("csv_header")
        return cls(
            source=str(d["source"]),
            line_no=int(d["line_no"]),
            text=str(d["text"]),
            ingest_ms=int(d["ingest_ms"]),
            csv_header=tuple(str(h) for h in header) if header is not None else None,
        )


#: The columns of a line in an ``ais.raw`` batch, a row (each message names them): rows are
#: ~30% smaller than objects and orjson reads them in about half the time.
RAW_LINE_FIELDS: tuple[str, ...] = ("source", "line_no", "text", "ingest_ms", "csv_header")
_raw_line_row = operator.attrgetter(*RAW_LINE_FIELDS)
_raw_line: Callable[[Sequence[Any]], RawLine] = slot_builder(RawLine, RAW_LINE_FIELDS)


#: The largest message the pipeline writes (bytes of its value), half of Apache Kafka's default
#: ``message.max.bytes`` (1 MiB) and under Faust's and kafka-python's default largest request
#: (1,000,000 and 1,048,576 bytes): a batch of long lines (a line may hold up to 64 KiB, see
#: ``replay.files``) must not become a record the producer or the broker refuses.
MAX_MESSAGE_BYTES = 512 * 1024


def bounded(
    build: Callable[[list[_T]], bytes], rows: list[_T], max_bytes: int = MAX_MESSAGE_BYTES
) -> list[tuple[list[_T], bytes]]:
    """``build(rows)`` as one message, or, if that is larger than ``max_bytes``, consecutive
    runs of the rows, each built alone, halved until each fits: (the run, its message) in
    order. A single row too large goes alone (none of ours can be: the longest line is
    64 KiB, at most ~390 KiB as JSON). The check is one ``len`` on the usual path."""
    value = build(rows)
    if len(value) <= max_bytes or len(rows) <= 1:
        return [(rows, value)]
    half = len(rows) // 2
    return bounded(build, rows[:half], max_bytes) + bounded(build, rows[half:], max_bytes)


def raw_batch_to_json(
    lines: Iterable[RawLine], *, live: bool = False, feed: str | None = None
) -> bytes:
    """An ``ais.raw`` message: ``{"fields": RAW_LINE_FIELDS, "lines": [row…]}``, and
    ``"live": true`` when each line's ``ingest_ms`` is the moment it was received (a live
    receiver's lines; a replay stamps its start on every line), which lets the decode stage
    date a line from a wrong clock (ahead of the receipt, or no plausible date) by the receipt
    (:data:`~mda.lines.LIVE_AHEAD_OF_RECEIPT_MS`). ``"feed": name`` when the lines are of
    several files merged into one feed (``replay.producer.feed_lines``): past the decode
    stage they are one source, ``name``, with one event-time clock."""
    msg: dict[str, Any] = {"fields": RAW_LINE_FIELDS, "lines": [_raw_line_row(ln) for ln in lines]}
    if live:
        msg["live"] = True
    if feed is not None:
        msg["feed"] = feed
    return orjson.dumps(msg)


def raw_lines_from_wire(msg: dict[str, Any]) -> list[RawLine]:
    """The lines of an ``ais.raw`` message as orjson parsed it: rows in the order its
    ``fields`` names (:func:`raw_batch_to_json`), or objects (``{"lines": [{field: value}…]}``,
    the form before rows, and handy in tests).

    :meth:`RawLine.from_dict` of each line, built without ``__init__`` (:func:`slot_builder`)
    when every field already has its type (as our producers write it); anything else goes
    through ``from_dict``'s conversions. One call per batch: the decode stage's hot path.
    """
    fields = msg.get("fields")
    if fields is not None and tuple(fields) == RAW_LINE_FIELDS:
        rows = msg["lines"]
        objects = None
    else:
        # Objects, or rows in another column order (read by name): each line as a dict (kept
        # for from_dict, which raises for a missing field) and as a row in our order.
        objects = msg["lines"]
        if fields is not None:
            objects = [dict(zip(fields, row, strict=True)) for row in objects]
        rows = [tuple(d.get(f) for f in RAW_LINE_FIELDS) for d in objects]
    build = _raw_line
    from_dict = RawLine.from_dict
    out: list[RawLine] = []
    append = out.append
    for i, row in enumerate(rows):
        source, line_no, text, ingest_ms, header = row
        if (
            type(source) is str
            and type(line_no) is int
            and type(text) is str
            and type(ingest_ms) is int
            and header is None
        ):
            append(build(row))
        elif objects is not None:
            append(from_dict(objects[i]))
        else:
            append(from_dict(dict(zip(RAW_LINE_FIELDS, row, strict=True))))
    return out
