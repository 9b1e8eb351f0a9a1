"""Live receivers: NMEA lines from a UDP socket or a TCP server onto ``ais.raw``.

The outputs of AIS-catcher, rtl-ais or a shore station: ``udp://HOST:PORT`` listens for
datagrams (one or more lines each); ``tcp://HOST:PORT`` connects to a server that streams
lines, and reconnects with exponential backoff whenever the connection drops or is refused.

Lines are read raw and passed on whole (tag blocks included), not parsed here: pyais's socket
readers parse as they read and silently drop what they cannot parse, while the decode stage
counts every reject by reason. Each line becomes a :class:`~mda.model.RawLine` stamped with
the wall-clock time of its receipt (``ingest_ms``: the legitimate ingest time, the event time
of last resort), batched into ``ais.raw`` messages keyed by source as ``mda replay`` does: a
batch is sent when it holds ``batch_lines`` lines or its first line is ``max_delay_s`` old.

What happens (lines and bytes received, connection attempts, connection up or down) is told
to an :class:`IngestObserver`; the default does nothing, ``mda ingest`` exports it to
Prometheus (``streams/ingest_cli.py``), so this module stays free of metrics libraries.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from mda.model import RawLine
from replay.files import MAX_RAW_LINE_CHARS

log = logging.getLogger(__name__)

Send = Callable[[list[RawLine]], None]


@dataclass(frozen=True)
class Endpoint:
    scheme: Literal["udp", "tcp"]
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_endpoint(url: str) -> Endpoint:
    """``udp://HOST:PORT`` or ``tcp://HOST:PORT``; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or parts.port is None:
        raise ValueError(f"{url!r}: expected udp://HOST:PORT or tcp://HOST:PORT")
    scheme: Literal["udp", "tcp"] = "udp" if parts.scheme == "udp" else "tcp"
    return Endpoint(scheme, parts.hostname, parts.port)


@dataclass
class IngestCounts:
    lines: int = 0
    bytes: int = 0
    datagrams: int = 0
    connections: int = 0
    batches: int = 0
    #: TCP connection attempts that failed (refused, unreachable, timed out).
    connect_failures: int = 0


class IngestObserver:
    """Hooks for the receiver's events; this base does nothing (see ``mda ingest``)."""

    def received(self, lines: int, nbytes: int) -> None:
        """``lines`` lines (``nbytes`` bytes of input) have been read from the endpoint."""

    def connect_attempt(self, ok: bool) -> None:
        """A TCP connection attempt (or the UDP bind) succeeded or failed."""

    def connection(self, up: bool) -> None:
        """The endpoint is now connected (bound) or not."""


@dataclass
class Batcher:
    """Lines in, batches out: full at ``batch_lines``, or due ``max_delay_s`` after the first."""

    source: str
    send: Send
    batch_lines: int = 500
    max_delay_s: float = 0.2
    counts: IngestCounts = field(default_factory=IngestCounts)
    observer: IngestObserver = field(default_factory=IngestObserver)
    _batch: list[RawLine] = field(default_factory=list)
    _first_s: float = 0.0

    def add(self, texts: list[str], ingest_ms: int) -> None:
        for text in texts:
            self.counts.lines += 1
            if not self._batch:
                self._first_s = time.monotonic()
            self._batch.append(RawLine(self.source, self.counts.lines, text, ingest_ms))
            if len(self._batch) >= self.batch_lines:
                self.flush()

    def flush_if_due(self) -> None:
        if self._batch and time.monotonic() - self._first_s >= self.max_delay_s:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self.counts.batches += 1
            self.send(batch)


def _text(raw: bytes) -> str:
    return raw[:MAX_RAW_LINE_CHARS].decode("utf-8", errors="replace").rstrip("\r")


def split_lines(buffer: bytes) -> tuple[list[str], bytes]:
    """Complete lines of a stream buffer, and the incomplete rest (kept for the next read).

    An unterminated rest longer than a line may be is cut and passed on as a line (the decoder
    rejects it as too long), so a stream without newlines cannot grow memory without bound.
    """
    *complete, rest = buffer.split(b"\n")
    lines = [_text(c) for c in complete]
    if len(rest) > MAX_RAW_LINE_CHARS:
        lines.append(_text(rest))
        rest = b""
    return lines, rest


def _now_ms() -> int:
    return int(time.time() * 1000)


def run_udp(endpoint: Endpoint, batcher: Batcher, stop: threading.Event) -> None:
    """Receive datagrams until ``stop`` is set; each datagram holds whole lines."""
    observer = batcher.observer
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # A burst from a busy receiver must not overflow the kernel buffer while we send.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        try:
            sock.bind((endpoint.host, endpoint.port))
        except OSError:
            observer.connect_attempt(False)
            raise
        observer.connect_attempt(True)
        observer.connection(True)
        sock.settimeout(0.1)
        log.info("listening on %s", endpoint)
        try:
            while not stop.is_set():
                try:
                    data, _ = sock.recvfrom(65535)
                except TimeoutError:
                    batcher.flush_if_due()
                    continue
                batcher.counts.datagrams += 1
                batcher.counts.bytes += len(data)
                texts = [_text(d) for d in data.split(b"\n") if d.strip(b"\r")]
                observer.received(len(texts), len(data))
                batcher.add(texts, _now_ms())
                batcher.flush_if_due()
        finally:
            observer.connection(False)
    batcher.flush()


def run_tcp(
    endpoint: Endpoint,
    batcher: Batcher,
    stop: threading.Event,
    *,
    backoff_s: tuple[float, float] = (0.5, 30.0),
) -> None:
    """Read lines from a TCP server until ``stop``; reconnect with backoff when it drops."""
    observer = batcher.observer
    delay_s = backoff_s[0]
    while not stop.is_set():
        try:
            sock = socket.create_connection((endpoint.host, endpoint.port), timeout=5)
        except OSError as exc:
            batcher.counts.connect_failures += 1
            observer.connect_attempt(False)
            log.warning("%s: %s; retrying in %.1fs", endpoint, exc, delay_s)
            stop.wait(delay_s)
            delay_s = min(delay_s * 2, backoff_s[1])
            continue
        batcher.counts.connections += 1
        observer.connect_attempt(True)
        observer.connection(True)
        delay_s = backoff_s[0]
        log.info("connected to %s", endpoint)
        rest = b""
        with sock:
            try:
                sock.settimeout(0.1)
                while not stop.is_set():
                    try:
                        data = sock.recv(65536)
                    except TimeoutError:
                        batcher.flush_if_due()
                        continue
                    except OSError as exc:
                        log.warning("%s: %s", endpoint, exc)
                        break
                    if not data:
                        log.warning("%s closed the connection; reconnecting", endpoint)
                        break
                    batcher.counts.bytes += len(data)
                    lines, rest = split_lines(rest + data)
                    observer.received(len(lines), len(data))
                    batcher.add(lines, _now_ms())
                    batcher.flush_if_due()
            finally:
                observer.connection(False)
        if rest.strip(b"\r"):
            observer.received(1, 0)  # its bytes were counted as they came
            batcher.add([_text(rest)], _now_ms())  # a cut line still reaches the decoder
        batcher.flush()
        if not stop.is_set():
            stop.wait(backoff_s[0])
    batcher.flush()


def run(endpoint: Endpoint, batcher: Batcher, stop: threading.Event) -> None:
    """Ingest from ``endpoint`` until ``stop`` is set; the last batch is flushed."""
    if endpoint.scheme == "udp":
        run_udp(endpoint, batcher, stop)
    else:
        run_tcp(endpoint, batcher, stop)
