"""How fast ``mda ingest`` takes a live feed: lines received and acknowledged by the broker.

Starts the embedded broker and ``mda ingest`` (a real process, ``--metrics-port``), then
either serves the recorded lines from a TCP server as one burst (``--mode tcp``: what the
receiver and the producer can do), or sends them as UDP datagrams, one line each, paced at
``--rate`` lines/s (``--mode udp``: a receiver's shape; a rate above what ``mda ingest`` reads
overflows the socket's buffer and the kernel drops datagrams, which the received count shows).
Prints one line: lines, received, acknowledged, seconds and lines/s.

    python -m bench.ingest_rate --mode tcp
    python -m bench.ingest_rate --mode udp --rate 50000
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.soak import scrape
from replay.files import iter_raw_lines
from streams.admin import ensure_topics
from streams.broker import free_port, start_broker
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import topic_specs

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ais_nmea"
BUNDLED = Path(__file__).resolve().parents[1] / "replay" / "data"


def recorded_lines(n: int) -> list[bytes]:
    """``n`` real recorded lines (the shared recordings, else the bundled ones), repeated."""
    files = sorted(SHARED.glob("*")) or sorted(BUNDLED.glob("*.ais"))
    texts = [r.text for f in files for r in iter_raw_lines(f, ingest_ms=0) if r.text.strip()]
    return [f"{t}\r\n".encode() for t in (texts * (n // len(texts) + 1))[:n]]


def metric(port: int, name: str) -> float:
    """One counter of ``mda ingest``'s /metrics; -1 while it does not answer yet."""
    try:
        return scrape(port).get(name, 0.0)
    except OSError:
        return -1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("tcp", "udp"), default="tcp")
    parser.add_argument("--rate", type=float, default=50_000, help="udp: lines per second")
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    payloads = recorded_lines(args.lines)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        broker = start_broker(log_path=tmp / "broker.log")
        prefix = "ingestrate."
        ensure_topics(broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=2)))
        port, metrics_port = free_port(), free_port()
        started: dict[str, float] = {}
        if args.mode == "tcp":
            server = socket.socket()
            server.bind(("127.0.0.1", port))
            server.listen()

            def serve() -> None:
                conn, _ = server.accept()
                started["t"] = time.monotonic()
                with conn:
                    conn.sendall(b"".join(payloads))
                    time.sleep(60)

            threading.Thread(target=serve, daemon=True).start()
        env = {**os.environ, "MDA_KAFKA_BOOTSTRAP": broker.bootstrap, "MDA_TOPIC_PREFIX": prefix}
        with open(tmp / "ingest.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "ingest", f"{args.mode}://127.0.0.1:{port}",
                 "--metrics-port", str(metrics_port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            while metric(metrics_port, "mda_ingest_lines_received_total") < 0:
                time.sleep(0.2)
            time.sleep(1)
            t0 = time.monotonic()
            if args.mode == "udp":
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                    for i, p in enumerate(payloads):
                        sender.sendto(p, ("127.0.0.1", port))
                        if i % 100 == 99:
                            delay = t0 + (i + 1) / args.rate - time.monotonic()
                            if delay > 0:
                                time.sleep(delay)
            else:
                while "t" not in started:
                    time.sleep(0.001)
                t0 = started["t"]
            last, still, last_at = -1.0, 0, time.monotonic()
            while still < 40:  # until every line is acknowledged, or 2 s without progress
                sent = metric(metrics_port, "mda_ingest_lines_sent_total")
                if sent != last:
                    last, still, last_at = sent, 0, time.monotonic()
                if sent >= len(payloads):
                    break
                still += 1
                time.sleep(0.05)
            seconds = last_at - t0  # to the last acknowledgement seen
            received = metric(metrics_port, "mda_ingest_lines_received_total")
            sent = metric(metrics_port, "mda_ingest_lines_sent_total")
        finally:
            stop_process(proc)
            broker.stop()
    rate = f" at {args.rate:,.0f} lines/s" if args.mode == "udp" else " (one burst)"
    print(
        f"{args.mode}{rate}: {len(payloads):,} lines, {received:,.0f} received, "
        f"{sent:,.0f} acknowledged, in {seconds:.2f} s: {sent / seconds:,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
