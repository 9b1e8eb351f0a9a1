"""A long-running worker on the real broker: metrics while it runs, clean SIGTERM shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mda.model import REPORT_FIELDS, RawLine, raw_batch_to_json
from replay.producer import replay_file
from replay.scenarios import DATA_DIR, great_lakes_demo, tagged
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port, start_broker
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import topic_specs
from tests.integration.workers import committed_offsets, spawn_worker, worker_env
from tests.unit.test_broken_files import cut_gzip

SCENARIO = DATA_DIR / "great_lakes_demo.nmea"
POSITION = "!AIVDM,1,1,,A,14`qQb0000o?u?DK>Smo2E`v0404,0*1A"


def metric_value(text: str, name: str) -> float:
    """Sum of every sample of ``name`` (all label sets) in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


@pytest.fixture
def worker(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    # Create the topics first: the test's producer would auto-create a missing topic with the
    # broker's default partition count.
    ensure_topics(broker.bootstrap, topic_specs(Settings(topic_prefix=f"w{port}.", partitions=2)))
    env = worker_env(
        broker.bootstrap,
        app_id=f"test-worker-{port}",
        prefix=f"w{port}.",
        partitions=2,
        data_dir=tmp_path / "data",
        web_port=port,
    )
    proc = spawn_worker(env, tmp_path / "worker.log")
    try:
        yield proc, port
    finally:
        stop_process(proc)


def rejects_on(broker: EmbeddedBroker, topic: str) -> list[dict[str, Any]]:
    """Every reject on ``topic`` (ais.rejected, one partition), in order."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, consumer_timeout_ms=5_000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    rejects = [r for rec in consumer for r in orjson.loads(rec.value)["rejects"]]
    consumer.close()
    return rejects


def wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_serves_metrics_and_stops_on_sigterm(
    broker: EmbeddedBroker, worker: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    proc, port = worker
    wait_for(lambda: "mda_lines_read_total" in scrape(port), 60, "/metrics")
    text = scrape(port)
    # Known label values are pre-initialised: dashboards see zeros, not gaps.
    assert 'mda_messages_rejected_total{reason="bad_checksum"} 0.0' in text
    assert "mda_lines_retimed_total 0.0" in text
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    lines = replay_file(
        producer, f"w{port}.ais.raw", SCENARIO, "scenario", speed=None, batch_lines=50
    )
    producer.flush()
    producer.close()
    wait_for(
        lambda: metric_value(scrape(port), "mda_lines_read_total") >= lines, 90, "all lines read"
    )
    wait_for(
        lambda: metric_value(scrape(port), "mda_alerts_total") >= 3, 30, "the scenario's alerts"
    )
    text = scrape(port)
    # One message per sentence, except the second fragments of the two-part type 5 messages.
    messages = sum(1 for ln in great_lakes_demo().lines if "!AIVDM,2,2," not in ln)
    assert metric_value(text, "mda_messages_decoded_total") == messages
    assert metric_value(text, "mda_reports_tracked_total") == messages
    assert metric_value(text, "mda_vessels_tracked") == 3
    # Faust's own sensor is on the same page (prefix: the app id).
    assert f"test_worker_{port}_messages_received" in text

    # A live receiver's batch: station S-AHEAD dates its lines 5 min after their receipt.
    # They are dated by their receipt, counted, and the station is named in the log, once.
    received_ms = int(time.time()) * 1000  # (tagged() writes c: in whole seconds)
    live = [
        RawLine("udp://test", i, text, received_ms)
        for i, text in enumerate(
            [
                *tagged([POSITION], received_ms + 300_000, "S-AHEAD") * 3,
                *tagged([POSITION], received_ms - 2_000, "S-ON-TIME"),
            ],
            1,
        )
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    producer.send(f"w{port}.ais.raw", key=b"udp://test", value=raw_batch_to_json(live, live=True))
    producer.flush()
    producer.close()
    wait_for(
        lambda: metric_value(scrape(port), "mda_lines_retimed_total") == 3, 30, "3 lines retimed"
    )
    assert metric_value(scrape(port), "mda_lines_read_total") == lines + 4
    log = (tmp_path / "worker.log").read_text()
    assert log.count("station S-AHEAD: its clock read ") == 1, log
    assert "(5.0 min ahead); its lines are dated by their receipt" in log
    assert "S-ON-TIME" not in log

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert time.monotonic() - started < 10


def mda_replay(broker: EmbeddedBroker, port: int, *files: Path) -> subprocess.CompletedProcess[str]:
    """``mda replay FILE...`` to the topics of the worker whose web port is ``port``."""
    env = {
        **os.environ,
        "MDA_KAFKA_BOOTSTRAP": broker.bootstrap,
        "MDA_TOPIC_PREFIX": f"w{port}.",
        "MDA_PARTITIONS": "2",
    }
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", *map(str, files)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_replay_of_long_lines_through_a_worker_loses_nothing(
    broker: EmbeddedBroker, worker: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    """``mda replay`` of a file where 4,000-character garbage lines surround the scenario's:
    every line is read, every garbage line is rejected and its reject is on ``ais.rejected``,
    the scenario's reports are all tracked. Before: ``mda replay`` died sending a 2 MB record;
    with a larger request size, the decode agent crashed sending a 2 MB ``ais.rejected``
    message (Faust restarted it; those rejects were lost)."""
    _, port = worker
    wait_for(lambda: "mda_lines_read_total" in scrape(port), 60, "/metrics")
    good = great_lakes_demo().lines
    texts = [t for g in good for t in (g, "!AIVDM,1,1,,A," + "Q" * 4_000 + ",0*00")]
    path = tmp_path / "long.nmea"
    path.write_text("\n".join(texts) + "\n")
    replay = mda_replay(broker, port, path)
    assert replay.returncode == 0, replay.stderr
    assert f"{len(texts)} lines" in replay.stdout
    wait_for(
        lambda: metric_value(scrape(port), "mda_lines_read_total") >= len(texts),
        90,
        "all lines read",
    )
    messages = sum(1 for ln in good if "!AIVDM,2,2," not in ln)
    wait_for(
        lambda: metric_value(scrape(port), "mda_reports_tracked_total") >= messages,
        60,
        "the scenario's reports",
    )
    text = scrape(port)
    assert metric_value(text, "mda_lines_read_total") == len(texts)
    assert metric_value(text, "mda_messages_rejected_total") == len(good)
    assert metric_value(text, "mda_reports_tracked_total") == messages
    rejects = rejects_on(broker, f"w{port}.ais.rejected")
    assert sorted(r["line_no"] for r in rejects) == list(range(2, len(texts) + 1, 2))
    log = (tmp_path / "worker.log").read_text()
    assert "Crashed" not in log and "MessageSizeTooLarge" not in log


def test_replay_of_a_file_that_breaks_off_sends_the_rest(
    broker: EmbeddedBroker, worker: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    """``mda replay cut.ais.gz scenario.nmea``: the complete lines of the cut gzip and the
    whole next file reach the worker; the break is named on stderr and the exit status is 1
    (not everything in the files was sent). Before: a traceback, the cut file's last partial
    batch and the next file never sent."""
    _, port = worker
    wait_for(lambda: "mda_lines_read_total" in scrape(port), 60, "/metrics")
    cut, complete = cut_gzip(tmp_path)
    scenario = DATA_DIR / "great_lakes_demo.nmea"
    scenario_lines = len(scenario.read_text().splitlines())
    replay = mda_replay(broker, port, cut, scenario)
    assert replay.returncode == 1, replay.stderr
    assert f"cut.ais.gz: stopped after {len(complete)} lines" in replay.stderr
    assert "Traceback" not in replay.stderr
    total = len(complete) + scenario_lines
    assert f"{total} lines" in replay.stdout
    wait_for(lambda: metric_value(scrape(port), "mda_lines_read_total") >= total, 90, "every line")
    assert metric_value(scrape(port), "mda_lines_read_total") == total


def test_messages_not_ours_are_counted_and_skipped(
    broker: EmbeddedBroker, worker: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    """Another program writes garbage to ais.raw, ais.reports, mda.presence, mda.alerts and
    mda.alerts.by-id (where a control record is refused too: only alerts go there),
    and batches of rows that are not ours to ais.reports and mda.presence, then the scenario
    is replayed: each bad message and each bad row is counted (``bad_message``), shown on
    ``ais.rejected`` with its offset, and skipped; the scenario gives all its reports and
    alerts; ais.raw's offsets are committed past the bad messages; no agent crashed."""
    _, port = worker
    wait_for(lambda: "mda_lines_read_total" in scrape(port), 60, "/metrics")
    prefix = f"w{port}."
    bad = [b"garbage", b"[1, 2]", b'{"lines": 5}', b'{"ctl": "eof"}']
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    topics = ("ais.raw", "ais.reports", "mda.presence", "mda.alerts", "mda.alerts.by-id")
    for topic in topics:
        for p in range(2):
            for value in bad:
                producer.send(prefix + topic, key=b"intruder", value=value, partition=p)
    # Batches of the right form with rows that are not ours: the rows are skipped, each
    # counted and shown, the batch read (offset len(bad) of partition 0).
    rows: dict[str, list[Any]] = {
        "ais.reports": [[1, 2], "x", {"tick": "soon", "source": "s"}],
        "mda.presence": [[5], {"tick": 1}],
    }
    for topic, batch in (
        ("ais.reports", {"fields": list(REPORT_FIELDS), "reports": rows["ais.reports"]}),
        ("mda.presence", {"presence": rows["mda.presence"], "from": 0}),
    ):
        producer.send(prefix + topic, key=b"intruder", value=orjson.dumps(batch), partition=0)
    producer.flush()
    lines = replay_file(
        producer, f"{prefix}ais.raw", SCENARIO, "scenario", speed=None, batch_lines=50
    )
    producer.flush()
    producer.close()
    # (A control record on mda.alerts is one: its reader skips it.)
    refused = len(topics) * 2 * len(bad) - 2 + sum(len(items) for items in rows.values())
    wait_for(
        lambda: metric_value(scrape(port), "mda_lines_read_total") >= lines, 90, "all lines read"
    )
    wait_for(
        lambda: metric_value(scrape(port), "mda_alerts_total") >= 3, 30, "the scenario's alerts"
    )
    wait_for(
        lambda: 'reason="bad_message"} ' + f"{refused}.0" in scrape(port),
        30,
        "every bad message counted",
    )
    text = scrape(port)
    messages = sum(1 for ln in great_lakes_demo().lines if "!AIVDM,2,2," not in ln)
    assert metric_value(text, "mda_reports_tracked_total") == messages
    assert metric_value(text, "mda_lines_read_total") == lines

    shown = [r for r in rejects_on(broker, f"{prefix}ais.rejected") if r["reason"] == "bad_message"]
    assert len(shown) == refused
    assert {r["source"] for r in shown} == {prefix + t for t in topics}
    # Every bad message once, except the control record on mda.alerts (2 partitions).
    expected = [v.decode() for _ in topics for _ in range(2) for v in bad]
    expected.remove('{"ctl": "eof"}')
    expected.remove('{"ctl": "eof"}')
    expected += [orjson.dumps(item).decode() for items in rows.values() for item in items]
    assert sorted(r["raw"] for r in shown) == sorted(expected)
    skipped = [r for r in shown if " row " in r["detail"]]
    assert sorted((r["source"], r["line_no"]) for r in skipped) == sorted(
        (prefix + topic, len(bad)) for topic, items in rows.items() for _ in items
    )
    raw_offsets = sorted(r["line_no"] for r in shown if r["source"] == prefix + "ais.raw")
    assert raw_offsets == sorted(list(range(len(bad))) * 2)

    # Committed to the end of ais.raw: the bad messages (first in both partitions), then
    # the scenario's batches (in one of them).
    def committed() -> dict[int, int]:
        return committed_offsets(broker.bootstrap, f"test-worker-{port}", prefix + "ais.raw")

    total = 2 * len(bad) + -(-lines // 50)
    wait_for(lambda: sum(committed().values()) == total, 30, "ais.raw committed to its end")
    assert min(committed().values()) >= len(bad)
    log = (tmp_path / "worker.log").read_text()
    assert "Crashed" not in log


def test_broker_stops_on_sigterm_within_10s() -> None:
    b = start_broker()
    started = time.monotonic()
    os.kill(b.pid, signal.SIGTERM)
    b.process.wait(timeout=10)
    assert time.monotonic() - started < 10


def test_worker_whose_broker_vanished_still_stops_on_sigterm(tmp_path: Path) -> None:
    """Without its broker a Faust worker hangs leaving the group; the stop deadline ends it."""
    from streams.worker import STOP_GRACE_S

    own = start_broker()
    port = free_port()
    ensure_topics(own.bootstrap, topic_specs(Settings(topic_prefix="gone.", partitions=1)))
    env = worker_env(
        own.bootstrap,
        app_id="test-broker-gone",
        prefix="gone.",
        partitions=1,
        data_dir=tmp_path / "data",
        web_port=port,
    )
    proc = spawn_worker(env, tmp_path / "worker.log")
    try:
        wait_for(lambda: "mda_lines_read_total" in scrape(port), 60, "/metrics")
        own.stop()
        time.sleep(2)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_GRACE_S + 10)
        assert time.monotonic() - started < STOP_GRACE_S + 5
    finally:
        stop_process(proc)
        own.stop()
