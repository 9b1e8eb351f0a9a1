"""The proximity stage's checkpoint of open pairs: what the next holder of a partition (after
a rebalance or a restart) takes back, so that it closes the encounters the last one opened
and does not open them again."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import orjson
import pytest

from mda.alerts import VesselIdentity
from mda.geo import Geography, load_zones, merge_zones
from mda.hexgrid import PRESENCE_RES, latlng_to_cell
from mda.mid import MidTable
from mda.model import RawLine
from mda.proximity import CHECKPOINT_AFTER_MS, PRESENCE_ROW, presence_row
from mda.rules.context import RuleContext
from mda.thresholds import Thresholds
from mda.track import VesselTrack
from replay.scenarios import T0, rules_encounter
from streams.pipeline import DecodeStage, TrackStage
from streams.proximity import (
    CHECKPOINT_REFRESH_MS,
    ProximityStage,
    checkpoint_key,
    identities_of,
    pair_of,
)
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import through_track

NAMES = TopicNames.from_settings(Settings())
MIN_MS = 60_000
PARTITIONS = 2
OPENED = "2026-06-01T12:20:20.000Z"  # the last of the scenario's four opens
CLOSED = "2026-06-01T12:32:05.000Z"  # its one close


class Writes(dict[str, Any]):
    """A checkpoint that records every write and delete."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, Any]] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.log.append((key, value))
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.log.append((key, None))
        super().__delitem__(key)


def scenario_messages() -> tuple[Geography, list[tuple[int, bytes]]]:
    """The encounter scenario's mda.presence messages in the order the track stage sends
    them (small decode batches, so there are many), with the end of the source."""
    scenario = rules_encounter()
    assert scenario.zones_path is not None
    geography = Geography(merge_zones(Geography.load().zones, load_zones(scenario.zones_path)))
    decode = DecodeStage(NAMES, PARTITIONS)
    tracks: dict[int, VesselTrack] = {}
    track = TrackStage(NAMES, PARTITIONS, RuleContext(geography, MidTable.load_default()), tracks)
    raw = [RawLine("enc", i, text, 0).to_dict() for i, text in enumerate(scenario.lines, 1)]
    batches = [orjson.dumps({"lines": raw[i : i + 6]}) for i in range(0, len(raw), 6)]
    batches.append(orjson.dumps({"ctl": "eof", "run": "r", "source": "enc"}))
    msgs = []
    for _, t in through_track(decode, track, batches):
        if t.topic == NAMES.presence:
            assert t.partition is not None
            msgs.append((t.partition, t.value))
    return geography, msgs


def stage(geography: Geography, checkpoint: dict[str, Any] | None) -> ProximityStage:
    return ProximityStage(
        NAMES, PARTITIONS, geography, MidTable.load_default(), Thresholds(), checkpoint
    )


def encounters(prox: ProximityStage, msgs: list[tuple[int, bytes]]) -> list[tuple[Any, ...]]:
    out = []
    for p, value in msgs:
        for o in prox.handle(value, p):
            if o.key != b"ctl":
                a = orjson.loads(o.value)
                out.append(
                    (a["event_time"], a["alert_id"], a["status"], a["mmsi"], a["other_mmsi"])
                )
    return out


def handover_index(geography: Geography, msgs: list[tuple[int, bytes]]) -> int:
    """The first message after the scenario's last open (its pairs all open, one to close)."""
    prox = stage(geography, None)
    for i, (p, value) in enumerate(msgs):
        events = [orjson.loads(o.value).get("event_time") for o in prox.handle(value, p)]
        if OPENED in events:
            return i + 1
    raise AssertionError("the scenario's last open was not found")


@pytest.fixture(scope="module")
def scenario() -> tuple[Geography, list[tuple[int, bytes]], int]:
    geography, msgs = scenario_messages()
    return geography, msgs, handover_index(geography, msgs)


def test_the_next_holder_closes_what_the_last_opened_and_opens_nothing_again(
    scenario: tuple[Geography, list[tuple[int, bytes]], int],
) -> None:
    geography, msgs, k = scenario
    reference = encounters(stage(geography, Writes()), msgs)
    assert [a[2] for a in reference] == ["open"] * 4 + ["closed"]
    assert reference == encounters(stage(geography, None), msgs)  # the checkpoint changes none
    for back in (0, 3, k):  # the next holder starts where the last stopped, or reads again
        checkpoint = Writes()
        first = encounters(stage(geography, checkpoint), msgs[:k])
        assert [a[2] for a in first] == ["open"] * 4
        # Each open pair, on each partition that holds it (the owner and the others).
        held = [pair_of(key, value) for key, value in checkpoint.items()]
        assert {(s.a, s.b) for _, _, s in held} == {a[3:] for a in first}
        nxt = stage(geography, checkpoint)
        second = encounters(nxt, msgs[k - back :])
        assert first + second == reference, back
        assert nxt.pairs_restored == len(held)
        assert checkpoint == {}  # the source ended: its pairs with it
    # Without the checkpoint the next holder never closes the pair.
    no = stage(geography, None)
    assert encounters(no, msgs[:k]) + encounters(stage(geography, None), msgs[k:]) != reference


def first_message_after(msgs: list[tuple[int, bytes]], event_ms: int) -> int:
    """The index of the first message holding a presence at or after ``event_ms``."""
    at = PRESENCE_ROW.index("event_ms")
    for i, (_, value) in enumerate(msgs):
        rows = orjson.loads(value).get("presence", [])
        if any(type(r) is list and r[at] >= event_ms for r in rows):
            return i
    raise AssertionError(f"no presence at or after {event_ms}")


def test_the_next_holder_opens_an_encounter_in_progress_when_the_last_would_have(
    scenario: tuple[Geography, list[tuple[int, bytes]], int],
) -> None:
    """A handover at 12:10, half way through the four encounters' 20 minutes: the next
    holder takes the pairs in progress back and opens them at the same times, with the same
    ids, as one stage does. Without the checkpoint they open 20 min after the handover,
    with other ids."""
    geography, msgs, _ = scenario
    reference = encounters(stage(geography, None), msgs)
    k = first_message_after(msgs, T0 + 10 * MIN_MS)
    for back in (0, 3):
        checkpoint = Writes()
        first = encounters(stage(geography, checkpoint), msgs[:k])
        assert first == []
        held = [pair_of(key, value)[2] for key, value in checkpoint.items()]
        assert held and all(not s.open for s in held)
        assert {(s.a, s.b) for s in held} == {a[3:] for a in reference if a[2] == "open"}
        second = encounters(stage(geography, checkpoint), msgs[k - back :])
        assert second == reference, back
    without = [a for a in encounters(stage(geography, None), msgs[k:]) if a[2] == "open"]
    assert without and all(a[0] >= "2026-06-01T12:30" for a in without)
    assert not {a[1] for a in without} & {a[1] for a in reference}


def test_a_partition_that_moves_away_and_back_starts_from_the_checkpoint(
    scenario: tuple[Geography, list[tuple[int, bytes]], int],
) -> None:
    geography, msgs, k = scenario
    reference = encounters(stage(geography, {}), msgs)
    prox = stage(geography, {})
    got = encounters(prox, msgs[:k])
    prox.keep_only({1})  # partition 0 moved to another worker
    assert {p for p, _ in prox.sources} == {1}
    prox.keep_only({0, 1})  # ... and came back
    got += encounters(prox, msgs[k:])
    assert got == reference
    assert prox.pairs_restored > 0


def test_a_pair_is_written_when_worth_keeping_when_it_opens_and_when_it_ends(
    scenario: tuple[Geography, list[tuple[int, bytes]], int],
) -> None:
    geography, msgs, _ = scenario
    opened = {a[3:] for a in encounters(stage(geography, None), msgs) if a[2] == "open"}
    checkpoint = Writes()
    prox = stage(geography, checkpoint)
    rest = iter(msgs)
    for m in rest:
        closed = [a[3:] for a in encounters(prox, [m]) if a[2] == "closed"]
        if closed:  # out of the checkpoint as it closes; the pairs still open stay in
            held = {(s.a, s.b) for _, _, s in (pair_of(k, v) for k, v in checkpoint.items())}
            assert held == opened - set(closed) and len(held) == 3
            break
    encounters(prox, list(rest))
    by_key: dict[str, list[Any]] = {}
    for key, value in checkpoint.log:
        by_key.setdefault(key, []).append(value)
    assert by_key
    for key, values in by_key.items():
        assert values[-1] is None  # deleted: closed, or at the source's end
        written = [pair_of(key, v)[2] for v in values[:-1]]
        # First once close for CHECKPOINT_AFTER_MS (the vessels report once a minute) ...
        first = written[0]
        assert first.opened_ms is None and first.first_close_ms is not None
        assert CHECKPOINT_AFTER_MS <= first.seen_ms - first.first_close_ms < 2 * MIN_MS
        # ... then when it opens, and otherwise only once seen CHECKPOINT_REFRESH_MS on.
        for before, after in pairwise(written):
            if after.opened_ms != before.opened_ms:
                assert after.seen_ms == after.opened_ms
            else:
                assert after.seen_ms - before.seen_ms >= CHECKPOINT_REFRESH_MS
        assert sum(1 for s in written if s.seen_ms == s.opened_ms) == 1
    # The raft's pairs (close from 12:00, open 12:20 to the end at 12:40): 12:01, 12:11, the
    # open, 12:30, 12:40 and deleted at the end; the drifting pair (close from 12:00:05, open
    # 12:20:05, closed 12:32:05): 12:01, 12:11, the open, 12:30 and deleted when it closes.
    # Not at every report (one a minute per vessel).
    assert sorted({len(v) for v in by_key.values()}) == [5, 6]


def test_entries_that_are_not_pairs_of_ours_are_counted_and_skipped(
    scenario: tuple[Geography, list[tuple[int, bytes]], int],
) -> None:
    geography, msgs, _ = scenario
    bad: dict[str, Any] = {
        "not json": {},
        checkpoint_key(0, "enc", 2, 1): {"a": 1, "b": 2, "opened_ms": 5, "seen_ms": 5},
        checkpoint_key(0, "enc", 1, 2): {"a": 1, "b": 2, "opened_ms": 5, "severity": "x"},
        orjson.dumps([0, 7, 1, 2]).decode(): {},
        # close for a second only: not one the stage writes
        checkpoint_key(0, "enc", 1, 3): {
            "a": 1,
            "b": 3,
            "first_close_ms": 0,
            "last_close_ms": 1000,
            "opened_ms": None,
            "severity": None,
            "seen_ms": 1000,
        },
    }
    prox = stage(geography, dict(bad))
    assert encounters(prox, msgs) == encounters(stage(geography, None), msgs)
    assert prox.checkpoint_rejects == len(bad) * PARTITIONS  # skipped by each partition's read
    assert prox.pairs_restored == 0


def _presences(rows: list[list[Any]], tick: int) -> bytes:
    """One track partition's presence message (1 partition): rows, then the closing tick."""
    return orjson.dumps({"presence": [*rows, {"tick": tick, "source": "s"}], "from": 0})


def test_the_next_holder_names_the_vessels_of_an_encounter_it_closes() -> None:
    """The checkpoint keeps the two vessels' IMO and name: the close alert of the next holder
    names the vessel before any static report of it comes again."""
    lat, lon = 42.30, -81.0
    home = latlng_to_cell(lat, lon, PRESENCE_RES)
    t0 = 1_780_315_200_000

    def row(mmsi: int, t: int, dlat: float, name: str | None, imo: int | None) -> list[Any]:
        return presence_row(mmsi, "s", lat + dlat, lon, 1.0, 90.0, t, False, home, name, imo)

    def run(prox: ProximityStage, minutes: range, dlat: float, named: bool) -> list[Any]:
        alerts = []
        for i in minutes:
            t = t0 + i * 60_000
            rows = [
                row(
                    316000001,
                    t,
                    0.0,
                    "NORTHERN STAR" if named else None,
                    9000001 if named else None,
                ),
                row(316000002, t + 10_000, dlat, None, None),
            ]
            for o in prox.handle(_presences(rows, t + 20_000), 0):
                alerts.append(orjson.loads(o.value))
        return alerts

    geography = Geography.load()
    checkpoint: dict[str, Any] = {}
    first = ProximityStage(NAMES, 1, geography, MidTable.load_default(), Thresholds(), checkpoint)
    opened = run(first, range(22), 0.0027, named=True)
    assert [(a["status"], a["vessel_name"], a["imo"]) for a in opened] == [
        ("open", "NORTHERN STAR", 9000001)
    ]
    nxt = ProximityStage(NAMES, 1, geography, MidTable.load_default(), Thresholds(), checkpoint)
    closed = run(nxt, range(22, 24), 0.02, named=False)  # 2.2 km apart, no static report
    assert [(a["status"], a["alert_id"]) for a in closed] == [("closed", opened[0]["alert_id"])]
    assert (closed[0]["vessel_name"], closed[0]["imo"]) == ("NORTHERN STAR", 9000001)


def test_identities_that_cannot_be_read_are_left_out() -> None:
    good = {"identities": {"1": [9000001, "A"], "2": [None, None]}}
    assert identities_of(good) == {
        1: VesselIdentity(9000001, "A", None),
        2: VesselIdentity(None, None, None),
    }
    for bad in (None, [], {}, {"identities": []}, {"identities": {"x": [1, "A"]}}):
        assert identities_of(bad) == {}
    for known in ([1], ["1", "A"], [1, 2], "A", None):
        assert identities_of({"identities": {"1": known}}) == {}
