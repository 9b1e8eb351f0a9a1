"""Reproduce the start-up loss: a worker restarting with a backlog on ais.reports while it
restores the tracks table; does every offset reach the track agent?

    .venv/bin/python scripts/repro_startup_loss.py --restarts 10

One embedded broker; reports are produced straight onto ais.reports (decoded here with
DecodeStage). Worker A (flush 0) processes a first part, so the changelog is not empty and
offsets are committed; then a backlog is produced and workers B1..Bn (flush 3600 s: nothing
more is committed) are started one after the other, each SIGKILLed once it has logged (env
MDA_TRACE_OFFSETS) every offset up to the end, or after a timeout. For every start, per
partition: the offsets from the committed one to the end that the agent never received.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from pathlib import Path

from kafka import KafkaProducer

from replay.scenarios import great_lakes_demo, rules_border, rules_encounter
from streams.admin import ensure_topics
from streams.broker import free_port, start_broker
from streams.pipeline import DecodeStage
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import TopicNames, topic_specs
from tests.integration.workers import committed_offsets, spawn_worker, worker_env

PARTITIONS = 2
TRACE = re.compile(rb"TRACK-OFFSET (\d+) (\d+)")


def report_messages(prefix: str, batch_lines: int) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of the ais.reports messages of a few scenarios."""
    import orjson

    from mda.model import RawLine

    names = TopicNames.from_settings(Settings(topic_prefix=prefix, partitions=PARTITIONS))
    stage = DecodeStage(names, PARTITIONS)
    out: list[tuple[int, bytes, bytes]] = []
    for scenario in (great_lakes_demo(), rules_border(), rules_encounter()):
        lines = scenario.lines
        for i in range(0, len(lines), batch_lines):
            recs = [
                RawLine(scenario.name, i + j, t, 0).to_dict()
                for j, t in enumerate(lines[i : i + batch_lines])
            ]
            for o in stage.handle(orjson.dumps({"lines": recs})):
                if o.topic == names.reports:
                    assert o.partition is not None
                    out.append((o.partition, o.key or b"", o.value))
    return out


def produce(bootstrap: str, topic: str, msgs: list[tuple[int, bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for p, k, v in msgs:
        producer.send(topic, key=k, value=v, partition=p)
    producer.flush()
    producer.close()


def traced(log: Path) -> dict[int, list[int]]:
    got: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    for m in TRACE.finditer(log.read_bytes()):
        got[int(m[1])].append(int(m[2]))
    return got


def run_worker(env: dict[str, str], log: Path, ends: dict[int, int], timeout_s: float) -> None:
    proc = spawn_worker(env, log)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = traced(log)
            if all(got[p] and max(got[p]) >= ends[p] - 1 for p in range(PARTITIONS)):
                time.sleep(1.0)  # let stragglers arrive
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop_process(proc)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--restarts", type=int, default=5)
    ap.add_argument("--backlog-copies", type=int, default=3)
    ap.add_argument("--batch-lines", type=int, default=5)
    ap.add_argument("--devlog", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("/tmp/startup-loss"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    broker = start_broker(log_path=args.out / "broker.log")
    bad = 0
    try:
        prefix = f"sl{free_port()}."
        app_id = f"startup-{prefix}"
        reports = f"{prefix}ais.reports"
        ensure_topics(
            broker.bootstrap, topic_specs(Settings(topic_prefix=prefix, partitions=PARTITIONS))
        )
        msgs = report_messages(prefix, args.batch_lines)
        print(f"{len(msgs)} report messages per copy", flush=True)

        def env(n: int, flush_s: str) -> dict[str, str]:
            return worker_env(
                broker.bootstrap,
                app_id=app_id,
                prefix=prefix,
                partitions=PARTITIONS,
                data_dir=args.out / f"data{n}",
                MDA_TRACK_FLUSH_S=flush_s,
                MDA_TRACE_OFFSETS="1",
                **({"DEVLOG": "1"} if args.devlog else {}),
            )

        produce(broker.bootstrap, reports, msgs)
        ends = {p: sum(1 for m in msgs if m[0] == p) for p in range(PARTITIONS)}
        run_worker(env(0, "0"), args.out / "worker0.log", ends, 90)
        time.sleep(0)
        base = committed_offsets(broker.bootstrap, app_id, reports)
        print("after A: committed", base, "ends", ends, flush=True)
        for _ in range(args.backlog_copies):
            produce(broker.bootstrap, reports, msgs)
        ends = {p: ends[p] * (1 + args.backlog_copies) for p in range(PARTITIONS)}
        for n in range(1, args.restarts + 1):
            committed = committed_offsets(broker.bootstrap, app_id, reports)
            log = args.out / f"worker{n}.log"
            t0 = time.monotonic()
            run_worker(env(n, "3600"), log, ends, 120)
            got = traced(log)
            missing = {
                p: sorted(set(range(committed.get(p, 0), ends[p])) - set(got[p]))
                for p in range(PARTITIONS)
            }
            lost = {p: m for p, m in missing.items() if m}
            bad += bool(lost)
            print(
                f"start {n}: {time.monotonic() - t0:.0f}s committed={committed} ends={ends} "
                f"received={ {p: len(got[p]) for p in got} } missing="
                f"{ {p: (m[:10], len(m)) for p, m in lost.items()} }",
                flush=True,
            )
    finally:
        broker.stop()
    print(f"{bad} of {args.restarts} starts lost messages", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
