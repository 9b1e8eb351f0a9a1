"""Read recorded AIS files as :class:`~mda.model.RawLine` values, one per physical line.

The reader does not judge content: every line, garbage included, is handed to the decoder,
which rejects what it cannot use (so that rejects are counted in one place). What it does:

- opens gzip transparently, detected by its magic bytes (recordings are often renamed);
- decodes bytes as UTF-8 with ``errors="replace"``, so undecodable bytes still make a line
  (which the decoder rejects as ``BAD_ENCODING``);
- recognises a decoded-CSV file by its header (the first non-blank line starts with
  ``MMSI,``): the header line is consumed, not yielded, and every following row carries it as
  ``csv_header``;
- keeps at most :data:`MAX_RAW_LINE_CHARS` bytes of a physical line (a binary file
  without newlines must not become one giant Kafka record); the decoder rejects such a line as
  ``LINE_TOO_LONG`` anyway.

A truncated or corrupt gzip file yields every line that could be read, then raises
:class:`TruncatedInputError`: the caller counts it (reason ``TRUNCATED_INPUT``) and carries on
with the next file.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from mda.errors import DecodeError, RejectReason
from mda.model import RawLine

GZIP_MAGIC: Final = b"\x1f\x8b"
#: Longest physical line kept (bytes, before decoding); the rest of that line is discarded.
MAX_RAW_LINE_CHARS: Final = 65536


class TruncatedInputError(DecodeError):
    """The file ended (or broke) in the middle of its compressed data."""

    def __init__(self, path: Path, lines_read: int, cause: BaseException) -> None:
        super().__init__(
            RejectReason.TRUNCATED_INPUT,
            f"{path.name}: stopped after {lines_read} lines ({type(cause).__name__}: {cause})",
        )
        self.path = path
        self.lines_read = lines_read


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes, whatever its name."""
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def _open(path: Path) -> BinaryIO:
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _physical_lines(fh: BinaryIO) -> Iterator[str]:
    limit = MAX_RAW_LINE_CHARS + 1
    while True:
        chunk = fh.readline(limit)
        if not chunk:
            return
        if len(chunk) == limit and not chunk.endswith(b"\n"):
            # Over-long line: keep its head, skip to the end of the physical line.
            chunk = chunk[:MAX_RAW_LINE_CHARS]
            while True:
                rest = fh.readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
        yield chunk.decode("utf-8", errors="replace").rstrip("\r\n")


def iter_raw_lines(
    path: Path, source: str | None = None, *, ingest_ms: int
) -> Generator[RawLine, None, None]:
    """Yield one :class:`RawLine` per physical line of ``path`` (gzip or plain, NMEA or CSV).

    ``source`` defaults to the file name; ``ingest_ms`` is stamped on every line (the event
    time of last resort, DESIGN.md §4) and comes from the caller, not from a clock here.
    Raises :class:`TruncatedInputError` after the last readable line of a broken gzip file.
    """
    name = source if source is not None else path.name
    line_no = 0
    header: tuple[str, ...] | None = None
    seen_content = False
    with _open(path) as fh:
        lines = _physical_lines(fh)
        while True:
            try:
                text = next(lines)
            except StopIteration:
                return
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise TruncatedInputError(path, line_no, exc) from exc
            line_no += 1
            if not seen_content and text.strip():
                seen_content = True
                if text.startswith("MMSI,"):
                    header = tuple(h.strip() for h in next(csv.reader([text])))
                    continue
            yield RawLine(name, line_no, text, ingest_ms, header)
