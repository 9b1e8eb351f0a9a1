"""Soak: one worker on the embedded broker under a steady live-like feed for N minutes.

A synthetic feed of ``--vessels`` Class A vessels under way in Lake Ontario is encoded with
pyais at ``--rate`` sentences per second, each with a tag block dated at the moment it is
sent (so the event-time lag the worker measures is the pipeline's own delay), and replayed in
batches onto ``ais.raw``. Every ``--every`` seconds the script samples the worker's RSS
(``/proc/PID/status``), its lines read and event-time lag (``/metrics``), and writes a CSV
row; at the end it waits for the worker to drain and prints a summary, with the lines lost.

    python bench/soak.py --minutes 10 --rate 1000 --csv soak.csv      # make soak
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from kafka import KafkaProducer
from pyais.encode import encode_dict

from mda.model import RawLine, raw_batch_to_json
from streams.admin import ensure_topics
from streams.broker import free_port, start_broker
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import topic_specs

PREFIX = "soak."
PARTITIONS = 4
SOURCE = "soak-feed"


def scrape(port: int) -> dict[str, float]:
    """The sample values of /metrics, summed over label sets (histogram buckets kept by le)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith("mda_"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        if name == "mda_event_time_lag_seconds_bucket":
            le = name_labels.split('le="', 1)[1].split('"', 1)[0]
            name = f"{name}:{le}"
        out[name] = out.get(name, 0.0) + float(value)
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def lag_quantile(prev: dict[str, float], cur: dict[str, float], q: float) -> float:
    """Upper bucket bound holding quantile ``q`` of the lag observed between two scrapes."""
    prefix = "mda_event_time_lag_seconds_bucket:"
    buckets = sorted(
        (float(k[len(prefix) :]), cur[k] - prev.get(k, 0.0)) for k in cur if k.startswith(prefix)
    )
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return math.nan
    for le, count in buckets:
        if count >= q * total:
            return le
    return math.inf


class Feed:
    """Vessels moving on straight lines; each call gives the next sentence, dated now."""

    def __init__(self, vessels: int) -> None:
        self.vessels = [
            # MMSI (Canadian MID 316), lat, lon, course, speed
            (316_000_000 + i, 43.3 + (i % 97) * 0.006, -79.0 + (i % 89) * 0.03, (i * 37) % 360)
            for i in range(vessels)
        ]
        self.turn = 0
        self.line_no = 0

    def next(self, now_s: int) -> RawLine:
        i = self.turn % len(self.vessels)
        step = self.turn // len(self.vessels)
        self.turn += 1
        mmsi, lat, lon, course = self.vessels[i]
        # ~10 kn: 0.00005° per report at a report every few seconds.
        dlat = 0.00005 * step * math.cos(math.radians(course))
        dlon = 0.00007 * step * math.sin(math.radians(course))
        (sentence,) = encode_dict(
            {
                "type": 1,
                "mmsi": mmsi,
                "status": 0,
                "lat": lat + dlat,
                "lon": lon + dlon,
                "speed": 10.0,
                "course": float(course),
                "heading": course,
            },
            radio_channel="A",
        )
        self.line_no += 1
        text = f"\\s:SOAK1,c:{now_s}*00\\{sentence}"
        return RawLine(SOURCE, self.line_no, text, now_s * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=1000, help="sentences per second")
    ap.add_argument("--vessels", type=int, default=2000)
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--csv", type=Path, default=Path("soak.csv"))
    ap.add_argument("--drain-minutes", type=float, default=20.0, help="longest wait to drain")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mda-soak-"))
    broker = start_broker(log_path=work / "broker.log")
    settings = Settings(topic_prefix=PREFIX, partitions=PARTITIONS)
    ensure_topics(broker.bootstrap, topic_specs(settings))
    web_port = free_port()
    env = {
        **os.environ,
        "MDA_KAFKA_BOOTSTRAP": broker.bootstrap,
        "MDA_APP_ID": "soak",
        "MDA_TOPIC_PREFIX": PREFIX,
        "MDA_PARTITIONS": str(PARTITIONS),
        "MDA_WEB_PORT": str(web_port),
        "MDA_DATA_DIR": str(work / "data"),
    }
    log = open(work / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    rows: list[dict[str, float]] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                prev = scrape(web_port)
                break
            except OSError:
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise RuntimeError(f"worker did not start; see {work / 'worker.log'}") from None
                time.sleep(1)
        print(f"worker pid {worker.pid} ready; soak {args.minutes} min at {args.rate}/s")
        feed = Feed(args.vessels)
        tick_s = 0.05
        per_tick = max(1, round(args.rate * tick_s))
        started = time.monotonic()
        end = started + args.minutes * 60
        next_sample = started + args.every
        next_tick = started
        sent = 0
        with open(args.csv, "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(
                ["t_s", "sent", "lines_read", "backlog", "rss_mb", "lag_p50_s", "lag_p95_s",
                 "lag_mean_s", "vessels"]
            )  # fmt: skip
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                if now >= next_tick:
                    now_s = int(time.time())
                    batch = [feed.next(now_s) for _ in range(per_tick)]
                    producer.send(
                        f"{PREFIX}ais.raw",
                        key=SOURCE.encode(),
                        value=raw_batch_to_json(batch, live=True),
                    )
                    sent += per_tick
                    next_tick += tick_s
                if now >= next_sample:
                    producer.flush()
                    try:
                        cur = scrape(web_port)
                    except OSError as exc:  # a worker too busy to answer is a finding too
                        print(f"t_s={now - started:.0f} /metrics did not answer: {exc}")
                        next_sample += args.every
                        continue
                    read = cur.get("mda_lines_read_total", 0.0)
                    d_sum = cur.get("mda_event_time_lag_seconds_sum", 0.0) - prev.get(
                        "mda_event_time_lag_seconds_sum", 0.0
                    )
                    d_n = cur.get("mda_event_time_lag_seconds_count", 0.0) - prev.get(
                        "mda_event_time_lag_seconds_count", 0.0
                    )
                    row = {
                        "t_s": round(now - started, 1),
                        "sent": sent,
                        "lines_read": read,
                        "backlog": sent - read,
                        "rss_mb": round(rss_mb(worker.pid), 1),
                        "lag_p50_s": lag_quantile(prev, cur, 0.5),
                        "lag_p95_s": lag_quantile(prev, cur, 0.95),
                        "lag_mean_s": round(d_sum / d_n, 3) if d_n else math.nan,
                        "vessels": cur.get("mda_vessels_tracked", 0.0),
                    }
                    rows.append(row)
                    out.writerow(row.values())
                    fh.flush()
                    print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                    prev = cur
                    next_sample += args.every
                    if worker.poll() is not None:
                        raise RuntimeError(f"worker exited; see {work / 'worker.log'}")
                time.sleep(max(0.0, min(next_tick, next_sample) - time.monotonic()))
        producer.flush()
        # Drain: until every line is read, or nothing more is read for a minute (stuck or
        # lost), or --drain-minutes is up (then the rest is reported as not yet read).
        drain_started = last_progress = time.monotonic()
        read = 0.0
        drain_rss = 0.0
        while time.monotonic() - drain_started < args.drain_minutes * 60:
            with contextlib.suppress(OSError):
                now_read = scrape(web_port).get("mda_lines_read_total", 0.0)
                if now_read > read:
                    read, last_progress = now_read, time.monotonic()
            drain_rss = max(drain_rss, rss_mb(worker.pid))
            if read >= sent or time.monotonic() - last_progress > 60:
                break
            time.sleep(2)
        drain_s = time.monotonic() - drain_started
        stalled = read < sent and time.monotonic() - last_progress > 60
    finally:
        producer.close()
        stop_process(worker)
        log.close()
        broker.stop()
    summarise(rows, sent, read, drain_s, drain_rss, stalled, args)


def summarise(
    rows: list[dict[str, float]],
    sent: int,
    read: float,
    drain_s: float,
    drain_rss: float,
    stalled: bool,
    args: argparse.Namespace,
) -> None:
    rss = [r["rss_mb"] for r in rows]
    half = rss[len(rss) // 2 :] or rss
    minutes = (rows[-1]["t_s"] - rows[len(rows) // 2]["t_s"]) / 60 if len(rows) > 2 else 0
    slope = (half[-1] - half[0]) / minutes if minutes else math.nan
    p95 = [r["lag_p95_s"] for r in rows if not math.isnan(r["lag_p95_s"])]
    print()
    print(f"soak: {args.minutes} min at {args.rate} lines/s, {args.vessels} vessels")
    if read >= sent:
        print(f"  lines sent {sent}, read {read:.0f}, lost 0 (drained in {drain_s:.0f} s)")
    elif stalled:
        print(f"  lines sent {sent}, read {read:.0f}: LOST or stuck {sent - read:.0f} "
              f"(nothing read for 60 s of the drain)")  # fmt: skip
    else:
        print(f"  lines sent {sent}, read {read:.0f}: {sent - read:.0f} not yet read when the "
              f"{args.drain_minutes} min drain ended (still reading)")  # fmt: skip
    print(f"  max backlog {max(r['backlog'] for r in rows):.0f} lines")
    print(
        f"  worker RSS: first {rss[0]:.0f} MB, max {max(rss):.0f} MB, last {rss[-1]:.0f} MB; "
        f"second half {slope:+.1f} MB/min; max while draining {drain_rss:.0f} MB"
    )
    if p95:
        print(f"  event-time lag p95 (bucket bound): median {sorted(p95)[len(p95) // 2]} s, "
              f"max {max(p95)} s")  # fmt: skip
    print(f"  samples in {args.csv}")


if __name__ == "__main__":
    main()
