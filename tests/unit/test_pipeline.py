"""The decode and track stages without Kafka: bytes in, outgoing messages out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pyais.encode import encode_dict

from mda.geo import Geography
from mda.mid import MidTable
from mda.model import RawLine, raw_batch_to_json
from mda.rules.context import RuleContext
from mda.track import VesselTrack
from replay.scenarios import great_lakes_demo
from streams.pipeline import TICK_MS, DecodeStage, Out, TrackStage, report_items
from streams.settings import Settings
from streams.topics import TopicNames, partition_for_mmsi
from tests.unit.builders import through_track

NAMES = TopicNames.from_settings(Settings())


def raw_batch(lines: list[str], source: str = "test") -> bytes:
    recs = [RawLine(source, i, text, 0).to_dict() for i, text in enumerate(lines, 1)]
    return orjson.dumps({"lines": recs})


def test_decode_stage_sends_one_message_per_destination_partition() -> None:
    stage = DecodeStage(NAMES, 4)
    outs = stage.handle(raw_batch(great_lakes_demo().lines))
    reports = [o for o in outs if o.topic == NAMES.reports]
    assert len(reports) == len({o.partition for o in reports}) <= 4
    for o in reports:
        items = report_items(orjson.loads(o.value))
        reports = [r for r in items if "tick" not in r]
        for r in reports:
            assert partition_for_mmsi(r["mmsi"], 4) == o.partition


def test_eof_carries_counts_to_every_partition_and_flushes_state() -> None:
    stage = DecodeStage(NAMES, 3)
    stage.handle(raw_batch(["!AIVDM,1,1,,A,14`qQb0000o?u?DK>Smo2E`v0404,0*1A", "garbage"]))
    outs = stage.handle(orjson.dumps({"ctl": "eof", "run": "r", "source": "test"}))
    ctl = [o for o in outs if o.topic == NAMES.reports]
    assert sorted(o.partition for o in ctl if o.partition is not None) == [0, 1, 2]
    counts = orjson.loads(ctl[0].value)["decode"]
    assert counts["lines"] == 2
    assert counts["decoded"] == {"1": 1}
    assert sum(counts["rejected"].values()) == 1


def test_scenario_through_both_stages_gives_the_expected_alerts() -> None:
    scenario = great_lakes_demo()
    decode = DecodeStage(NAMES, 2)
    tracks: dict[int, VesselTrack] = {}
    ctx = RuleContext(Geography.load(), MidTable.load_default())
    track = TrackStage(NAMES, 2, ctx, tracks)
    alerts = [
        orjson.loads(a.value)
        for _, a in through_track(decode, track, [raw_batch(scenario.lines)])
        if a.topic == NAMES.alerts
    ]
    got = sorted((a["rule"], a["mmsi"]) for a in alerts)
    assert got == sorted((e.rule, e.mmsi) for e in scenario.expected)
    assert set(tracks) == {316012345, 366123456, 123456789}


def test_ticks_reach_every_partition_in_order_with_the_reports() -> None:
    """Each partition's watermark advances with the input even without its own vessels."""
    stage = DecodeStage(NAMES, 3)
    outs = stage.handle(raw_batch(great_lakes_demo().lines))
    ticks = {}
    for o in outs:
        if o.topic == NAMES.reports:
            items = report_items(orjson.loads(o.value))
            ticks[o.partition] = [i["tick"] for i in items if "tick" in i]
            # No report runs more than one tick interval ahead of its partition's last tick.
            last = None
            for i in items:
                if "tick" in i:
                    assert last is None or i["tick"] >= last + TICK_MS
                    last = i["tick"]
                else:
                    assert last is not None and i["event_ms"] < last + TICK_MS
    assert set(ticks) == {0, 1, 2}
    assert ticks[0] == ticks[1] == ticks[2] == sorted(ticks[0])
    # Over the scenario's 106 minutes: more than one a minute, at most one per TICK_MS.
    assert 106 < len(ticks[0]) <= 106 * 60_000 // TICK_MS + 1


def test_tracks_expire_after_their_feed_moves_on_by_the_ttl() -> None:
    """Track state of a vessel silent for track_ttl_s of event time is dropped (bounded state)."""
    from mda.thresholds import Thresholds
    from replay.scenarios import Builder

    day_ms = 24 * 3600 * 1000
    b = Builder("ttl", "one vessel heard once, another heard daily")
    b.position(1_780_315_200_000, 366100001, 43.3, -87.3, 5.0)
    for d in range(9):
        b.position(1_780_315_200_000 + d * day_ms, 366100002, 43.5, -87.3, 5.0)
    lines = b.build().lines
    ctx = RuleContext(
        Geography.load(), MidTable.load_default(), Thresholds.from_dict({"track_ttl_s": 7 * 86400})
    )
    tracks: dict[int, VesselTrack] = {}
    decode, track = DecodeStage(NAMES, 2), TrackStage(NAMES, 2, ctx, tracks)
    list(through_track(decode, track, [raw_batch(lines)]))  # (the track stage's state)
    assert set(tracks) == {366100002}
    assert track.expired == 1


def _per_partition(outs: list[Out]) -> tuple[dict[int, list[Any]], list[bytes]]:
    items: dict[int, list[Any]] = {}
    for o in outs:
        if o.topic == NAMES.reports:
            items.setdefault(o.partition, []).extend(report_items(orjson.loads(o.value)))
    rejects = [
        orjson.dumps(r)
        for o in outs
        if o.topic == NAMES.rejected
        for r in orjson.loads(o.value)["rejects"]
    ]
    return items, rejects


def test_one_source_batches_and_mixed_batches_give_the_same_outputs(shared_data: Path) -> None:
    """A batch of one source goes through ``Decoder.feed_many`` at once, a mixed one line by
    line; the reports, ticks, rejects and counts must not depend on which way a line went."""
    a = (shared_data / "ais_nmea" / "dma_gatehouse_stream_example.txt").read_text().splitlines()
    b = (shared_data / "ais_nmea" / "signalk_gofree-merrimac_nonstd_vdm.log").read_text()
    b_lines = b.splitlines()[:3000]

    def recs(lines: list[str], source: str) -> list[dict[str, object]]:
        return [RawLine(source, i, t, 1_700_000_000_000).to_dict() for i, t in enumerate(lines)]

    ra, rb = recs(a, "a"), recs(b_lines, "b")
    separate = DecodeStage(NAMES, 3)
    outs_sep: list[Out] = []
    for i in range(0, max(len(ra), len(rb)), 200):
        outs_sep += separate.handle(orjson.dumps({"lines": ra[i : i + 200]}))
        outs_sep += separate.handle(orjson.dumps({"lines": rb[i : i + 200]}))
    mixed = DecodeStage(NAMES, 3)
    outs_mix: list[Out] = []
    for i in range(0, max(len(ra), len(rb)), 200):
        outs_mix += mixed.handle(orjson.dumps({"lines": ra[i : i + 200] + rb[i : i + 200]}))

    def by_source(items: dict[int, list[Any]]) -> dict[tuple[int, str], list[Any]]:
        out: dict[tuple[int, str], list[Any]] = {}
        for p, xs in items.items():
            for x in xs:
                out.setdefault((p, x["source"]), []).append(x)
        return out

    sep_items, sep_rejects = _per_partition(outs_sep)
    mix_items, mix_rejects = _per_partition(outs_mix)
    assert sum(len(v) for v in sep_items.values()) > 3000
    assert len(sep_rejects) > 1000
    assert by_source(mix_items) == by_source(sep_items)
    assert sorted(mix_rejects) == sorted(sep_rejects)
    assert {s: c.to_dict() for s, c in mixed.counts.items()} == {
        s: c.to_dict() for s, c in separate.counts.items()
    }


def test_rejects_go_out_in_one_message_per_source_and_batch() -> None:
    first, _second = encode_dict(
        {"type": 5, "mmsi": 316012345, "shipname": "LAKE SPIRIT", "callsign": "CFK2345"},
        talker_id="AI",
        sentence_type="VDM",
    )
    lines = [
        RawLine("a", 1, "junk", 0),
        RawLine("b", 1, "also junk", 0),
        RawLine("a", 2, "$GPBWR,195924,5307.2833,N,00521.7536,E,213.9,T,213.2,M,4.25,N,,A*4F", 0),
        RawLine("a", 3, first, 0),  # held for assembly: rejected at the end of the input
    ]
    stage = DecodeStage(NAMES, 2)
    outs = [o for o in stage.handle(raw_batch_to_json(lines)) if o.topic == NAMES.rejected]
    got = [
        (o.key, [(r["line_no"], r["reason"]) for r in orjson.loads(o.value)["rejects"]])
        for o in outs
    ]
    assert got == [
        (b"a", [(1, "not_nmea"), (2, "unsupported_sentence")]),
        (b"b", [(1, "not_nmea")]),
    ]
    assert orjson.loads(outs[1].value)["rejects"][0] == {
        "reason": "not_nmea",
        "detail": "no sentence start",
        "source": "b",
        "line_no": 1,
        "raw": "also junk",
        "event_ms": None,
    }
    eof = stage.handle(orjson.dumps({"ctl": "eof", "run": "r", "source": "a"}))
    (flushed,) = [o for o in eof if o.topic == NAMES.rejected]
    assert flushed.key == b"a"
    assert [r["reason"] for r in orjson.loads(flushed.value)["rejects"]] == ["incomplete_multipart"]
