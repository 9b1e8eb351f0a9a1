"""``make bench``: decode, in-process and end-to-end throughput, latency and memory.

Prints a table and ends with two machine-readable lines ``end_to_end_sentences_per_s=N`` and
``in_process_sentences_per_s=N``. No pass/fail threshold: the figures go to BENCHMARKS.md.

- (a) pyais alone: ``pyais.stream.IterMessages`` (its own multipart assembly) and ``decode()``
  over the decode corpus's lines as they arrive (pyais parses the tag blocks and ``$PGHP``
  wrappers itself; a tag block's time is read, as the stage must), and over their bare
  sentences (envelopes stripped beforehand, untimed: the least work pyais can do for these
  lines). Neither checks checksums (pyais's ``IterMessages`` does not; the stage must).
- (b) our decode stage, ``DecodeStage.handle`` (orjson batch in → reports batched per partition
  and rejects out), and ``Decoder.feed`` alone, on the same lines; ratios to (a).
- (c) in-process pipeline: decode + track + proximity stages called directly on the pipeline
  corpus (the bundled real and scenario recordings, repeated with event times shifted so that
  every repetition is new data for the tracks): the rules a worker runs, so that (d)/(c)
  compares like with like. Rounds 1-3 of BENCHMARKS.md took decode + track alone (still
  printed, with the ratio to it).
- (d) end to end, one worker: embedded broker, topics created, a worker warmed up with one
  small file, then the pipeline corpus sent (values serialised beforehand) and timed until
  every end-of-file control record has come out on ``mda.alerts``.
- (e) one and two workers (one consumer group) on two partitions, the input pre-loaded: put
  on ``ais.raw`` while the warmed-up workers are stopped (SIGSTOP), timed from SIGCONT, so the
  producer does not compete with them for the two cores; runs interleaved.
- (f) event-to-alert latency at a steady 10,000 sentences/s: synthetic tag-block lines stamped
  with the wall clock when sent; a new MMSI with an unallocated MID every 50 ms gives an
  INVALID_MMSI alert; latency = wall time the alert is read - its event_time.
- (g) track state per vessel at 200,000 vessels: serialised VesselTrack (the changelog codec)
  and tracemalloc of the table dict.

In-process rates are CPU time of this process (``time.process_time``), medians of several
runs: the machine is shared, and CPU time is what a worker core would spend. End-to-end rates
are wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
import uuid
from binascii import b2a_base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pyais.stream import IterMessages

from mda.decode import Decoder
from mda.geo import Geography
from mda.isps import ReferenceData
from mda.landmask import LandMask
from mda.lines import parse_line
from mda.mid import MidTable
from mda.model import RawLine, Report, raw_batch_to_json
from mda.rules.context import RuleContext
from mda.thresholds import Thresholds
from replay.files import iter_raw_lines
from replay.producer import eof_record, line_event_ms
from streams.admin import ensure_topics
from streams.broker import free_port, start_broker
from streams.end_markers import EndMarkers
from streams.pipeline import DecodeStage, TrackStage
from streams.proximity import ProximityStage
from streams.runner import stop_process, wait_for_group
from streams.settings import Settings
from streams.topics import TopicNames, topic_specs

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "replay" / "data"
SHARED = ROOT.parent / "shared" / "data" / "ais_nmea"
#: Recordings of ../shared/data used for the decode comparison when present (real feeds in
#: the envelopes the decoder supports: plain, tag blocks, $PGHP, non-standard VDM).
SHARED_FILES = (
    "aisdb_tagblock_20211101.nm4",
    "kystverket_ais1000lines.nm4",
    "gfw_listener_gdansk_nmea.txt",
    "dma_gatehouse_stream_example.txt",
    "signalk_gofree-merrimac_nonstd_vdm.log",
)
PARTITIONS = 2
BATCH = Settings().raw_batch_lines


def bundled_files() -> list[Path]:
    return sorted(DATA.glob("*.nmea")) + sorted(DATA.glob("*.ais"))


def decode_corpus() -> list[RawLine]:
    files = bundled_files() + [SHARED / f for f in SHARED_FILES if (SHARED / f).is_file()]
    lines: list[RawLine] = []
    received_ms = int(time.time() * 1000)  # (after every recording: none is ahead of it)
    for p in files:
        lines += iter_raw_lines(p, source=p.name, ingest_ms=received_ms)
    return lines


# -- the pipeline corpus: bundled recordings, repeated as new data --------------------------

_TAG_C = re.compile(r"c:(\d+)")
_USCG_T = re.compile(r"(\*[0-9A-Fa-f]{2},.*,)(\d{9,10})$")


def _shift(text: str, delta_s: int) -> str:
    if text.startswith("\\"):
        return _TAG_C.sub(lambda m: f"c:{int(m.group(1)) + delta_s}", text, count=1)
    return _USCG_T.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + delta_s}", text)


def pipeline_corpus(reps: int) -> dict[str, list[RawLine]]:
    """Per source (one per bundled file): its lines ``reps`` times, each repetition shifted in
    event time by the file's span + 10 min, so the tracks see new reports, not duplicates."""
    out: dict[str, list[RawLine]] = {}
    received_ms = int(time.time() * 1000)  # (the shifted times stay in 2026-06: behind it)
    for p in bundled_files():
        texts = p.read_text().splitlines()
        times = [t for t in (line_event_ms(x) for x in texts) if t is not None]
        span_s = (max(times) - min(times)) // 1000 + 600 if times else 600
        out[p.name] = [
            RawLine(p.name, i + 1, _shift(t, k * span_s), received_ms)
            for k in range(reps)
            for i, t in enumerate(texts)
        ]
    return out


def serialise(lines: list[RawLine], size: int = BATCH) -> list[bytes]:
    return [raw_batch_to_json(lines[i : i + size]) for i in range(0, len(lines), size)]


def cpu_median(fn: Callable[[], Any], runs: int) -> float:
    """Median CPU seconds of ``runs`` calls of ``fn``."""
    times = []
    for _ in range(runs):
        gc.collect()
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


# -- (a), (b): decode ---------------------------------------------------------------------


def bench_decode(runs: int) -> dict[str, float]:
    lines = decode_corpus()
    sentences = [s.nmea for ln in lines for s in parse_line(ln.text).sentences]
    raw = [ln.text.encode() for ln in lines if ln.csv_header is None]
    batches = serialise(lines)
    names = TopicNames.from_settings(Settings())

    def pyais_only() -> None:
        for msg in IterMessages(sentences):
            with contextlib.suppress(Exception):
                msg.decode()

    def pyais_lines() -> None:
        # The same physical lines as they arrive, as pyais reads them: tag blocks and $PGHP
        # wrappers are pyais's to parse; the event time of a tag block is read, as the
        # stage must (TagBlock is lazy: init() parses it).
        for msg in IterMessages(raw):
            with contextlib.suppress(Exception):
                msg.decode()
                tb = msg.tag_block
                if tb is not None:
                    tb.init()
                    _ = tb.receiver_timestamp

    def feed() -> None:
        dec = Decoder()
        for ln in lines:
            dec.feed(ln)

    def stage() -> None:
        s = DecodeStage(names, PARTITIONS)
        for b in batches:
            s.handle(b)

    n = len(lines)
    # Interleaved, so that a burst of load on the shared machine hits all three alike.
    per: dict[str, list[float]] = {"pyais": [], "pyais_lines": [], "feed": [], "stage": []}
    for _ in range(runs):
        per["pyais"].append(cpu_median(pyais_only, 1))
        per["pyais_lines"].append(cpu_median(pyais_lines, 1))
        per["feed"].append(cpu_median(feed, 1))
        per["stage"].append(cpu_median(stage, 1))
    med = {k: statistics.median(v) for k, v in per.items()}

    def ratio(base: str, ours: str) -> float:
        # Per interleaved round, then the median: a burst of load hits both alike.
        return statistics.median(b / o for b, o in zip(per[base], per[ours], strict=True))

    return {
        "lines": n,
        "sentences": len(sentences),
        "pyais": n / med["pyais"],
        "pyais_lines": n / med["pyais_lines"],
        "feed": n / med["feed"],
        "stage": n / med["stage"],
        "stage_ratio": ratio("pyais", "stage"),
        "stage_ratio_lines": ratio("pyais_lines", "stage"),
        "feed_ratio": ratio("pyais", "feed"),
        "feed_ratio_lines": ratio("pyais_lines", "feed"),
    }


# -- (c): in process ----------------------------------------------------------------------


def rule_context() -> RuleContext:
    """The worker's context: a worker without a reference set starts from the (empty) isps.*
    topics, so its ISPS rules run on an empty set, and so do these."""
    return RuleContext(
        geography=Geography.load(),
        mids=MidTable.load_default(),
        landmask=LandMask.load_default(),
        thresholds=Thresholds(),
        reference=ReferenceData(),
    )


def bench_in_process(corpus: dict[str, list[RawLine]], runs: int) -> dict[str, float]:
    names = TopicNames.from_settings(Settings())
    ctx = rule_context()
    batches = [b for lines in corpus.values() for b in serialise(lines)]
    n = sum(len(v) for v in corpus.values())
    # Decode once (untimed) to time the track and proximity stages on their own inputs.
    dec = DecodeStage(names, PARTITIONS)
    reports = [o for b in batches for o in dec.handle(b) if o.topic == names.reports]

    def decode() -> None:
        s = DecodeStage(names, PARTITIONS)
        for b in batches:
            s.handle(b)

    presence: list[Any] = []
    writes = [0]

    class Table(dict[int, Any]):
        def __setitem__(self, key: int, value: Any) -> None:
            writes[0] += 1
            super().__setitem__(key, value)

    def track() -> None:
        writes[0] = 0
        t = TrackStage(names, PARTITIONS, ctx, Table())
        presence.clear()
        for o in reports:
            assert o.partition is not None
            presence.extend(x for x in t.handle(o.value, o.partition) if x.topic == names.presence)

    def proximity() -> None:
        p = ProximityStage(names, PARTITIONS, ctx.geography, ctx.mids, ctx.thresholds)
        for o in presence:
            p.handle(o.value, o.partition)

    d = cpu_median(decode, runs)
    t = cpu_median(track, runs)
    p = cpu_median(proximity, runs)
    return {
        "lines": n,
        "decode": n / d,
        "track": n / t,
        "proximity": n / p,
        "pipeline": n / (d + t),
        "pipeline_prox": n / (d + t + p),
        "table_writes": writes[0],
        "ais_reports_msgs": len(reports),
    }


# -- (d), (e), (f): through the embedded broker -------------------------------------------


@dataclass
class Cluster:
    bootstrap: str
    names: TopicNames
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]]
    logs: list[Path]
    ports: list[int]
    broker_pid: int = 0

    def stage_seconds(self) -> dict[str, float]:
        """``mda_stage_processing_seconds_sum`` per stage, summed over the workers."""
        out: dict[str, float] = {}
        for port in self.ports:
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as resp:
                text = resp.read().decode()
            for line in text.splitlines():
                m = _STAGE_SUM.match(line)
                if m:
                    out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
        return out


_STAGE_SUM = re.compile(r'mda_stage_processing_seconds_sum\{stage="(\w+)"\} (\S+)')


@contextlib.contextmanager
def cluster(
    workdir: Path, workers: int, module: str | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """The embedded broker, the topics and ``workers`` workers (``python -m MODULE worker``,
    ``streams.cli`` unless told; ``extra_env`` added to their environment)."""
    broker = start_broker(log_path=workdir / "broker.log")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        prefix = f"bench{broker.port}."
        settings = Settings(topic_prefix=prefix, partitions=PARTITIONS)
        ensure_topics(broker.bootstrap, topic_specs(settings))
        env = {
            **os.environ,
            "MDA_KAFKA_BOOTSTRAP": broker.bootstrap,
            "MDA_APP_ID": f"bench-{broker.port}",
            "MDA_TOPIC_PREFIX": prefix,
            "MDA_PARTITIONS": str(PARTITIONS),
            **(extra_env or {}),
        }
        logs = []
        ports = []
        for i in range(workers):
            log = workdir / f"worker{i}.log"
            logs.append(log)
            ports.append(free_port())
            wenv = {
                **env,
                "MDA_WEB_PORT": str(ports[-1]),
                "MDA_DATA_DIR": str(workdir / f"data{i}"),
            }
            with open(log, "wb") as fh:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", module or "streams.cli", "worker"],
                        env=wenv,
                        stdout=fh,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        cwd=ROOT,
                    )
                )
        names = TopicNames.from_settings(settings)
        try:
            # No late joiner rebalances the group in the middle of a measured run.
            wait_for_group(procs, ports, PARTITIONS)
        except (TimeoutError, RuntimeError) as exc:
            raise type(exc)(f"{exc}; see {logs}") from exc
        yield Cluster(broker.bootstrap, names, env, procs, logs, ports, broker.pid)
    finally:
        for p in procs:
            stop_process(p)
        broker.stop()


def alerts_consumer(c: Cluster) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=c.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    tps = [TopicPartition(c.names.alerts, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    return consumer


def wait_eofs(
    consumer: KafkaConsumer,
    c: Cluster,
    run: str,
    sources: list[str],
    timeout_s: float,
    on_alert: Callable[[dict[str, Any], float], None] | None = None,
) -> float:
    """Read mda.alerts until every end marker of ``run``'s ``sources`` has come (each counted
    once: :class:`streams.end_markers.EndMarkers`); returns the wall time then."""
    markers = EndMarkers(run, sources, PARTITIONS)
    deadline = time.monotonic() + timeout_s
    while not markers.done:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{markers.progress()} after {timeout_s:.0f}s")
        for p in c.workers:
            if p.poll() is not None:
                raise RuntimeError(f"worker exited with {p.returncode}: see {c.logs}")
        for records in consumer.poll(timeout_ms=50).values():
            now = time.time()
            for rec in records:
                if rec.key == b"ctl":
                    markers.add(orjson.loads(rec.value), rec.partition)
                elif on_alert is not None:
                    on_alert(orjson.loads(rec.value), now)
    return time.monotonic()


def send_source(
    producer: KafkaProducer, c: Cluster, source: str, values: list[bytes], run: str, part: int
) -> None:
    for v in [*values, eof_record(source, run)]:
        producer.send(c.names.raw, key=source.encode(), value=v, partition=part)


def warm_up(c: Cluster, producer: KafkaProducer, consumer: KafkaConsumer) -> None:
    """One small file end to end: every worker has its partitions and its rule context."""
    run = "warmup-" + uuid.uuid4().hex[:6]
    lines = list(iter_raw_lines(DATA / "great_lakes_demo.nmea", source="w", ingest_ms=0))
    for p in range(PARTITIONS):
        send_source(producer, c, f"warmup{p}", serialise(lines, 50), run, p)
    producer.flush()
    wait_eofs(consumer, c, run, [f"warmup{p}" for p in range(PARTITIONS)], 240)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def profiled(c: Cluster, out: Path | None, label: str) -> Iterator[None]:
    """py-spy (if ``out`` is set) on every worker for the duration: collapsed stacks to
    ``out/<label>-w<i>.txt`` (one line per stack with its sample count)."""
    spies: list[subprocess.Popen[bytes]] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        for i, w in enumerate(c.workers):
            dest = out / f"{label}-w{i}.txt"
            cmd = [exe, "record", "--pid", str(w.pid), "--rate", "200", "--format", "raw"]
            spies.append(
                subprocess.Popen(
                    [*cmd, "--output", str(dest), "--nonblocking"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    try:
        yield
    finally:
        for s in spies:
            s.send_signal(signal.SIGINT)
        for s in spies:
            try:
                s.wait(timeout=30)
            except subprocess.TimeoutExpired:
                s.kill()


@dataclass(frozen=True)
class Plan:
    """What an end-to-end run sends: per source, its serialised batches and its ais.raw
    partition (a source stays in one; sources balanced by lines), and the lines in all."""

    sends: list[tuple[str, list[bytes], int]]
    lines: int


def make_plan(corpus: dict[str, list[RawLine]]) -> Plan:
    loads = [0] * PARTITIONS
    sends: list[tuple[str, list[bytes], int]] = []
    for source, lines in sorted(corpus.items(), key=lambda kv: -len(kv[1])):
        part = loads.index(min(loads))
        loads[part] += len(lines)
        sends.append((source, serialise(lines), part))
    return Plan(sends, sum(loads))


def bench_end_to_end(
    workdir: Path,
    plan: Plan,
    workers: int,
    profile: Path | None = None,
    label: str = "e2e",
    preload: bool = False,
    *,
    run: str | None = None,
    module: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, float]:
    """One end-to-end run; ``preload``: the input is put on ais.raw while the warmed-up
    workers are stopped (SIGSTOP, well under their session timeout), and timed from SIGCONT,
    so that sending does not compete with them for the cores. ``run``: the run id its
    end-of-file records carry (new if not given); ``module``, ``extra_env``: the workers'
    (:func:`cluster`)."""
    n = plan.lines
    with cluster(workdir, workers, module, extra_env) as c:
        producer = KafkaProducer(
            bootstrap_servers=c.bootstrap, linger_ms=5, max_request_size=16 * 1024 * 1024
        )
        consumer = alerts_consumer(c)
        warm_up(c, producer, consumer)
        before = c.stage_seconds()
        run = run or "bench-" + uuid.uuid4().hex[:6]
        alerts = 0

        def count(_: dict[str, Any], __: float) -> None:
            nonlocal alerts
            alerts += 1

        def send_all() -> None:
            for source, values, part in plan.sends:
                send_source(producer, c, source, values, run, part)
            producer.flush()

        if preload:
            for w in c.workers:
                os.kill(w.pid, signal.SIGSTOP)
            try:
                send_all()
            finally:
                for w in c.workers:
                    os.kill(w.pid, signal.SIGCONT)
        cpu_before = sum(cpu_seconds(w.pid) for w in c.workers)
        broker_before = cpu_seconds(c.broker_pid)
        own_before = time.process_time()
        with profiled(c, profile, label):
            started = time.monotonic()
            if not preload:
                send_all()
            sent = time.monotonic()
            try:
                done = wait_eofs(
                    consumer,
                    c,
                    run,
                    [source for source, _, _ in plan.sends],
                    600,
                    on_alert=count,
                )
            except (TimeoutError, RuntimeError) as exc:
                # The run's logs would go with the bench's temporary directory: keep them.
                kept = Path(tempfile.mkdtemp(prefix=f"mda-bench-{label}-failed-"))
                for log in workdir.glob("*.log"):
                    shutil.copy(log, kept)
                raise type(exc)(f"{exc}; logs kept in {kept}") from exc
        worker_cpu = sum(cpu_seconds(w.pid) for w in c.workers) - cpu_before
        broker_cpu = cpu_seconds(c.broker_pid) - broker_before
        own_cpu = time.process_time() - own_before
        after = c.stage_seconds()
        producer.close()
        consumer.close()
    stages = {k: v - before.get(k, 0.0) for k, v in after.items()}
    return {
        "lines": n,
        "rate": n / (done - started),
        "wall_s": done - started,
        "send_s": sent - started,
        "alerts": alerts,
        "worker_cpu_s": worker_cpu,
        "broker_cpu_s": broker_cpu,
        "bench_cpu_s": own_cpu,
        **{f"stage_{k}_s": v for k, v in stages.items()},
    }


# -- (f): latency -------------------------------------------------------------------------

_B64_TO_ARMOR = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    bytes(v + 48 if v < 40 else v + 56 for v in range(64)),
)


def _xor(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


def type1_sentence(mmsi: int, lat: float, lon: float, sog_kn: float, cog: float, sec: int) -> str:
    """A type 1 position report (168 bits) as a complete ``!AIVDM`` sentence."""
    v = 1
    for value, width in (
        (0, 2),
        (mmsi, 30),
        (0, 4),  # under way using engine
        (0x80, 8),  # rate of turn not available
        (round(sog_kn * 10), 10),
        (0, 1),
        (round(lon * 600_000) & 0xFFFFFFF, 28),
        (round(lat * 600_000) & 0x7FFFFFF, 27),
        (round(cog * 10), 12),
        (round(cog) % 360, 9),
        (sec % 60, 6),
        (0, 2),
        (0, 3),
        (0, 1),
        (0, 19),
    ):
        v = (v << width) | value
    payload = b2a_base64(v.to_bytes(21, "big"), newline=False).translate(_B64_TO_ARMOR)
    body = b"AIVDM,1,1,,A," + payload + b",0"
    return f"!{body.decode()}*{_xor(body):02X}"


def latency_stream(seconds: float, rate: int, vessels: int) -> list[list[str]]:
    """Pre-built sentences, one list per 20 ms tick: ``vessels`` ships moving in Lake
    Ontario/Erie/Michigan open water, and every 50 ms a new MMSI with MID 315 (unallocated)."""
    ticks = int(seconds * 50)
    per_tick = rate // 50
    centres = [(43.6, -77.8), (42.2, -81.2), (43.8, -87.0), (44.8, -82.4)]
    out: list[list[str]] = []
    k = 0
    bad = 0
    for t in range(ticks):
        tick: list[str] = []
        for j in range(per_tick):
            if j == 0 and t % 2 == 0:
                bad += 1
                lat, lon = centres[bad % 4]
                tick.append(type1_sentence(315_000_000 + bad, lat, lon, 5.0, 90.0, t))
                continue
            i = k % vessels
            k += 1
            lat0, lon0 = centres[i % 4]
            step = k // vessels  # each report moves the ship ~20 m east
            lat = lat0 + (i % 97) * 0.002
            lon = lon0 + (i // 97) * 0.003 + step * 0.00025
            tick.append(type1_sentence(316_000_000 + i, lat, lon, 10.0, 90.0, t // 50))
        out.append(tick)
    return out


def _alert_ms(alert: dict[str, Any]) -> float:
    return datetime.fromisoformat(alert["event_time"].replace("Z", "+00:00")).timestamp() * 1000


def bench_latency(workdir: Path, seconds: float, rate: int) -> dict[str, float]:
    ticks = latency_stream(seconds, rate, vessels=2000)
    lat_ms: list[float] = []
    with cluster(workdir, 1) as c:
        producer = KafkaProducer(bootstrap_servers=c.bootstrap, linger_ms=0)
        consumer = alerts_consumer(c)
        warm_up(c, producer, consumer)
        run = "lat-" + uuid.uuid4().hex[:6]
        stop = threading.Event()

        def on_alert(alert: dict[str, Any], now: float) -> None:
            if alert.get("rule") == "INVALID_MMSI" and alert.get("status") == "open":
                lat_ms.append(now * 1000 - _alert_ms(alert))

        def read() -> None:
            wait_eofs(consumer, c, run, ["latency"], seconds + 300, on_alert)
            stop.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        source = "latency"
        t0 = time.monotonic()
        line_no = 0
        for i, tick in enumerate(ticks):
            due = t0 + i * 0.02
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now_ms = int(time.time() * 1000)
            lines = []
            for s in tick:
                line_no += 1
                lines.append(RawLine(source, line_no, f"\\s:BENCH,c:{now_ms}*00\\{s}", now_ms))
            producer.send(c.names.raw, key=source.encode(), value=raw_batch_to_json(lines))
        sent_s = time.monotonic() - t0
        eof = orjson.dumps({"ctl": "eof", "run": run, "source": source})
        producer.send(c.names.raw, key=source.encode(), value=eof)
        producer.flush()
        reader.join(timeout=seconds + 310)
        producer.close()
    lat_ms.sort()
    if not lat_ms:
        return {"alerts": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {
        "alerts": len(lat_ms),
        "p50": lat_ms[len(lat_ms) // 2],
        "p99": lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))],
        "max": lat_ms[-1],
        "input_rate": line_no / sent_s,
    }


# -- (g): memory --------------------------------------------------------------------------


def bench_memory(vessels: int) -> dict[str, float]:
    """Track state of ``vessels`` ships: a static report and a position each."""
    from mda.track import step

    ctx = rule_context()
    centres = [(43.6, -77.8), (42.2, -81.2), (43.8, -87.0), (44.8, -82.4), (47.7, -87.5)]
    t0 = 1_780_000_000_000

    def build() -> dict[int, Any]:
        tracks: dict[int, Any] = {}
        for i in range(vessels):
            mmsi = (316_000_000 if i % 2 else 367_000_000) + i
            lat0, lon0 = centres[i % 5]
            lat, lon = lat0 + (i % 211) * 0.001, lon0 + (i // 211 % 211) * 0.001
            track = None
            static = Report(
                mmsi, 5, t0, "tagblock", "bench", "BENCH", ais_class="A", name=f"SHIP {i}",
                callsign=f"C{i % 100000}", imo=9_000_000 + i % 999_999, ship_type=70,
                dedup_key=f"s{i}",
            )  # fmt: skip
            track = step(track, static, ctx).track
            for k in range(1):
                r = Report(
                    mmsi, 1, t0 + 10_000 * (k + 1), "tagblock", "bench", "BENCH",
                    lat + k * 0.0005, lon, 10.0, 90.0, 90, 0, "A", dedup_key=f"p{i}.{k}",
                )  # fmt: skip
                track = step(track, r, ctx).track or track
            tracks[mmsi] = track
        return tracks

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    sizes = [len(orjson.dumps(t)) for t in kept.values()]
    assert len(kept) == vessels
    return {
        "vessels": vessels,
        "serialised_mean": statistics.mean(sizes),
        "serialised_max": max(sizes),
        "tracemalloc_per_vessel": (after - before) / vessels,
    }


# -- the table ----------------------------------------------------------------------------


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_gib = next(int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal")) / 2**20
    python = sys.version.split()[0]
    return f"{os.cpu_count()} cores, {cpu}, {mem_gib:.1f} GiB, Python {python}"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu_per_line(runs: list[dict[str, float]]) -> str:
    """Worker / broker / this process (producer, alert reader): CPU µs per line, per run."""
    keys = ("worker_cpu_s", "broker_cpu_s", "bench_cpu_s")
    per_run = ("/".join(f"{r[k] / r['lines'] * 1e6:.0f}" for k in keys) for r in runs)
    return ", ".join(per_run) + " µs"


def _stage_share(runs: list[dict[str, float]]) -> str:
    r = runs[len(runs) // 2]
    parts = {k[6:-2]: v for k, v in r.items() if k.startswith("stage_")}
    return " ".join(f"{k} {v / r['wall_s']:.0%}" for k, v in sorted(parts.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="in-process runs (median)")
    ap.add_argument("--reps", type=int, default=10, help="repetitions of the bundled files")
    ap.add_argument("--e2e-runs", type=int, default=3)
    ap.add_argument("--latency-s", type=float, default=8.0)
    ap.add_argument("--latency-rate", type=int, default=10_000, help="input lines/s for (f)")
    ap.add_argument(
        "--latency-low-rate",
        type=int,
        default=3_000,
        help="input lines/s of a second (f) run below one worker's capacity (0: skip)",
    )
    ap.add_argument("--vessels", type=int, default=200_000)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: a,c,d,e,f,g")
    ap.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="profile the workers of (d) and (e) with py-spy; collapsed stacks to DIR",
    )
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    print(f"machine: {machine()}")
    print(f"load average at start: {loadavg()}")
    rows: list[tuple[str, str, str]] = []

    def row(what: str, figure: str, target: str = "") -> None:
        rows.append((what, figure, target))
        print(f"  {what:58s} {figure:>22s}  {target}", flush=True)

    e2e_rate = in_rate = 0.0
    if "a" not in skip:
        d = bench_decode(args.runs)
        row(f"(a) pyais IterMessages+decode, {d['lines']:.0f} lines", "")
        row("    on the lines as they arrive (tag blocks read)", f"{d['pyais_lines']:,.0f} lines/s")
        row("    on their bare sentences (envelopes stripped)", f"{d['pyais']:,.0f} lines/s")
        row("(b) DecodeStage.handle (orjson in/out)", f"{d['stage']:,.0f} lines/s")
        row("    ratio to (a), the lines as they arrive", f"{d['stage_ratio_lines']:.0%}", ">= 80%")
        row("    ratio to (a), bare sentences", f"{d['stage_ratio']:.0%}")
        row("    Decoder.feed alone", f"{d['feed']:,.0f} lines/s")
        row(
            "    ratio to (a): lines as they arrive / bare",
            f"{d['feed_ratio_lines']:.0%} / {d['feed_ratio']:.0%}",
        )
    corpus = pipeline_corpus(args.reps)
    if "c" not in skip:
        c = bench_in_process(corpus, max(3, args.runs // 2))
        # The rules a worker runs: decode, track and proximity (ENCOUNTER); (d) runs the same.
        in_rate = c["pipeline_prox"]
        row(
            f"(c) in-process decode+track+proximity, {c['lines']:.0f} lines",
            f"{c['pipeline_prox']:,.0f} lines/s",
        )
        row("    decode stage alone", f"{c['decode']:,.0f} lines/s")
        row("    track stage alone", f"{c['track']:,.0f} lines/s")
        row("    proximity stage alone", f"{c['proximity']:,.0f} lines/s")
        row("    decode+track (rounds 1-3 headline)", f"{c['pipeline']:,.0f} lines/s")
        row("    table writes (changed vessels) per line", f"{c['table_writes'] / c['lines']:.2f}")
        row("    ais.reports messages per line", f"{c['ais_reports_msgs'] / c['lines']:.4f}")
    plan = make_plan(corpus)
    with tempfile.TemporaryDirectory(prefix="mda-bench-") as tmp:
        work = Path(tmp)
        if "d" not in skip:
            one = [
                bench_end_to_end(work, plan, 1, args.py_spy, f"d{i}") for i in range(args.e2e_runs)
            ]
            e2e_rate = statistics.median(r["rate"] for r in one)
            row(
                f"(d) end to end, 1 worker, {one[0]['lines']:.0f} lines",
                f"{e2e_rate:,.0f} lines/s",
                "target >= 50,000/s",
            )
            if in_rate:
                row("    ratio to (c)", f"{e2e_rate / in_rate:.0%}", "target >= 40%")
                row("    ratio to decode+track", f"{e2e_rate / c['pipeline']:.0%}")
            row("    runs", ", ".join(f"{r['rate']:,.0f}" for r in one))
            row("    CPU per line: worker/broker/bench (runs)", _cpu_per_line(one))
            row("    worker time in our stages / wall", _stage_share(one))
        if "e" not in skip:
            # Input pre-loaded (workers stopped while it is sent), one and two workers
            # interleaved run for run, so a burst of load on the host hits both alike.
            one_pre: list[dict[str, float]] = []
            two: list[dict[str, float]] = []
            for i in range(args.e2e_runs):
                one_pre.append(bench_end_to_end(work, plan, 1, None, f"e1-{i}", preload=True))
                two.append(bench_end_to_end(work, plan, 2, args.py_spy, f"e{i}", preload=True))
            one_rate = statistics.median(r["rate"] for r in one_pre)
            two_rate = statistics.median(r["rate"] for r in two)
            row("(e) 1 worker, input pre-loaded", f"{one_rate:,.0f} lines/s")
            row("    runs", ", ".join(f"{r['rate']:,.0f}" for r in one_pre))
            row("    CPU per line: worker/broker/bench (runs)", _cpu_per_line(one_pre))
            row("    2 workers, 2 partitions, input pre-loaded", f"{two_rate:,.0f} lines/s")
            row("    ratio", f"{two_rate / one_rate:.2f}x", "target >= 1.7x")
            row("    runs", ", ".join(f"{r['rate']:,.0f}" for r in two))
            row("    CPU per line: worker/broker/bench (runs)", _cpu_per_line(two))
            row("    worker time in our stages / wall", _stage_share(two))
        if "f" not in skip:
            lat = bench_latency(work, args.latency_s, args.latency_rate)
            rate = lat.get("input_rate", 0.0)
            row(
                f"(f) latency at {rate:,.0f} lines/s, {lat['alerts']:.0f} alerts",
                f"p50 {lat['p50']:,.0f} ms, p99 {lat['p99']:,.0f} ms",
                "target p50 < 200, p99 < 1000",
            )
            row("    max", f"{lat['max']:,.0f} ms")
            if args.latency_low_rate:
                low = bench_latency(work, args.latency_s, args.latency_low_rate)
                row(
                    f"    below capacity: at {low.get('input_rate', 0.0):,.0f} lines/s",
                    f"p50 {low['p50']:,.0f} ms, p99 {low['p99']:,.0f} ms",
                )
    if "g" not in skip:
        m = bench_memory(args.vessels)
        row(
            f"(g) track state, {m['vessels']:.0f} vessels, serialised",
            f"{m['serialised_mean']:,.0f} B/vessel",
            "target <= 1 KiB",
        )
        row("    largest serialised", f"{m['serialised_max']:,.0f} B")
        row("    tracemalloc (Python objects)", f"{m['tracemalloc_per_vessel']:,.0f} B/vessel")
    print(f"load average at end: {loadavg()}")
    print(f"end_to_end_sentences_per_s={e2e_rate:.0f}")
    print(f"in_process_sentences_per_s={in_rate:.0f}")


if __name__ == "__main__":
    main()
