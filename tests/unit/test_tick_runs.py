"""The track stage sends the proximity stage only the first and the last tick of each run of a
source's ticks with nothing between them (``streams.pipeline._forward_tick``): the ticks in
between change nothing there, so the alerts, message for message, are those of sending them
all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

import streams.pipeline
from mda.alerts import Finding
from mda.model import RawLine, raw_batch_to_json
from mda.proximity import Presence, ProximityState
from replay.scenarios import Scenario, great_lakes_demo, rules_encounter, rules_gap
from streams.pipeline import DecodeStage, Out, TrackStage, _forward_tick
from streams.proximity import ProximityStage
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import make_context

NAMES = TopicNames.from_settings(Settings())


def _tick(source: str, t: int) -> dict[str, Any]:
    return {"tick": t, "source": source}


def _send(items: list[Any], partitions: int = 2) -> dict[int, list[Any]]:
    """Items as the track stage meets them: rows (lists, to every partition) and ticks."""
    presence: dict[int, list[Any]] = {p: [] for p in range(partitions)}
    runs: dict[int, tuple[str, int, int]] = {}
    for item in items:
        if type(item) is list:
            for p in presence:
                presence[p].append(item)
        else:
            _forward_tick(presence, runs, item)
    return presence


def test_only_the_first_and_last_tick_of_a_run_are_sent() -> None:
    row = [316001234, "a"]
    t = [_tick("a", k) for k in range(8)]
    assert _send([row, *t[:5], row, t[5]])[0] == [row, t[0], t[4], row, t[5]]
    assert _send([*t[:2]])[1] == [t[0], t[1]]
    assert _send([*t[:3]])[1] == [t[0], t[2]]
    assert _send([t[0]])[0] == [t[0]]
    # Another source's tick ends a run as a row does (runs are told by position, not source).
    b = [_tick("b", k) for k in range(4)]
    assert _send([t[0], t[1], b[0], t[2], t[3], t[4]])[0] == [t[0], t[1], b[0], t[2], t[4]]
    assert _send([t[0], b[0], t[1], b[1], t[2]])[0] == [t[0], b[0], t[1], b[1], t[2]]


def test_a_row_sent_to_one_partition_ends_its_run_there_only() -> None:
    presence: dict[int, list[Any]] = {0: [], 1: []}
    runs: dict[int, tuple[str, int, int]] = {}
    t = [_tick("a", k) for k in range(4)]
    _forward_tick(presence, runs, t[0])
    _forward_tick(presence, runs, t[1])
    presence[1].append(["row"])
    _forward_tick(presence, runs, t[2])
    _forward_tick(presence, runs, t[3])
    assert presence == {0: [t[0], t[3]], 1: [t[0], t[1], ["row"], t[2], t[3]]}


def _every_tick(
    presence: dict[int, list[Any]], runs: dict[int, tuple[str, int, int]], tick: dict[str, Any]
) -> None:
    for items in presence.values():
        items.append(tick)


def _run(
    scenario: Scenario, batch_lines: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int, int]:
    """The scenario through decode → track → proximity: every message the proximity stage
    sends, in order; every presence its state observed and every expiry, in order; and the
    tick and presence items it was sent."""
    calls: list[tuple[Any, ...]] = []
    observe, expire = ProximityState.observe, ProximityState.expire

    def observed(state: ProximityState, x: Presence) -> list[Finding]:
        calls.append(("observe", id(state), x))
        return observe(state, x)

    def expired(state: ProximityState, now_ms: int) -> None:
        calls.append(("expire", id(state), now_ms))
        expire(state, now_ms)

    monkeypatch.setattr(ProximityState, "observe", observed)
    monkeypatch.setattr(ProximityState, "expire", expired)
    ctx = make_context()
    decode = DecodeStage(NAMES, 3)
    track = TrackStage(NAMES, 3, ctx, {})
    prox = ProximityStage(NAMES, 3, ctx.geography, ctx.mids, ctx.thresholds)
    lines = scenario.lines
    batches = [
        raw_batch_to_json(
            [RawLine("s", i, t, 0) for i, t in enumerate(lines[k : k + batch_lines], k)]
        )
        for k in range(0, len(lines), batch_lines)
    ]
    batches.append(orjson.dumps({"ctl": "eof", "run": "r", "source": "s"}))
    sent: list[tuple[Any, ...]] = []
    ticks = rows = 0

    def to_proximity(outs: list[Out]) -> None:
        nonlocal ticks, rows
        for o in outs:
            if o.topic != NAMES.presence:
                continue
            items = orjson.loads(o.value).get("presence", [])
            ticks += sum(1 for d in items if type(d) is dict)
            rows += sum(1 for d in items if type(d) is list)
            sent.extend(
                (x.topic, x.key, x.value, x.partition) for x in prox.handle(o.value, o.partition)
            )

    for batch in batches:
        for r in decode.handle(batch):
            if r.topic == NAMES.reports:
                assert r.partition is not None
                to_proximity(track.handle(r.value, r.partition))
    monkeypatch.undo()
    # (States by order of creation, not address.)
    ids = {i: n for n, i in enumerate(dict.fromkeys(c[1] for c in calls))}
    return sent, [(c[0], ids[c[1]], c[2]) for c in calls], ticks, rows


@pytest.mark.parametrize("scenario", [great_lakes_demo, rules_encounter, rules_gap])
@pytest.mark.parametrize("batch_lines", [7, 60, 2_000])
def test_proximity_sends_the_same_with_fewer_ticks(
    scenario: Callable[[], Scenario], batch_lines: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proximity stage observes the same presences in the same order, expires its sets
    at the same watermarks and sends the same messages."""
    coalesced, calls, ticks, rows = _run(scenario(), batch_lines, monkeypatch)
    with monkeypatch.context() as m:
        m.setattr(streams.pipeline, "_forward_tick", _every_tick)
        every, all_calls, all_ticks, all_rows = _run(scenario(), batch_lines, monkeypatch)
    assert coalesced == every
    assert calls == all_calls
    assert sum(c[0] == "observe" for c in calls) > 100
    assert rows == all_rows > 0
    if scenario is rules_encounter:
        # Dense: a report every few seconds from vessels whose rings reach every partition.
        assert ticks == all_ticks
        assert sum(b"ENCOUNTER" in v for _, _, v, _ in every) >= 5
    else:
        assert ticks < all_ticks  # (there were runs to shorten)
