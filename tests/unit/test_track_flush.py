"""Coalesced table writes of the track stage (issue 8): hot state, flush interval, drop.

The worker keeps changed tracks in ``TrackStage.pending`` and writes them to the table per
partition at most every ``flush_interval_s`` (and at every control record), acknowledging the
partition's messages only after a flush (``last_flushed``). These tests drive the stage with
a fake clock and a dict as the table.
"""

from __future__ import annotations

from typing import Any

import orjson

from mda.geo import Geography
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.model import RawLine
from mda.rules.context import RuleContext
from mda.state import VesselTrack
from mda.thresholds import Thresholds
from replay.scenarios import SCENARIOS, Builder, great_lakes_demo
from streams.pipeline import DecodeStage, TrackStage
from streams.settings import Settings
from streams.topics import TopicNames

NAMES = TopicNames.from_settings(Settings())
T0 = 1_780_315_200_000


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Table(dict[int, VesselTrack]):
    """A dict that counts writes and deletes, as the changelog would."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []
        self.deletes: list[int] = []

    def __setitem__(self, key: int, value: VesselTrack) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: int) -> None:
        self.deletes.append(key)
        super().__delitem__(key)


def ctx(**thresholds: Any) -> RuleContext:
    return RuleContext(
        Geography.load(),
        MidTable.load_default(),
        Thresholds.from_dict(thresholds),
        landmask=LandMask.load_default(),
    )


def report_messages(lines: list[str], source: str = "t", size: int = 20) -> list[tuple[int, bytes]]:
    """(partition, value) of the ais.reports messages of ``lines`` in batches of ``size``."""
    decode = DecodeStage(NAMES, 2)
    out = []
    for i in range(0, len(lines), size):
        recs = [RawLine(source, i + j, t, 0).to_dict() for j, t in enumerate(lines[i : i + size])]
        for o in decode.handle(orjson.dumps({"lines": recs})):
            if o.topic == NAMES.reports:
                assert o.partition is not None
                out.append((o.partition, o.value))
    for o in decode.handle(orjson.dumps({"ctl": "eof", "run": "r", "source": source})):
        if o.topic == NAMES.reports:
            assert o.partition is not None
            out.append((o.partition, o.value))
    return out


def is_ctl(value: bytes) -> bool:
    return b'"ctl"' in value[:10]


def test_interval_zero_writes_after_every_message() -> None:
    table = Table()
    stage = TrackStage(NAMES, 2, ctx(), table)
    for partition, value in report_messages(great_lakes_demo().lines):
        stage.handle(value, partition)
        assert stage.last_flushed
        assert not stage.pending
    assert table


def test_changes_wait_for_the_interval_and_each_vessel_is_written_once() -> None:
    clock, table = Clock(), Table()
    stage = TrackStage(NAMES, 2, ctx(), table, flush_interval_s=10.0, clock=clock)
    messages = [(p, v) for p, v in report_messages(great_lakes_demo().lines) if not is_ctl(v)]
    for partition, value in messages:
        stage.handle(value, partition)
        assert not stage.last_flushed  # the clock has not moved: nothing is due
    assert not table and not table.writes
    assert stage.vessel_count() == len(stage.items()) >= 3  # the mda_vessels_tracked gauge
    waiting = {p: dict(v) for p, v in stage.pending.items()}
    assert sum(len(v) for v in waiting.values()) >= 3
    # Reads see the unflushed state: every vessel's track is the pending one.
    for vessels in waiting.values():
        for mmsi, track in vessels.items():
            assert stage.get(mmsi) is track
    clock.now += 10.0
    partition, value = messages[-1]
    stage.handle(value, partition)  # a repeat: duplicates change nothing, but it is due
    assert stage.last_flushed
    assert partition not in stage.pending
    assert sorted(table.writes) == sorted(waiting[partition])  # one write per changed vessel
    other = 1 - partition
    assert other in stage.pending  # the other partition's interval has not been looked at
    assert stage.vessel_count() == len(stage.items())
    assert stage.flush(other) == len(waiting[other])
    assert table == {m: t for v in waiting.values() for m, t in v.items()}
    assert stage.vessel_count() == len(table)


def test_control_records_always_flush() -> None:
    clock, table = Clock(), Table()
    stage = TrackStage(NAMES, 2, ctx(), table, flush_interval_s=3600.0, clock=clock)
    for partition, value in report_messages(great_lakes_demo().lines):
        stage.handle(value, partition)
        assert stage.last_flushed is is_ctl(value)
    assert not stage.pending
    assert table


def test_too_many_waiting_vessels_flush_before_the_interval() -> None:
    clock, table = Clock(), Table()
    stage = TrackStage(
        NAMES, 2, ctx(), table, flush_interval_s=3600.0, flush_max_vessels=3, clock=clock
    )
    b = Builder("many", "ten vessels, one report each")
    for i in range(10):
        b.position(T0 + i * 1000, 366100010 + 2 * i, 43.3 + i * 0.01, -87.3, 5.0)  # partition 0
    flushed = []
    for partition, value in report_messages(b.build().lines, size=1):
        if not is_ctl(value):
            stage.handle(value, partition)
            if partition == 0:  # (partition 1 gets the watermark tick only)
                flushed.append(stage.last_flushed)
    assert flushed == [False, False, True] * 3 + [False]
    assert len(table) == 9


def test_outputs_do_not_depend_on_the_flush_interval() -> None:
    """Same messages, alerts and final table at every interval (reads go through pending)."""

    def run(interval: float) -> tuple[list[bytes], dict[int, VesselTrack]]:
        clock, table = Clock(), Table()
        stage = TrackStage(NAMES, 2, ctx(), table, flush_interval_s=interval, clock=clock)
        out: list[bytes] = []
        for name in ("rules_gap", "rules_border", "rules_identity", "rules_land"):
            for partition, value in report_messages(SCENARIOS[name]().lines, name):
                clock.now += 0.4
                out += [o.value for o in stage.handle(value, partition)]
        stage.flush_all()
        return out, dict(table)

    plain = run(0.0)
    assert sum(b'"alert_id"' in v for v in plain[0]) > 10
    assert run(1.0) == plain
    assert run(1e9) == plain


def test_expired_tracks_are_deleted_at_the_flush() -> None:
    day_ms = 24 * 3600 * 1000
    b = Builder("ttl", "one vessel heard once, another heard daily")
    b.position(T0, 366100001, 43.3, -87.3, 5.0)
    for d in range(9):
        b.position(T0 + d * day_ms, 366100003, 43.5, -87.3, 5.0)
    clock, table = Clock(), Table()
    stage = TrackStage(
        NAMES, 2, ctx(track_ttl_s=7 * 86400), table, flush_interval_s=5.0, clock=clock
    )
    for partition, value in report_messages(b.build().lines, size=1):
        if not is_ctl(value):
            clock.now += 1.0
            stage.handle(value, partition)
            assert stage.vessel_count() == len(stage.items())
    assert stage.expired == 1
    stage.flush_all()
    assert set(table) == {366100003}
    assert table.deletes == [366100001]
    assert stage.get(366100001) is None


def test_a_dropped_partition_is_held_again_as_a_fresh_worker_would() -> None:
    """Revoked in a rebalance: the unflushed changes and what the stage learnt from their
    messages go, the table stays; processing the unacknowledged messages again (as the
    partition's next owner does, from the committed offset) gives what a fresh worker on the
    same table gives."""
    lines = SCENARIOS["rules_gap"]().lines + SCENARIOS["rules_border"]().lines
    messages = [(p, v) for p, v in report_messages(lines) if not is_ctl(v)]
    half = len(messages) // 2
    clock, table = Clock(), Table()
    stage = TrackStage(NAMES, 2, ctx(), table, flush_interval_s=3600.0, clock=clock)
    for partition, value in messages[:half]:
        stage.handle(value, partition)
    stage.flush_all()
    flushed = dict(table)
    for partition, value in messages[half : half + half // 2]:
        stage.handle(value, partition)
    assert stage.pending
    for p in (0, 1):
        stage.drop(p)
    assert not stage.pending and not stage.recovered and not stage.watermarks
    assert not stage.station_heard_ms and not any(stage.scheduled.values())
    assert dict(table) == flushed
    for mmsi, track in flushed.items():
        assert stage.get(mmsi) is track

    fresh_table = Table()
    fresh_table.update(flushed)
    fresh = TrackStage(NAMES, 2, ctx(), fresh_table, flush_interval_s=3600.0, clock=Clock())
    again = [o.value for p, v in messages[half:] for o in stage.handle(v, p)]
    expected = [o.value for p, v in messages[half:] for o in fresh.handle(v, p)]
    assert sum(b'"alert_id"' in v for v in expected) > 3
    assert again == expected
    stage.flush_all()
    fresh.flush_all()
    assert dict(table) == dict(fresh_table)
