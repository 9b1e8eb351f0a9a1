"""The wiring's ceiling: one worker end to end with its domain code taking no time.

    python -m bench.hollow [--reps 10] [--runs 3]

Issue 8 asks for 50,000 lines/s end to end on one worker. This measures what the worker's
wiring alone (Faust, aiokafka, asyncio, the embedded broker, the agents' metrics and the
alert lifecycle) allows on this machine: the decode, track and proximity stages of the
worker are replaced by lookups of their outputs, recorded beforehand by running the real
stages in process on the very messages the run sends. The worker then sends, receives,
acknowledges and counts the same messages (same bytes, same topics and partitions) as a real
one, and computes nothing. Interleaved with it, the same run with the real stages ((d) of
``bench.run``).

Not measured by the hollow worker: the coalesced table writes of the track stage (a hollow
stage changes no track; `make profile` puts them under 1% of a real worker) and the stages'
first-use memos. Messages the recording did not see (the warm-up) go to the real stages.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.run import (
    PARTITIONS,
    Plan,
    bench_end_to_end,
    loadavg,
    machine,
    make_plan,
    pipeline_corpus,
    rule_context,
)
from replay.producer import eof_record
from streams.pipeline import DecodeStage, Out, TrackStage
from streams.proximity import ProximityStage
from streams.settings import Settings
from streams.topics import TopicNames

#: Where a hollow worker finds the recorded outputs (a pickle written by :func:`record`).
ENV = "MDA_BENCH_HOLLOW"


def record(plan: Plan, run: str) -> dict[str, Any]:
    """Every stage's outputs for every message the run sends, keyed by the message (value, and
    partition for the stages that take one); topic names without a prefix."""
    names = TopicNames.from_settings(Settings(topic_prefix=""))
    ctx = rule_context()
    dec = DecodeStage(names, PARTITIONS)
    track = TrackStage(names, PARTITIONS, ctx, {})
    prox = ProximityStage(names, PARTITIONS, ctx.geography, ctx.mids, ctx.thresholds)
    decode_t: dict[bytes, Any] = {}
    track_t: dict[tuple[bytes, int], list[Out]] = {}
    prox_t: dict[tuple[bytes, int], list[Out]] = {}
    for source, values, _part in plan.sends:
        for v in [*values, eof_record(source, run)]:
            outs = dec.handle(v)
            decode_t[v] = (outs, dec.last_lines, dec.last_decoded_types, dec.last_rejects)
            for o in outs:
                if o.topic != names.reports:
                    continue
                assert o.partition is not None
                touts = track.handle(o.value, o.partition)
                track_t[(o.value, o.partition)] = touts
                for t in touts:
                    if t.topic == names.presence:
                        assert t.partition is not None
                        prox_t[(t.value, t.partition)] = prox.handle(t.value, t.partition)
    return {"decode": decode_t, "track": track_t, "proximity": prox_t}


def install(path: Path, prefix: str) -> None:
    """Replace the stages' ``handle`` with lookups of the recording at ``path`` (in a worker
    whose topics have ``prefix``); a message not recorded goes to the real stage."""
    tables = pickle.loads(path.read_bytes())

    def prefixed(outs: list[Out]) -> list[Out]:
        return [Out(prefix + o.topic, o.key, o.value, o.partition) for o in outs]

    decode_t = {
        k: (prefixed(outs), lines, types, rejects)
        for k, (outs, lines, types, rejects) in tables["decode"].items()
    }
    track_t = {k: prefixed(v) for k, v in tables["track"].items()}
    prox_t = {k: prefixed(v) for k, v in tables["proximity"].items()}
    real_decode, real_track, real_prox = (
        DecodeStage.handle,
        TrackStage.handle,
        ProximityStage.handle,
    )

    def decode(self: DecodeStage, value: bytes) -> list[Out]:
        hit = decode_t.get(value)
        if hit is None:
            return real_decode(self, value)
        outs, self.last_lines, self.last_decoded_types, self.last_rejects = hit
        return outs

    def track(
        self: TrackStage, value: bytes, partition: int, offset: int | None = None
    ) -> list[Out]:
        outs = track_t.get((value, partition))
        if outs is None:
            return real_track(self, value, partition, offset)
        self.last_findings, self.last_lags_s, self.last_duplicates = [], [], 0
        self.last_bad_rows = 0
        self.last_flushed = True  # (nothing changed: nothing to write before acknowledging)
        return outs

    def proximity(
        self: ProximityStage, value: bytes, partition: int, offset: int | None = None
    ) -> list[Out]:
        outs = prox_t.get((value, partition))
        if outs is None:
            return real_prox(self, value, partition, offset)
        self.last_findings, self.last_bad_rows = [], 0
        # (acknowledged at once: the recorded ends are complete when looked up)
        self.last_eof, self.last_eof_complete = None, False
        return outs

    DecodeStage.handle = decode  # type: ignore[method-assign]
    TrackStage.handle = track  # type: ignore[method-assign]
    ProximityStage.handle = proximity  # type: ignore[method-assign]


def run_once(
    work: Path, plan: Plan, hollow: bool, preload: bool, spy: Path | None = None, label: str = ""
) -> dict[str, float]:
    """One (d)-style run of ``bench.run`` (``preload``: as (e)), with a hollow worker if told."""
    run = "hollow-" + uuid.uuid4().hex[:6]
    env: dict[str, str] = {}
    if hollow:
        path = work / f"{run}.pickle"
        path.write_bytes(pickle.dumps(record(plan, run)))
        env = {ENV: str(path)}
    module = "bench.hollow" if hollow else None
    r = bench_end_to_end(work, plan, 1, spy, label, preload, run=run, module=module, extra_env=env)
    return {
        "rate": r["rate"],
        "worker_us": r["worker_cpu_s"] / plan.lines * 1e6,
        "broker_us": r["broker_cpu_s"] / plan.lines * 1e6,
    }


def worker_main() -> None:
    """``python -m bench.hollow worker``: ``mda worker`` with the stages replaced."""
    from streams import worker

    install(Path(os.environ[ENV]), Settings().topic_prefix)
    worker.main(sys.argv[2:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=10, help="repetitions of the bundled files")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs of each")
    ap.add_argument(
        "--preload",
        action="store_true",
        help="put the input on ais.raw while the worker is stopped, as (e) of bench.run",
    )
    ap.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="profile the worker with py-spy; collapsed stacks to DIR/{real,hollow}<i>-w0.txt",
    )
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"load average at start: {loadavg()}")
    plan = make_plan(pipeline_corpus(args.reps))
    n = plan.lines
    res: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="mda-hollow-") as tmp:
        for i in range(args.runs):
            for hollow in (False, True):
                label = f"{'hollow' if hollow else 'real'}{i}"
                r = run_once(Path(tmp), plan, hollow, args.preload, args.py_spy, label)
                res[hollow].append(r)
                what = "hollow" if hollow else "real  "
                print(
                    f"  {what} {n} lines: {r['rate']:9,.0f} lines/s; CPU per line "
                    f"worker {r['worker_us']:.0f} µs, broker {r['broker_us']:.0f} µs",
                    flush=True,
                )
    for hollow in (False, True):
        rates = [r["rate"] for r in res[hollow]]
        cpu = statistics.median(r["worker_us"] for r in res[hollow])
        what = "hollow worker (stages replaced by lookups)" if hollow else "real worker"
        rate = statistics.median(rates)
        print(f"{what:44s} median {rate:9,.0f} lines/s, worker {cpu:.0f} µs/line")
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker_main()
    else:
        main()
