"""Starting ``mda worker`` processes for the integration tests: one place for env and logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kafka import KafkaAdminClient

from streams.broker import free_port


def worker_env(
    bootstrap: str,
    *,
    app_id: str,
    prefix: str,
    partitions: int,
    data_dir: Path,
    web_port: int | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a worker (``extra``: more ``MDA_*`` variables, e.g. MDA_ZONES)."""
    return {
        **os.environ,
        "MDA_KAFKA_BOOTSTRAP": bootstrap,
        "MDA_APP_ID": app_id,
        "MDA_TOPIC_PREFIX": prefix,
        "MDA_WEB_PORT": str(web_port or free_port()),
        "MDA_DATA_DIR": str(data_dir),
        "MDA_PARTITIONS": str(partitions),
        **extra,
    }


def spawn_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``mda worker`` (through the CLI) with stdout and stderr to ``log_path``.

    Stop it with :func:`streams.runner.stop_process`.
    """
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=log, stderr=log
        )


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The offsets ``group`` has committed on ``topic``, by partition (none: empty)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    return {tp.partition: om.offset for tp, om in committed.items() if tp.topic == topic}


@contextmanager
def paused(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """``proc`` stopped (SIGSTOP) for the block, continued after it."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)
