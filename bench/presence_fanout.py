"""Presence fan-out: what proximity costs per position report, in messages and records.

Runs a recording through the decode and track stages in process (no Kafka) for several
partition counts and prints, per position report: the presence records sent (one per
destination partition: the partitions of the vessel's H3 res-7 cell and its k=1 ring,
plus the partitions it left), the mda.presence messages (one per destination partition per
track batch, ticks included) and the wire bytes; then the proximity stage's time per record.

    .venv/bin/python bench/presence_fanout.py [FILE] [--batch-lines N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson

from mda.geo import Geography
from mda.mid import MidTable
from mda.model import RawLine
from mda.rules.context import RuleContext
from mda.thresholds import Thresholds
from mda.track import VesselTrack
from replay.scenarios import DATA_DIR
from streams.pipeline import DecodeStage, TrackStage, report_items
from streams.proximity import ProximityStage
from streams.settings import Settings
from streams.topics import TopicNames

NAMES = TopicNames.from_settings(Settings())


def measure(lines: list[str], partitions: int, batch_lines: int) -> dict[str, float]:
    geography = Geography.load()
    ctx = RuleContext(geography, MidTable.load_default())
    decode = DecodeStage(NAMES, partitions)
    tracks: dict[int, VesselTrack] = {}
    track = TrackStage(NAMES, partitions, ctx, tracks)
    prox = ProximityStage(NAMES, partitions, geography, MidTable.load_default(), Thresholds())
    raw = [RawLine("bench", i, text, 0).to_dict() for i, text in enumerate(lines, 1)]
    batches = [
        orjson.dumps({"lines": raw[i : i + batch_lines]}) for i in range(0, len(raw), batch_lines)
    ]
    batches.append(orjson.dumps({"ctl": "eof", "run": "b", "source": "bench"}))
    positions = records = ticks = messages = nbytes = 0
    presence: list[tuple[bytes, int]] = []
    for batch in batches:
        for o in decode.handle(batch):
            if o.topic != NAMES.reports or o.partition is None:
                continue
            msg = orjson.loads(o.value)
            positions += sum(1 for r in report_items(msg) if r.get("lat") is not None)
            for t in track.handle(o.value, o.partition):
                if t.topic != NAMES.presence or t.partition is None or t.key == b"ctl":
                    continue
                items = orjson.loads(t.value)["presence"]
                messages += 1
                nbytes += len(t.value)
                ticks += sum(1 for d in items if type(d) is dict and "tick" in d)
                records += sum(1 for d in items if type(d) is list or "tick" not in d)
                presence.append((t.value, t.partition))
    started = time.perf_counter()
    for value, p in presence:
        prox.handle(value, p)
    elapsed = time.perf_counter() - started
    return {
        "positions": positions,
        "records_per_report": records / max(positions, 1),
        "messages_per_report": messages / max(positions, 1),
        "ticks": ticks,
        "bytes_per_report": nbytes / max(positions, 1),
        "proximity_us_per_record": elapsed / max(records, 1) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DATA_DIR / "great_lakes_demo.nmea")
    parser.add_argument("--batch-lines", type=int, default=500)
    args = parser.parse_args()
    text = args.file.read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    print(f"presence fan-out: {args.file.name}, {len(lines)} lines, batches of {args.batch_lines}")
    print(
        f"{'partitions':>10} {'positions':>9} {'records/rep':>11} {'msgs/rep':>9} "
        f"{'ticks':>6} {'bytes/rep':>9} {'prox µs/rec':>11}"
    )
    for n in (1, 2, 4, 8, 16):
        m = measure(lines, n, args.batch_lines)
        print(
            f"{n:>10} {m['positions']:>9.0f} {m['records_per_report']:>11.2f} "
            f"{m['messages_per_report']:>9.3f} {m['ticks']:>6.0f} {m['bytes_per_report']:>9.0f} "
            f"{m['proximity_us_per_record']:>11.1f}"
        )


if __name__ == "__main__":
    main()
