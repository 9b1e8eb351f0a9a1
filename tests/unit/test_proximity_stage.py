"""The proximity stage without Kafka: decode → track → proximity, several partitions.

Messages on ``mda.presence`` are delivered in different interleavings of the sending
partitions (as several workers would): the alerts are the same, one per pair.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from pyais import decode

from mda.alerts import iso_utc, validate_message
from mda.geo import Geography, load_zones, merge_zones
from mda.mid import MidTable
from mda.model import RawLine, raw_batch_to_json
from mda.proximity import PRESENCE_ROW
from mda.rules.context import RuleContext
from mda.thresholds import Thresholds
from mda.track import VesselTrack
from replay.scenarios import rules_encounter
from streams.pipeline import DecodeStage, TrackStage
from streams.proximity import MAX_ENDED, ProximityStage
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import through_track

NAMES = TopicNames.from_settings(Settings())


def run(
    partitions: int,
    seed: int | None,
    batch_lines: int = 500,
    rewrite: Callable[[bytes], bytes] | None = None,
) -> list[dict[str, object]]:
    scenario = rules_encounter()
    raw = [RawLine("enc", i, text, 0).to_dict() for i, text in enumerate(scenario.lines, 1)]
    batches = [
        orjson.dumps({"lines": raw[i : i + batch_lines]}) for i in range(0, len(raw), batch_lines)
    ]
    batches.append(orjson.dumps({"ctl": "eof", "run": "r", "source": "enc"}))
    return encounters_of(partitions, batches, seed, rewrite)


def encounters_of(
    partitions: int,
    batches: list[bytes],
    seed: int | None = None,
    rewrite: Callable[[bytes], bytes] | None = None,
) -> list[dict[str, object]]:
    """The ENCOUNTER alerts of ``ais.raw`` messages ``batches`` (with the encounter
    scenario's zones) through decode → track → proximity."""
    zones_path = rules_encounter().zones_path
    assert zones_path is not None
    geography = Geography(merge_zones(Geography.load().zones, load_zones(zones_path)))
    ctx = RuleContext(geography, MidTable.load_default())
    decode = DecodeStage(NAMES, partitions)
    tracks: dict[int, VesselTrack] = {}
    track = TrackStage(NAMES, partitions, ctx, tracks)
    prox = ProximityStage(NAMES, partitions, geography, MidTable.load_default(), Thresholds())
    # Per presence partition, one queue per sending track partition (Kafka keeps each
    # producer's order per partition); the stage sees them in a random interleaving.
    queues: dict[int, dict[int, list[bytes]]] = defaultdict(lambda: defaultdict(list))
    alerts: list[dict[str, object]] = []
    for sender, t in through_track(decode, track, batches):
        if t.topic == NAMES.presence:
            assert t.partition is not None
            value = t.value if rewrite is None else rewrite(t.value)
            queues[t.partition][sender].append(value)
        elif t.topic == NAMES.alerts and t.key != b"ctl":
            alerts.append(orjson.loads(t.value))
    rng = random.Random(seed)
    eofs = 0
    for p, by_sender in sorted(queues.items()):
        pending = {q: list(msgs) for q, msgs in by_sender.items()}
        while any(pending.values()):
            senders = sorted(q for q, msgs in pending.items() if msgs)
            q = senders[0] if seed is None else rng.choice(senders)
            for o in prox.handle(pending[q].pop(0), p):
                if o.key == b"ctl":
                    eofs += 1
                else:
                    alerts.append(orjson.loads(o.value))
    if any(b.startswith(b'{"ctl"') for b in batches):
        assert eofs == partitions * partitions  # each presence partition ends every alerts one
    return [a for a in alerts if a["rule"] == "ENCOUNTER"]


def key(a: dict[str, object]) -> tuple[object, ...]:
    return (a["event_time"], a["alert_id"], a["status"])


@pytest.mark.parametrize("partitions", [1, 3, 4])
def test_one_alert_per_pair_whatever_the_partitions_and_interleaving(partitions: int) -> None:
    scenario = rules_encounter()
    want = sorted(
        (e.mmsi, iso_utc(e.event_ms), e.severity, e.status)
        for e in scenario.expected
        if e.rule == "ENCOUNTER"
    )
    reference = sorted(run(partitions, None), key=key)
    for a in reference:
        assert validate_message(a) == [], a
    assert (
        sorted((a["mmsi"], a["event_time"], a["severity"], a["status"]) for a in reference) == want
    )
    # Other partition interleavings and other decode batch sizes: the very same messages.
    for seed in (1, 2):
        assert sorted(run(partitions, seed, batch_lines=37), key=key) == reference


def _as_objects(value: bytes, seen: dict[str, int]) -> bytes:
    """A presence message with its records written as objects (no ``cells`` key unless the
    record says to forget the vessel; with 8 partitions some do), counting both kinds."""
    msg = orjson.loads(value)
    if "fields" not in msg:
        return value
    assert msg["fields"] == list(PRESENCE_ROW)
    items = []
    for d in msg["presence"]:
        if type(d) is list:
            seen["rows"] += 1
            seen["forget"] += d[-1] == []
            d = {
                k: v for k, v in zip(PRESENCE_ROW, d, strict=True) if v is not None or k != "cells"
            }
        items.append(d)
    return orjson.dumps({"presence": items, "from": msg["from"]})


def _reordered(value: bytes) -> bytes:
    """The same message from a track stage whose rows list the columns in another order."""
    msg = orjson.loads(value)
    if "fields" not in msg:
        return value
    order = list(reversed(PRESENCE_ROW))
    index = [PRESENCE_ROW.index(f) for f in order]
    items = [[d[i] for i in index] if type(d) is list else d for d in msg["presence"]]
    return orjson.dumps({**msg, "fields": order, "presence": items})


def test_presence_rows_objects_and_reordered_rows_give_the_same_alerts() -> None:
    rows = sorted(run(8, None), key=key)
    assert rows
    seen = {"rows": 0, "forget": 0}
    assert sorted(run(8, None, rewrite=lambda v: _as_objects(v, seen)), key=key) == rows
    assert seen["rows"] > 100 and seen["forget"] > 0  # both kinds of record were read
    assert sorted(run(8, None, rewrite=_reordered), key=key) == rows


def track_end(source: str, reports_partition: int, run: str = "r") -> bytes:
    """The end-of-file record track partition ``reports_partition`` sends to mda.presence."""
    final = {"tick": 1_780_315_200_000, "source": source, "stations": {}}
    msg = {"ctl": "eof", "run": run, "source": source, "final_tick": final}
    return orjson.dumps({**msg, "reports_partition": reports_partition, "track": {}})


def _ends(outs: list[Any]) -> list[tuple[int | None, dict[str, Any]]]:
    return [(o.partition, orjson.loads(o.value)) for o in outs if o.key == b"ctl"]


def test_a_source_ends_once_every_track_partition_has_ended_it_copies_aside() -> None:
    """An end-of-file record that comes twice (processed again after a rebalance) is not the
    other track partition's: before, two copies of partition 0's ended the source while
    partition 1's presences were still to come."""
    prox = ProximityStage(NAMES, 2, Geography.load(), MidTable.load_default(), Thresholds())
    assert prox.handle(track_end("s", 0), 1) == []
    assert (prox.last_eof, prox.last_eof_complete) == ((1, "s"), False)
    assert prox.handle(track_end("s", 0), 1) == []  # the copy
    assert (prox.last_eof, prox.last_eof_complete) == ((1, "s"), False)
    ends = _ends(prox.handle(track_end("s", 1), 1))
    assert (prox.last_eof, prox.last_eof_complete) == ((1, "s"), True)
    assert [q for q, _ in ends] == [0, 1]
    for _, e in ends:
        assert (e["stage"], e["presence_partition"], e["source"], e["run"]) == (
            "proximity",
            1,
            "s",
            "r",
        )
        assert "reports_partition" not in e and "track" not in e
    # A copy after the end: known as one, nothing sent, nothing left waiting.
    assert prox.handle(track_end("s", 0), 1) == []
    assert (prox.last_eof, prox.last_eof_complete) == ((1, "s"), True)
    assert prox.sources == {}
    # Another run of the same source ends again; a presence batch is not an end.
    prox.handle(track_end("s", 0, run="r2"), 1)
    assert len(_ends(prox.handle(track_end("s", 1, run="r2"), 1))) == 2
    prox.handle(orjson.dumps({"presence": [], "from": 0}), 1)
    assert (prox.last_eof, prox.last_eof_complete) == (None, False)


def test_the_ended_sources_remembered_are_bounded() -> None:
    prox = ProximityStage(NAMES, 1, Geography.load(), MidTable.load_default(), Thresholds())
    for i in range(MAX_ENDED + 5):
        assert len(_ends(prox.handle(track_end(f"s{i}", 0), 0))) == 1
    assert len(prox.ended) == MAX_ENDED
    assert (0, "s0", "r") not in prox.ended
    assert (0, f"s{MAX_ENDED + 4}", "r") in prox.ended


def test_live_receivers_of_one_feed_pair_the_vessels_each_hears(seed: int = 3) -> None:
    """Two live receivers (``mda ingest --feed``), each hearing some of the encounter
    scenario's vessels (odd and even MMSIs: the drifting pair and two of the raft's pairs
    are split), batches interleaved as they arrive: every encounter of the one recording.
    Each its own source, only the raft pair both of whose vessels one receiver hears."""
    scenario = rules_encounter()
    want = sorted(
        (e.mmsi, iso_utc(e.event_ms), e.status) for e in scenario.expected if e.rule == "ENCOUNTER"
    )
    lines: dict[str, list[RawLine]] = {"r-odd": [], "r-even": []}
    for text in scenario.lines:
        if text.startswith("#"):
            continue
        tags, sentence = text[1:].split("\\", 1)
        received = int(tags.split("c:")[1].split(",")[0].split("*")[0]) * 1000 + 1_000
        source = "r-odd" if decode(sentence).mmsi % 2 else "r-even"
        lines[source].append(RawLine(source, len(lines[source]) + 1, text, received))
    assert all(len(v) > 50 for v in lines.values())
    # Each receiver's batches (what it received in a second: a line here), in the order
    # they arrive.
    runs = [(src, [line]) for src, ln in lines.items() for line in ln]
    runs.sort(key=lambda r: (r[1][0].ingest_ms, r[0]))

    def got(feed: str | None) -> list[tuple[object, ...]]:
        batches = [raw_batch_to_json(batch, live=True, feed=feed) for _, batch in runs]
        return sorted(
            (a["mmsi"], a["event_time"], a["status"]) for a in encounters_of(2, batches, seed)
        )

    assert got("harbour") == want
    apart = got(None)
    assert len(apart) == 1 and apart[0] in want
