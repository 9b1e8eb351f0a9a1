"""The Faust application, and nothing else (topics, tables and agents live elsewhere).

Settled on purpose (DESIGN.md §5):
- ``broker_session_timeout`` 10 s: the embedded broker answers a new group's first join after
  about half the session timeout (worker ready in ~6.5 s instead of ~31.5 s).
- ``stream_wait_empty=False``: with the default, a worker whose agent crashed mid-send ignored
  SIGTERM for minutes; without it, it stops within seconds.
- ``fetch_max_wait_ms`` (``Transport``): Faust fixes the consumer's at 1,500 ms; the
  embedded broker holds an empty fetch that long even when data arrives meanwhile, and the
  worker's stages feed each other, so each hop stalled ~0.5–1.5 s.
- ``FlowControl``: resuming flow that is already running does not empty the agents' queues
  (Faust's does, and loses the messages fetched at the end of a table recovery).
- ``seek_to_committed`` (``_ConsumerThread``): a stream partition with no committed offset is
  sought to just after the last message delivered (or to the beginning when none was)
  instead of left where the fetcher got to; otherwise what was fetched and dropped during a
  rebalance is never fetched again.
- ``perform_seek`` (``_Consumer``): such a partition keeps its read offset through the seek,
  so what was handed to the agents while the seek ran is not handed again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiokafka
import faust
from aiokafka.errors import KafkaError
from faust.transport.consumer import ensure_TP
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TransportT
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from streams import codecs
from streams.settings import get_settings

log = logging.getLogger(__name__)


class FlowControl(FlowControlEvent):
    """Faust's flow control, except that ``resume()`` while flow runs changes nothing.

    ``FlowControlEvent.resume()`` always empties every agent's input queue. That is meant for
    the messages buffered before a rebalance suspended the flow (the consumer seeks back to
    the committed offsets and fetches them again). But at the end of a table recovery
    (``faust/tables/recovery.py``, ``Recovery.on_recovery_completed``) Faust resumes the
    stream partitions, awaits the seek to the committed offsets with flow already running
    (it was resumed to read the changelogs), and only then calls ``resume()`` again: the
    messages fetched during the seek are dropped from the queues, although the fetch
    position is already past them. They are never delivered nor acknowledged; Faust's
    consumer then commits over a single missing offset (``Consumer._new_offset`` checks
    ``min(acked) - committed > 1``) or never commits the partition again. Upstream:
    faust-streaming/faust#596.
    """

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()


class _ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    #: Partitions found at the last seek with a log that ends before what had been read.
    lost_log: set[Any] = set()  # noqa: RUF012 (replaced, never mutated)

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes fetch_max_wait_ms=1500 with no setting to change it; the consumer reads
        # the value when it starts (it builds its Fetcher then), which is after this.
        consumer._fetch_max_wait_ms = get_settings().fetch_max_wait_ms
        return consumer

    async def seek_to_committed(self) -> Mapping[Any, int]:
        return await self.call_thread(self._seek_to_committed_or_reset)

    async def _seek_to_committed_or_reset(self) -> Mapping[Any, int]:
        """Seek every partition to its committed offset; one without, to after what was
        delivered.

        Faust drops the messages it fetched while a rebalance stopped the flow (a fetch that
        lands then is discarded) and counts on this seek to fetch them again. aiokafka's
        ``seek_to_committed`` leaves a partition without a committed offset (a new group, new
        partitions, expired offsets, a broker that lost its log) where the fetcher got to,
        so those messages were never read: seen as a worker that read nothing after the
        embedded broker restarted. Such a partition is sought to just after the last message
        Faust handed to the agents (``Consumer._read_offset``; a rebalance forgets it), or to
        where ``consumer_auto_offset_reset`` says (the beginning) when it handed none — not
        to the beginning every time, which processed again what a new group's first seconds
        had already processed. Except when the partition's log now ends before that point: the
        broker lost the log that was read (``lost_log``), and the new one is read from its
        start. Changelog partitions are Faust's recovery's to place.
        """
        consumer = self._ensure_consumer()
        committed: Mapping[Any, int] = await consumer.seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        read_offset = self.consumer._read_offset
        fresh = []
        resume: dict[Any, int] = {}
        for tp, offset in committed.items():
            if (offset is not None and offset > 0) or tp.topic in changelogs:
                continue
            delivered = read_offset.get(tp)
            if delivered is None:
                fresh.append(tp)
            else:
                resume[tp] = delivered + 1
        # A log that now ends before what was delivered is not the log that was read: the
        # broker lost it (the embedded broker keeps its log in memory and comes back empty;
        # an unclean leader election can truncate one). Resuming there would skip whatever is
        # written to the new log below that offset; from the start, what is read twice is
        # what the stages already treat as duplicates.
        ends: Mapping[Any, int] = {}
        if resume:
            try:
                ends = await consumer.end_offsets(list(resume))
            except KafkaError as exc:  # unknown: resume where the old log was left
                log.warning("log end offsets unavailable at the seek (%r): not checked", exc)
        lost = sorted(
            (tp for tp, at in resume.items() if ends.get(tp, at) < at),
            key=lambda tp: (tp.topic, tp.partition),
        )
        self.lost_log = set(lost)
        for tp, at in resume.items():
            if tp not in self.lost_log:
                consumer.seek(tp, at)
        if lost:
            log.warning(
                "the broker's log of %s ends before what was read from it: the broker lost "
                "its log; reading it again from the start",
                ", ".join(
                    f"{tp.topic}[{tp.partition}] (at {ends[tp]}, read to {resume[tp] - 1})"
                    for tp in lost
                ),
            )
            # Everything in the new log was written after the loss: from its start whatever
            # consumer_auto_offset_reset says for a partition never read.
            await consumer.seek_to_beginning(*lost)
        if fresh:
            reset = self.app.conf.consumer_auto_offset_reset
            log.info(
                "no committed offset and nothing read yet for %d partitions (%s): "
                "fetching them from the %s",
                len(fresh),
                ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in fresh)),
                "beginning" if reset == "earliest" else reset,
            )
            if reset == "earliest":
                await consumer.seek_to_beginning(*fresh)
            elif reset == "latest":
                await consumer.seek_to_end(*fresh)
        return committed


class _Consumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """Faust's seek to the committed offsets, except that a stream partition without one
        keeps its read offset (the last offset handed to the agents).

        Faust sets that read offset to None after the seek, and its fetch loop
        (``Consumer._drain_messages``) then hands on every record fetched. But at the end of
        a recovery the seek runs while the flow runs: records handed to the agents while the
        consumer thread sought (to the beginning: nothing had been handed when it looked)
        were fetched and handed again — a new group's first messages processed twice (the
        lifecycle test counted a suppressed update twice in CI). With the read offset kept,
        the fetch loop drops what was handed already (it hands on ``offset >= read offset``:
        at most the last one again, which the stages treat as a duplicate).
        """
        read_offset = self._read_offset
        committed = await self.seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        # Partitions whose log the broker lost are read from the start: what was handed from
        # the old log says nothing about the new one.
        lost = self._thread.lost_log
        for tp, offset in committed.items():
            if offset is not None and offset > 0:
                read_offset[tp] = offset  # the next to read, as Faust sets it
            elif tp.topic in changelogs or tp in lost:
                read_offset[tp] = None
        self._committed_offset.update(
            {
                ensure_TP(tp): offset or None
                for tp, offset in committed.items()
                if offset is not None
            }
        )


class Transport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the worker consumer's fetch wait from the settings."""

    Consumer = _Consumer


class App(faust.App):
    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return FlowControl(loop=self.loop)

    def _new_transport(self) -> TransportT:
        return Transport(self.conf.broker_consumer, self)


codecs.register()
settings = get_settings()

app = App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap or '127.0.0.1:9092'}",
    store=settings.table_store,
    datadir=str(settings.data_dir),
    topic_partitions=settings.partitions,
    topic_replication_factor=1,
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 5),
    stream_wait_empty=False,
    consumer_auto_offset_reset="earliest",
    web_host=settings.web_host,
    web_port=settings.web_port,
    web_in_thread=False,
    producer_linger=0.005,
    key_serializer="raw",
    value_serializer="raw",
)
