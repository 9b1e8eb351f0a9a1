"""InOrderAcks: a held message holds every later one of its partition (Faust commits past a
single unacknowledged message at the head: faust-streaming/faust#606)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree  # type: ignore[import-untyped]

from streams.acks import InOrderAcks


def faust_commit(committed: int | None, acked: list[int]) -> int | None:
    """The offset Faust's consumer would commit for a partition (``None``: no commit)."""
    tp = TP("t", 0)
    consumer: Any = SimpleNamespace(
        _acked={tp: list(acked)},
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {tp: committed}),
        _acked_index=defaultdict(set, {tp: set(acked)}),
    )
    result: int | None = Consumer._new_offset(consumer, tp)
    return result


def test_faust_commits_past_one_unacknowledged_message_at_the_head() -> None:
    """Why the class exists: if this starts failing, Faust was mended (see streams.acks)."""
    assert faust_commit(5, [6, 7]) == 8  # 5 held, 6 and 7 acknowledged: 5 is skipped
    assert faust_commit(None, [1, 2]) == 3  # nothing committed yet: 0 is skipped
    assert faust_commit(5, [7, 8]) is None  # two at the head: held, as it should
    assert faust_commit(5, [5, 6]) == 7


def test_a_held_event_holds_the_later_ones_until_let_go() -> None:
    acks: InOrderAcks[str] = InOrderAcks()
    acks.add(0, "a")
    assert acks.ready(0) == ["a"]
    acks.add(0, "b", hold="s")
    acks.add(0, "c")
    acks.add(1, "x")
    acks.add(0, "d", hold="s")
    acks.add(0, "e")
    assert acks.ready(0) == []  # not "c" or "e": the commit would pass "b"
    assert acks.ready(1) == ["x"]  # another partition is not held
    assert (acks.waiting(0), acks.holds(0)) == (4, ["s"])
    acks.let_go(0, "s")
    assert acks.ready(0) == ["b", "c", "d", "e"]
    assert (acks.waiting(0), acks.holds(0)) == (0, [])


def test_holds_are_let_go_one_by_one_and_in_order() -> None:
    acks: InOrderAcks[int] = InOrderAcks()
    acks.add(0, 1, hold="s")
    acks.add(0, 2, hold="t")
    acks.add(0, 3)
    acks.let_go(0, "t")
    assert acks.ready(0) == []  # 1 is still held
    acks.let_go(1, "s")  # (another partition's hold of the same name)
    assert acks.ready(0) == []
    acks.let_go(0, "s")
    assert acks.ready(0) == [1, 2, 3]
    acks.let_go(0, "s")  # let go twice: nothing
    assert acks.ready(0) == []


def test_a_dropped_partition_is_forgotten() -> None:
    acks: InOrderAcks[int] = InOrderAcks()
    acks.add(0, 1, hold="s")
    acks.add(0, 2)
    acks.drop(0)
    assert (acks.waiting(0), acks.holds(0), acks.ready(0)) == (0, [], [])
    acks.let_go(0, "s")
    acks.add(0, 3)
    assert acks.ready(0) == [3]


def test_holds_are_given_up_when_too_many_events_wait() -> None:
    acks: InOrderAcks[int] = InOrderAcks()
    acks.add(0, 0, hold="s")
    acks.add(0, 1, hold="t")
    for i in range(2, 5):
        acks.add(0, i)
    assert acks.give_up_over(0, 5) == []
    assert acks.ready(0) == []
    acks.add(0, 5)
    assert acks.give_up_over(0, 5) == ["s", "t"]
    assert acks.ready(0) == list(range(6))
    acks.let_go(0, "s")  # its end comes after all: nothing left to let go
    assert acks.give_up_over(0, 0) == []
