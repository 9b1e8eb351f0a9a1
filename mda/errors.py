"""The one exception hierarchy of the domain layer.

Agents catch :class:`MdaError` subclasses only: each carries a :class:`RejectReason` that is
counted in ``mda_messages_rejected_total{reason}`` and forwarded with the raw input to
``ais.rejected``. Any other exception is a bug and must surface loudly.
"""

from __future__ import annotations

import enum


class RejectReason(enum.StrEnum):
    """Closed set of reasons an input is rejected (a low-cardinality metric label)."""

    EMPTY_LINE = "empty_line"
    NOT_NMEA = "not_nmea"  # comments, GPS sentences, garbage bytes
    UNSUPPORTED_SENTENCE = "unsupported_sentence"  # valid NMEA but not AIS (e.g. $GPRMC)
    BAD_CHECKSUM = "bad_checksum"
    BAD_TAG_BLOCK = "bad_tag_block"
    MALFORMED_SENTENCE = "malformed_sentence"
    EMPTY_PAYLOAD = "empty_payload"
    ORPHAN_FRAGMENT = "orphan_fragment"  # a later fragment whose first part was never seen
    INCOMPLETE_MULTIPART = "incomplete_multipart"  # a multipart message that never completed
    DECODE_ERROR = "decode_error"  # payload bits pyais cannot decode (of a type a rule reads)
    BAD_MMSI = "bad_mmsi"  # MMSI 0, or (CSV) not a number a 30-bit AIS field can hold
    NO_REPORT = "no_report"  # decoded, but a message type we do not track (counted, not an error)
    BAD_CSV_ROW = "bad_csv_row"
    LINE_TOO_LONG = "line_too_long"
    BAD_ENCODING = "bad_encoding"
    LATE_EVENT = "late_event"
    BAD_REFERENCE_DATA = "bad_reference_data"  # a reference file (zones, MID table) is malformed
    TRUNCATED_INPUT = "truncated_input"  # a file (e.g. gzip) ended in the middle of its data
    BAD_MESSAGE = "bad_message"  # a message on a pipeline topic that is not one of ours
    BAD_TIMESTAMP = "bad_timestamp"  # a time before 2000, after 2099, or a day ahead of receipt


class MdaError(Exception):
    """Base of every expected, data-caused failure in :mod:`mda`."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class DecodeError(MdaError):
    """An input line or sentence could not be turned into a report."""


class ReferenceDataError(MdaError):
    """A reference-data file (CSV, GeoJSON) is malformed."""


class ReferenceFileError(ReferenceDataError):
    """A reference set (DESIGN.md §7 CSVs) failed validation: every problem, each with its
    file name and line number. Nothing of the set is loaded."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(RejectReason.BAD_REFERENCE_DATA, "\n".join(problems))
        self.problems = tuple(problems)
