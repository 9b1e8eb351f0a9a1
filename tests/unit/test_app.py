"""The Faust app's deliberate departures from Faust's defaults (streams/app.py)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from streams.settings import get_settings


def test_worker_consumer_takes_the_fetch_wait_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust creates the worker's consumer with fetch_max_wait_ms=1500 whatever the settings;
    the embedded broker then holds every empty fetch that long (a stall per stage hop)."""
    from streams.app import app

    monkeypatch.setenv("MDA_FETCH_MAX_WAIT_MS", "37")
    get_settings.cache_clear()

    async def build() -> AIOKafkaConsumer:
        thread = app.consumer._new_consumer_thread()
        consumer: AIOKafkaConsumer = thread._create_worker_consumer(app.transport)
        return consumer

    try:
        consumer = asyncio.run(build())
        assert consumer._fetch_max_wait_ms == 37
    finally:
        monkeypatch.delenv("MDA_FETCH_MAX_WAIT_MS")
        get_settings.cache_clear()
    # The attribute is what aiokafka's consumer hands its Fetcher when it starts.
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


def test_resuming_running_flow_keeps_the_queues() -> None:
    """Faust's recovery resumes flow that is already running; that must not clear the agents'
    queues (faust-streaming/faust#596). Suspended flow resumed still clears them."""
    from mode.utils.queues import FlowControlQueue

    from streams.app import FlowControl

    async def run() -> tuple[int, int]:
        flow = FlowControl()
        # As Faust makes an agent's input queue (faust/channels.py).
        queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        flow.resume()
        queue.put_nowait("fetched during the seek")
        flow.resume()  # running: nothing cleared
        kept = queue.qsize()
        flow.suspend()
        flow.resume()  # suspended then resumed: cleared, as Faust means it
        return kept, queue.qsize()

    assert asyncio.run(run()) == (1, 0)


class FakeConsumer:
    """The aiokafka consumer calls of ``_ConsumerThread._seek_to_committed_or_reset``: the
    committed offsets and log ends it is given; what it was told to seek, recorded."""

    def __init__(self, committed: dict[Any, int | None], ends: dict[Any, int]) -> None:
        self.committed = committed
        self.ends = ends
        self.beginning: tuple[Any, ...] = ()
        self.sought: dict[Any, int] = {}

    async def seek_to_committed(self) -> dict[Any, int | None]:
        return self.committed

    async def seek_to_beginning(self, *tps: Any) -> bool:
        self.beginning = tps
        return True

    def seek(self, tp: Any, offset: int) -> None:
        self.sought[tp] = offset

    async def end_offsets(self, tps: list[Any]) -> dict[Any, int]:
        return {tp: self.ends[tp] for tp in tps}


def test_a_partition_without_a_committed_offset_is_sought_after_what_was_delivered() -> None:
    """aiokafka's seek_to_committed leaves a partition with no committed offset where the
    fetcher got to, so what Faust fetched and dropped during a rebalance was never read
    again (the broker-restart fault test lost every line sent after the restart). Such a
    partition goes to just after the last message handed to the agents, or to the beginning
    when none was (seeking every one to the beginning processed a new group's first
    messages twice: the lifecycle test counted a suppressed update twice)."""
    from aiokafka import TopicPartition

    import streams.agents  # noqa: F401  (defines the tables, which name their changelogs)
    from streams.app import _ConsumerThread, app

    raw0, raw1 = TopicPartition("x.ais.raw", 0), TopicPartition("x.ais.raw", 1)
    reports0, reports1 = TopicPartition("x.ais.reports", 0), TopicPartition("x.ais.reports", 1)
    changelog = TopicPartition(f"{app.conf.id}-tracks-changelog", 0)
    assert changelog.topic in app.tables.changelog_topics

    class FaustConsumer:
        def __init__(self) -> None:
            # Faust's own bookkeeping: the last offset handed to the agents, per partition.
            self._read_offset = {raw0: 30, reports1: 41}

    fake = FakeConsumer(
        {raw0: 17, raw1: None, reports0: 0, reports1: None, changelog: None},
        # The log read before: longer than what was read.
        {raw0: 1000, raw1: 1000, reports0: 1000, reports1: 1000},
    )
    thread = _ConsumerThread.__new__(_ConsumerThread)
    thread.app = app
    thread.consumer = FaustConsumer()  # type: ignore[assignment]
    thread._ensure_consumer = lambda: fake  # type: ignore[method-assign,assignment,return-value]

    committed = asyncio.run(thread._seek_to_committed_or_reset())
    assert committed[raw0] == 17
    assert set(fake.beginning) == {raw1, reports0}
    assert fake.sought == {reports1: 42}
    assert thread.lost_log == set()


def test_a_log_that_ends_before_what_was_read_is_read_from_the_start() -> None:
    """A broker that comes back without its log (the embedded one keeps it in memory) has
    partitions that end before what the worker had read from them. Resuming after what was
    delivered would skip every line written to the new log below that offset (a CI run of the
    broker-restart test read 1 of 161 lines), so such a partition is sought to the beginning,
    and the fetch loop's read offset for it is forgotten."""
    from collections import defaultdict
    from types import SimpleNamespace

    from aiokafka import TopicPartition

    import streams.agents  # noqa: F401  (defines the tables, which name their changelogs)
    from streams.app import _Consumer, _ConsumerThread, app

    kept, lost = TopicPartition("x.ais.raw", 0), TopicPartition("x.ais.raw", 1)

    # kept: read to 7, the log holds 0-7 (nothing new); lost: read to 7, the new log holds 0-5.
    fake = FakeConsumer({kept: None, lost: None}, {kept: 8, lost: 6})
    thread = _ConsumerThread.__new__(_ConsumerThread)
    thread.app = app
    thread.consumer = SimpleNamespace(_read_offset={kept: 7, lost: 7})  # type: ignore[assignment]
    thread._ensure_consumer = lambda: fake  # type: ignore[method-assign,assignment,return-value]
    asyncio.run(thread._seek_to_committed_or_reset())
    assert fake.sought == {kept: 8}
    assert fake.beginning == (lost,)
    assert thread.lost_log == {lost}

    consumer = _Consumer.__new__(_Consumer)
    consumer.app = app
    consumer._thread = thread
    consumer._read_offset = defaultdict(lambda: None, {kept: 7, lost: 7})
    consumer._committed_offset = {}

    async def seek_to_committed() -> dict[TopicPartition, int | None]:
        return {kept: None, lost: None}

    consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign,assignment]
    asyncio.run(consumer.perform_seek())
    assert dict(consumer._read_offset) == {kept: 7, lost: None}


def test_a_partition_without_a_committed_offset_keeps_its_read_offset_through_the_seek() -> None:
    """At the end of a recovery Faust seeks with the flow running. Faust then set the read
    offset of a partition without a committed offset to None, so what the fetch loop handed
    to the agents during the seek (which went to the beginning: nothing had been handed when
    the consumer thread looked) was handed again. Kept, the fetch loop drops it."""
    from collections import defaultdict
    from types import SimpleNamespace

    from aiokafka import TopicPartition
    from faust.transport.consumer import Consumer

    import streams.agents  # noqa: F401  (defines the tables, which name their changelogs)
    from streams.app import _Consumer, app

    raw0, raw1, raw2 = (TopicPartition("x.ais.raw", p) for p in range(3))
    changelog = TopicPartition(f"{app.conf.id}-tracks-changelog", 0)
    consumer = _Consumer.__new__(_Consumer)
    consumer.app = app
    consumer._thread = SimpleNamespace(lost_log=set())  # type: ignore[assignment]
    consumer._read_offset = defaultdict(lambda: None, {raw0: 5, changelog: 12})
    consumer._committed_offset = {}

    async def seek_to_committed() -> dict[TopicPartition, int | None]:
        consumer._read_offset[raw1] = 3  # handed on by the fetch loop while the seek ran
        return {raw0: 17, raw1: None, raw2: None, changelog: None}

    consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign,assignment]
    asyncio.run(consumer.perform_seek())
    assert dict(consumer._read_offset) == {raw0: 17, raw1: 3, changelog: None}
    assert consumer._committed_offset == {raw0: 17}
    # What the kept read offset does: Faust's fetch loop hands on only offsets >= it.
    assert "if r_offset is None or offset >= r_offset:" in inspect.getsource(
        Consumer._drain_messages
    )


def test_gc_threshold_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's collector thresholds: 10,000 young objects by default (BENCHMARKS round
    6), Python's own or any other as JSON; a zero (the collector off) is refused."""
    from pydantic import ValidationError

    from streams.settings import Settings

    assert Settings().gc_threshold == (10_000, 10, 10)
    monkeypatch.setenv("MDA_GC_THRESHOLD", "[700, 10, 10]")
    assert Settings().gc_threshold == (700, 10, 10)
    for bad in ("[0, 10, 10]", "[700, 10]", "700"):
        monkeypatch.setenv("MDA_GC_THRESHOLD", bad)
        with pytest.raises(ValidationError):
            Settings()
