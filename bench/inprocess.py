"""In-process throughput: pyais alone, our decode stage, and decode + track (no Kafka)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson
from pyais.messages import NMEASentenceFactory

from mda.geo import Geography
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.model import RawLine
from mda.rules.context import RuleContext
from replay.files import iter_raw_lines
from streams.pipeline import DecodeStage, TrackStage
from streams.settings import Settings
from streams.topics import TopicNames

NAMES = TopicNames.from_settings(Settings())


def load(paths: list[Path]) -> list[RawLine]:
    lines: list[RawLine] = []
    for p in paths:
        lines += list(iter_raw_lines(p, source=p.name, ingest_ms=0))
    return lines


def pyais_rate(lines: list[RawLine]) -> float:
    """pyais's own parse + decode of every single sentence (multipart parts parsed only)."""
    raw = [ln.text.encode() for ln in lines]
    t = time.perf_counter()
    for b in raw:
        try:
            s = NMEASentenceFactory.produce(b)
            if getattr(s, "frag_cnt", 0) == 1:
                s.decode()  # type: ignore[attr-defined]
        except Exception:  # the baseline skips what it cannot parse
            pass
    return len(raw) / (time.perf_counter() - t)


def stage_rates(lines: list[RawLine], partitions: int = 4) -> tuple[float, float, int]:
    batches = [
        orjson.dumps({"lines": [ln.to_dict() for ln in lines[i : i + 500]]})
        for i in range(0, len(lines), 500)
    ]
    decode = DecodeStage(NAMES, partitions)
    t = time.perf_counter()
    outs = [o for b in batches for o in decode.handle(b)]
    decode_s = time.perf_counter() - t
    ctx = RuleContext(Geography.load(), MidTable.load_default(), landmask=LandMask.load_default())
    track = TrackStage(NAMES, partitions, ctx, {})
    reports = [o for o in outs if o.topic == NAMES.reports]
    t = time.perf_counter()
    alerts = 0
    for o in reports:
        assert o.partition is not None
        alerts += sum(1 for a in track.handle(o.value, o.partition) if a.topic == NAMES.alerts)
    track_s = time.perf_counter() - t
    return len(lines) / decode_s, len(lines) / (decode_s + track_s), alerts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    lines = load(args.files) * args.repeat
    print(f"lines: {len(lines)}")
    print(f"pyais parse+decode: {pyais_rate(lines):,.0f} lines/s")
    d, dt, alerts = stage_rates(lines)
    print(f"decode stage: {d:,.0f} lines/s; decode+track: {dt:,.0f} lines/s ({alerts} alerts)")


if __name__ == "__main__":
    main()
