"""``mda run``: recorded files end to end through the real pipeline, alerts to JSON lines.

Starts (or uses) a broker, creates the topics, starts a worker process with an app id of its
own (or several, which share the partitions once all are in the group: ``wait_for_group``),
replays the files onto ``ais.raw``, then reads ``mda.alerts`` until the end-of-file control
record of every source has come through every partition (``streams.end_markers``) — at that
point every input line has been decoded, tracked and its alerts sent — and stops the worker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from tqdm import tqdm

from replay.producer import feed_key, raw_producer, replay_files, send_end
from streams.admin import ensure_topics
from streams.broker import free_port, start_broker
from streams.end_markers import EndMarkers
from streams.settings import Settings
from streams.topics import TopicNames, topic_specs


@dataclass
class RunSummary:
    lines: int = 0
    decoded: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    reports: int = 0
    duplicates: int = 0
    late: int = 0
    vessels: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: Files that broke off (a truncated or corrupt gzip): where and why, one each.
    broken: list[str] = field(default_factory=list)

    def add_eof(self, ctl: dict[str, Any]) -> None:
        track = ctl.get("track", {})
        self.reports += track.get("reports", 0)
        self.duplicates += track.get("duplicates", 0)
        self.late += track.get("late", 0)
        self.vessels += track.get("vessels", 0)

    def add_decode(self, decode: dict[str, Any]) -> None:
        self.lines += decode.get("lines", 0)
        self.decoded.update(decode.get("decoded", {}))
        self.rejected.update(decode.get("rejected", {}))


@contextlib.contextmanager
def bootstrap_for(settings: Settings, log_dir: Path) -> Iterator[str]:
    """The configured Kafka, or an embedded broker for the duration of the block."""
    if settings.kafka_bootstrap:
        yield settings.kafka_bootstrap
        return
    broker = start_broker(log_path=log_dir / "broker.log")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@contextlib.contextmanager
def python_process(
    args: list[str], env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m ARGS…`` with its output to ``log_path``, stopped with SIGTERM (SIGKILL
    after 10 s) after the block."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            yield proc
        finally:
            stop_process(proc)


def worker_process(
    env: dict[str, str], log_path: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """A ``mda worker`` subprocess (:func:`python_process`)."""
    return python_process(["streams.worker"], env, log_path)


def wait_for_group(
    workers: list[subprocess.Popen[bytes]],
    ports: list[int],
    partitions: int,
    *,
    timeout_s: float = 180.0,
    host: str = "127.0.0.1",
) -> list[list[int]]:
    """Wait until the workers (web pages on ``ports``) hold the ``ais.reports`` partitions
    between them, each at least one while there are enough: the consumer group has formed
    with all of them. Returns each worker's partitions.

    Input sent before that is processed by the workers that joined first, and a late joiner
    rebalances the group in the middle of the run. The track state survives that (the
    table), and so do the proximity stage's pairs worth keeping (its checkpoint); its vessel
    sets and its pairs close for less than a minute do not (in memory): a run with several
    workers would not give the same ENCOUNTER alerts every time.
    """
    deadline = time.monotonic() + timeout_s
    held: list[list[int]] = []
    while True:
        held = []
        for proc, port in zip(workers, ports, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited early with code {proc.returncode}")
            try:
                url = f"http://{host}:{port}/vessels?bbox=0,0,0,0"
                with urllib.request.urlopen(url, timeout=5) as resp:
                    held.append(sorted(orjson.loads(resp.read())["partitions"]))
            except (OSError, ValueError, KeyError, TypeError):
                break  # not serving yet
        else:
            every = sorted(p for h in held for p in h)
            if every == list(range(partitions)) and all(held[:partitions]):
                return held
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the workers did not share the partitions in {timeout_s:.0f}s: they hold {held}"
            )
        time.sleep(0.25)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _end_offsets(consumer: KafkaConsumer, topic: str, partitions: int) -> dict[int, int]:
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    ends = consumer.end_offsets(tps)
    return {tp.partition: off for tp, off in ends.items()}


def run_files(
    files: list[Path],
    settings: Settings,
    *,
    alerts_out: Path | None,
    speed: float | None,
    progress: bool = True,
    stall_timeout_s: float = 180.0,
    workers: int = 1,
    watch_port: int | None = None,
    after_run: Callable[[RunSummary], None] | None = None,
) -> RunSummary:
    """Process ``files`` through the pipeline; returns the summary with every alert message.

    ``workers`` worker processes share the partitions (one consumer group), as in production.
    ``watch_port``: the first worker's web port (its watch-floor page), instead of a free one.
    ``after_run`` is called with the summary while the broker and workers still run (e.g. to
    keep the watch-floor page up until Ctrl-C); everything is stopped when it returns.
    """
    run_id = uuid.uuid4().hex[:12]
    workdir = Path(tempfile.mkdtemp(prefix=f"mda-run-{run_id}-"))
    if settings.kafka_bootstrap and not settings.topic_prefix:
        # A shared cluster: the run's worker (a new consumer group reading from the earliest
        # offset) must not re-process what other runs left on the contract topics.
        settings = settings.model_copy(update={"topic_prefix": f"run.{run_id}."})
    names = TopicNames.from_settings(settings)
    n = settings.partitions
    sources = [f"{run_id}/{i}/{p.name}" for i, p in enumerate(files)]
    summary = RunSummary()
    try:
        with bootstrap_for(settings, workdir) as bootstrap, contextlib.ExitStack() as cleanup:
            ensure_topics(bootstrap, topic_specs(settings))
            consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                enable_auto_commit=False,
                value_deserializer=None,
                fetch_max_wait_ms=100,
            )
            # Closed however the run ends (a caller in the same process, e.g. a test, would
            # otherwise keep its connections and threads after a failed run).
            cleanup.callback(consumer.close)
            tps = [TopicPartition(names.alerts, p) for p in range(n)]
            consumer.assign(tps)
            for tp, off in _end_offsets(consumer, names.alerts, n).items():
                consumer.seek(TopicPartition(names.alerts, tp), off)
            env = {
                **os.environ,
                "MDA_KAFKA_BOOTSTRAP": bootstrap,
                "MDA_APP_ID": f"mda-run-{run_id}",
                "MDA_PARTITIONS": str(n),
                "MDA_TOPIC_PREFIX": settings.topic_prefix,
                "MDA_THRESHOLDS_JSON": settings.thresholds_json,
                "MDA_TABLE_STORE": settings.table_store,
            }
            if settings.zones:
                env["MDA_ZONES"] = str(settings.zones)
            if settings.reference_dir:
                env["MDA_REFERENCE_DIR"] = str(settings.reference_dir)
            ports = [watch_port if watch_port and i == 0 else free_port() for i in range(workers)]
            with contextlib.ExitStack() as stack:
                procs = [
                    stack.enter_context(
                        worker_process(
                            {
                                **env,
                                "MDA_WEB_PORT": str(port),
                                "MDA_DATA_DIR": str(workdir / f"data{i}"),
                            },
                            workdir / ("worker.log" if i == 0 else f"worker{i}.log"),
                        )
                    )
                    for i, port in enumerate(ports)
                ]
                if workers > 1:
                    # One worker alone starts on everything as soon as it is in; with more,
                    # the input waits until all are in (see wait_for_group).
                    host = settings.web_host
                    host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
                    wait_for_group(procs, ports, n, timeout_s=stall_timeout_s, host=host)
                producer = raw_producer(bootstrap, max_request_size=8 * 1024 * 1024)
                bar = tqdm(
                    total=None, unit=" lines", disable=not progress, desc="replay", leave=False
                )
                try:
                    # Several files are one feed, merged in event-time order (feed_lines).
                    feed = feed_key(sources, run_id)
                    _, broken = replay_files(
                        producer,
                        names.raw,
                        list(zip(files, sources, strict=True)),
                        key=feed,
                        speed=speed,
                        batch_lines=settings.raw_batch_lines,
                        on_lines=bar.update,
                    )
                    # A file that broke off was sent up to its break; the decode stage counts
                    # the break as a reject (truncated_input) at the source's end.
                    source_of = dict(zip(files, sources, strict=True))
                    summary.broken += [b.detail for b in broken]
                    ends = send_end(
                        producer,
                        names.raw,
                        sources,
                        run_id,
                        {source_of[b.path]: b for b in broken},
                        key=feed,
                    )
                    producer.flush()
                finally:
                    bar.close()
                    producer.close()
                markers = EndMarkers(run_id, ends, n)
                _collect(consumer, summary, markers, procs, stall_timeout_s)
                if after_run is not None:
                    after_run(summary)
    except BaseException:
        log = workdir / "worker.log"
        if log.exists():
            sys.stderr.write(f"--- worker log ({log}) ---\n{log.read_text()[-4000:]}\n")
        sys.stderr.write(f"mda run: its logs (broker, workers) are kept in {workdir}\n")
        raise
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    summary.alerts.sort(key=lambda a: (a["event_time"], a["alert_id"], a["status"]))
    if alerts_out is not None:
        with open(alerts_out, "wb") as out:
            for alert in summary.alerts:
                out.write(orjson.dumps(alert) + b"\n")
    return summary


def _collect(
    consumer: KafkaConsumer,
    summary: RunSummary,
    markers: EndMarkers,
    workers: list[subprocess.Popen[bytes]],
    stall_timeout_s: float,
) -> None:
    """Read mda.alerts into ``summary`` until every end marker of the run has come."""
    decode_seen: set[str] = set()
    last_progress = time.monotonic()
    while not markers.done:
        for worker in workers:
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited early with code {worker.returncode}")
        if time.monotonic() - last_progress > stall_timeout_s:
            raise TimeoutError(f"no progress for {stall_timeout_s:.0f}s ({markers.progress()})")
        batch = consumer.poll(timeout_ms=200)
        for records in batch.values():
            for rec in records:
                msg = orjson.loads(rec.value)
                last_progress = time.monotonic()
                if msg.get("ctl") == "eof":
                    if not markers.add(msg, rec.partition):
                        continue  # another run's, or a copy of one counted already
                    # Each track marker goes to every alerts partition: count one of them.
                    if rec.partition == 0 and msg.get("stage") != "proximity":
                        summary.add_eof(msg)
                    if msg["source"] not in decode_seen:
                        decode_seen.add(msg["source"])
                        summary.add_decode(msg.get("decode", {}))
                else:
                    summary.alerts.append(msg)
