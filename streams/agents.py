"""Agents: unpack → call a stage (``streams.pipeline``) → send → count. No maritime logic.

Only the worker entry point imports this module (it registers the agents on the app).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections import Counter, defaultdict
from typing import Any

import faust
import orjson
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.streams import _current_event

import streams.lifecycle_agents  # noqa: F401  (alert lifecycle: its table and agents)
from mda.errors import MdaError
from mda.geo import Geography
from mda.isps import ReferenceData, geography_with, load_reference_dir
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.rules.context import RuleContext
from mda.thresholds import Thresholds
from streams import metrics, reference
from streams.acks import InOrderAcks
from streams.app import app, settings
from streams.codecs import CODEC_NAME
from streams.pipeline import DecodeStage, Out, TrackStage
from streams.proximity import PAIRS_TABLE, ProximityStage
from streams.topics import TopicNames
from streams.web import vessels as vessels_page  # noqa: F401  (registers /vessels)

log = logging.getLogger(__name__)

names = TopicNames.from_settings(settings)
n = settings.partitions
raw_topic = app.topic(names.raw, partitions=n)
reports_topic = app.topic(names.reports, partitions=n)
topics_by_name: dict[str, faust.TopicT] = {
    names.raw: raw_topic,
    names.reports: reports_topic,
    names.rejected: app.topic(names.rejected, partitions=1),
    names.presence: app.topic(names.presence, partitions=n),
    names.alerts: app.topic(names.alerts, partitions=n),
}

tracks = app.Table("tracks", partitions=n)
# Faust derives a table's serializers from key_type/value_type (falling back to json) and
# ignores a schema, and builds the changelog topic when the table is registered. Set the
# serializers, then rebuild the changelog topic with them (the store is built lazily, at
# start), so values come back from the changelog or RocksDB as VesselTrack, not dict.
tracks.key_serializer = "json"
tracks.value_serializer = CODEC_NAME
tracks.changelog_topic = tracks._new_changelog_topic()

metrics.preinitialise()
setup_prometheus_sensors(app, pattern="/metrics")

#: Receiving stations exported by name in mda_station_silence_seconds (the rest: "other").
STATIONS_EXPORTED = 50

_decode_stage = DecodeStage(names, n)
_track_stage: TrackStage | None = None
#: Per ais.reports partition: the track agent's messages not acknowledged yet, because the
#: state they changed has not been written to the table (TrackStage.pending).
_unacked: dict[int, list[Any]] = defaultdict(list)
#: Rebalances seen (revocations): a message whose partition was revoked while it was being
#: processed is left unacknowledged (its changes were dropped; its next owner redoes it).
_revocations = 0
#: The partition whose message the track agent is processing (its sends may be in flight).
_in_flight: int | None = None
#: The track agent's stream with manual acknowledgements (set when it starts).
_track_stream: Any = None


@functools.cache
def _reference_and_geography() -> tuple[ReferenceData | None, Geography]:
    """Zones (defaults + MDA_ZONES) plus, with a reference set, its facility radii: the one
    geography of the track and proximity stages."""
    geography = Geography.load(settings.zones)
    # ISPS reference set of a batch run (mda run --reference DIR); validated by the CLI.
    reference = load_reference_dir(settings.reference_dir) if settings.reference_dir else None
    if reference is not None:
        geography = geography_with(geography, reference)
    return reference, geography


def _rule_context() -> RuleContext:
    reference, geography = _reference_and_geography()
    return RuleContext(
        geography=geography,
        mids=MidTable.load_default(),
        landmask=LandMask.load_default(),
        thresholds=Thresholds.from_dict(orjson.loads(settings.thresholds_json)),
        reference=reference,
    )


def _bad_message(stage: str, event: Any, exc: MdaError) -> list[Out]:
    return metrics.refused(stage, event, exc, names.rejected)


async def _send(outs: list[Out]) -> None:
    for o in outs:
        await topics_by_name[o.topic].send(key=o.key, value=o.value, partition=o.partition)


@functools.lru_cache(maxsize=64)
def _decoded_counter(msg_type: int) -> Any:
    return metrics.MESSAGES_DECODED.labels(msg_type=str(msg_type))


@app.agent(raw_topic)
async def decode(stream: Any) -> None:
    async for event in stream.events():
        started = time.perf_counter()
        try:
            outs = _decode_stage.handle(event.value)
        except MdaError as exc:
            await _send(_bad_message("decode", event, exc))
            continue
        await _send(outs)
        metrics.LINES_READ.inc(_decode_stage.last_lines)
        if _decode_stage.last_retimed:
            metrics.LINES_RETIMED.inc(_decode_stage.last_retimed)
            for r in _decode_stage.last_new_wrong_clocks:
                log.warning(
                    "%s; its lines are dated by their receipt (mda_lines_retimed_total counts "
                    "them)",
                    r.describe(),
                )
        # One increment per label value per batch (a labels() lookup per line was ~3% of the
        # worker's samples).
        for t, count in Counter(_decode_stage.last_decoded_types).items():
            _decoded_counter(t).inc(count)
        for reason, count in Counter(r.reason for r in _decode_stage.last_rejects).items():
            metrics.MESSAGES_REJECTED.labels(reason=reason).inc(count)
        metrics.STAGE_SECONDS.labels(stage="decode").observe(time.perf_counter() - started)


async def _ack(stream: Any, events: list[Any]) -> None:
    for e in events:
        await stream.ack(e)  # (it does not suspend: no other task runs in between)
    events.clear()


@app.timer(interval=0.25)
async def flush_quiet_partitions() -> None:
    """Write the changes of partitions that have gone quiet once their interval is up.

    Without this, the last changes of a partition whose input stopped would wait (unwritten,
    their messages unacknowledged) for its next message. The writes are made in the context of
    the partition's last unacknowledged message, as the agent's own are; a partition whose
    message is being processed (sends in flight) is left to the agent.
    """
    stage = _track_stage
    if stage is None or _track_stream is None:
        return
    for partition, events in list(_unacked.items()):
        if not events or partition == _in_flight or not stage.due(partition):
            continue
        token = _current_event.set(weakref.ref(events[-1]))
        try:
            stage.flush(partition)
        finally:
            _current_event.reset(token)
        await _ack(_track_stream, events)


def current_tracks() -> list[Any]:
    """This worker's tracks as they are now (the table overlaid with unflushed changes)."""
    if _track_stage is None:
        return [t for _, t in tracks.items()]
    return [t for _, t in _track_stage.items()]


@app.on_partitions_revoked.connect
async def _forget_revoked(app: Any, revoked: set[Any], **kwargs: Any) -> None:
    """Drop the unflushed track state and the unacknowledged messages (held end-of-file
    records and those after them) of revoked partitions.

    Nothing of them is written: the messages were not acknowledged, so their offsets were not
    committed, and whoever gets the partition processes them again on the table's state.
    """
    global _revocations
    _revocations += 1
    for tp in revoked:
        if tp.topic == names.reports:
            _unacked.pop(tp.partition, None)
            if _track_stage is not None:
                _track_stage.drop(tp.partition)
        elif tp.topic == names.presence:
            # Their offsets stay uncommitted: the partition's next owner reads them again.
            _presence_acks.drop(tp.partition)


@app.on_partitions_assigned.connect
async def _forget_moved(app: Any, assigned: set[Any], **kwargs: Any) -> None:
    """Forget the proximity state of the mda.presence partitions this worker no longer
    holds (kept through a rebalance that leaves a partition here): if one comes back later,
    it starts from the checkpoint, not from sets that went stale while it was away."""
    if _proximity_stage is not None:
        _proximity_stage.keep_only({tp.partition for tp in assigned if tp.topic == names.presence})


@app.agent(reports_topic)
async def track(stream: Any) -> None:
    """ais.reports → the track stage; the table is written per partition every
    ``track_flush_s`` (and at every control record), and a partition's messages are
    acknowledged only once the state they changed is in the table: a committed offset never
    runs ahead of the changelog, and a crash costs reprocessing, not state."""
    global _track_stage
    if _track_stage is None:
        _track_stage = TrackStage(
            names, n, _rule_context(), tracks, flush_interval_s=settings.track_flush_s
        )
        # The isps.* topics as they stand (later records arrive as control records).
        assert settings.kafka_bootstrap is not None
        snapshot = await asyncio.to_thread(reference.read_topics, settings.kafka_bootstrap, names)
        _track_stage.apply_references(snapshot)
    global _in_flight, _track_stream
    stage = _track_stage
    rejected_refs = stage.reference_rejects
    manual = _track_stream = stream.noack()
    trace_offsets = settings.trace_offsets
    async for event in manual.events():
        started = time.perf_counter()
        partition = event.message.partition
        if trace_offsets:
            log.warning("TRACK-OFFSET %d %d", partition, event.message.offset)
        revocations = _revocations
        # The table writes of a flush happen here, in this message's context: Faust's stores
        # take the partition of a write from the current message, and the stage flushes only
        # the partition of the message it handles.
        _in_flight = partition
        refused = False
        try:
            outs = stage.handle(event.value, partition, event.message.offset)
        except MdaError as exc:
            # Nothing changed: acknowledged with the partition's next flush (or now, when
            # everything before it is written), so its offset does not hold up the commits.
            outs, refused = _bad_message("track", event, exc), True
        unacked = _unacked[partition]
        unacked.append(event)
        await _send(outs)
        _in_flight = None
        if revocations == _revocations and stage.last_flushed:
            await _ack(manual, unacked)
        if refused:
            continue
        if stage.last_bad_rows:
            metrics.MESSAGES_REJECTED.labels(reason="bad_message").inc(stage.last_bad_rows)
        if stage.reference_rejects != rejected_refs:
            metrics.MESSAGES_REJECTED.labels(reason="bad_reference_data").inc(
                stage.reference_rejects - rejected_refs
            )
            rejected_refs = stage.reference_rejects
        for f in stage.last_findings:
            metrics.ALERTS.labels(rule=f.rule, severity=f.severity, status=f.status).inc()
        metrics.observe_many(metrics.EVENT_LAG, stage.last_lags_s)
        metrics.REPORTS_TRACKED.inc(len(stage.last_lags_s))
        metrics.DUPLICATES.inc(stage.last_duplicates)
        if stage.watermarks:
            metrics.WATERMARK.set(max(stage.watermarks.values()) / 1000)
        metrics.VESSELS.set(stage.vessel_count())
        for station, silence_s in stage.station_silence_s(STATIONS_EXPORTED).items():
            metrics.STATION_SILENCE.labels(station=station).set(silence_s)
        metrics.STAGE_SECONDS.labels(stage="track").observe(time.perf_counter() - started)


mids = MidTable.load_default()
thresholds = Thresholds.from_dict(orjson.loads(settings.thresholds_json))
_proximity_stage: ProximityStage | None = None
#: The proximity stage's checkpoint of pairs (streams.proximity), co-partitioned with
#: mda.presence: a write goes to the changelog partition of the message being processed.
pairs_table = app.Table(PAIRS_TABLE, partitions=n)
pairs_table.key_serializer = "json"
pairs_table.value_serializer = "json"
pairs_table.changelog_topic = pairs_table._new_changelog_topic()


def proximity_stage() -> ProximityStage:
    """The proximity stage (its vessel sets are read by the /vessels page too)."""
    global _proximity_stage
    if _proximity_stage is None:
        _, geography = _reference_and_geography()
        _proximity_stage = ProximityStage(
            names, n, geography, mids, thresholds, checkpoint=pairs_table
        )
    return _proximity_stage


#: Per mda.presence partition, the proximity agent's messages not acknowledged yet, in order:
#: an end-of-file record that does not complete its source's end (ProximityStage.last_eof_
#: complete) holds itself and every later message until the last track partition's comes.
_presence_acks: InOrderAcks[Any] = InOrderAcks()
#: Messages of a partition that may wait behind held records before the holds are given up
#: (a record whose partner never comes): bounds the memory they take and the commit's lag.
#: `mda run` and the bench hold a few hundred at most.
MAX_HELD_MESSAGES = 10_000


@app.agent(topics_by_name[names.presence])
async def proximity(stream: Any) -> None:
    """mda.presence → the proximity stage. A source's end is the end-of-file record of every
    track partition; one that does not complete it is acknowledged only when the last comes,
    so that its offset is not committed before: whoever holds the partition after a
    rebalance or a restart reads it again, instead of waiting for it forever (the stage keeps
    the part it has in memory). Messages are acknowledged in offset order, so the ones after
    a held record wait with it (Faust commits past a single unacknowledged message:
    streams.acks); everything else is acknowledged once processed."""
    stage = proximity_stage()
    restored = stage.pairs_restored
    manual = stream.noack()
    async for event in manual.events():
        started = time.perf_counter()
        partition = event.message.partition
        try:
            outs = stage.handle(event.value, partition, event.message.offset)
        except MdaError as exc:
            await _send(_bad_message("proximity", event, exc))
            _presence_acks.add(partition, event)
            await _ack(manual, _presence_acks.ready(partition))
            continue
        await _send(outs)
        end = stage.last_eof
        if end is not None and not stage.last_eof_complete:
            _presence_acks.add(partition, event, hold=end)
        else:
            _presence_acks.add(partition, event)
            if end is not None:
                _presence_acks.let_go(partition, end)
        for held in _presence_acks.give_up_over(partition, MAX_HELD_MESSAGES):
            log.warning(
                "the end of (partition, source) %r on mda.presence is still incomplete after "
                "%d messages: its record is acknowledged (a restart will not read it again)",
                held,
                MAX_HELD_MESSAGES,
            )
        await _ack(manual, _presence_acks.ready(partition))
        if stage.last_bad_rows:
            metrics.MESSAGES_REJECTED.labels(reason="bad_message").inc(stage.last_bad_rows)
        if stage.pairs_restored != restored:
            metrics.ENCOUNTERS_RESTORED.inc(stage.pairs_restored - restored)
            restored = stage.pairs_restored
        for f in stage.last_findings:
            metrics.ALERTS.labels(rule=f.rule, severity=f.severity, status=f.status).inc()
        metrics.STAGE_SECONDS.labels(stage="proximity").observe(time.perf_counter() - started)


isps_topic = app.topic(*names.isps_topics(), partitions=1)


@app.agent(isps_topic)
async def reference_feed(stream: Any) -> None:
    """An isps.* record → a control record to every ais.reports partition (streams.reference)."""
    async for event in stream.events():
        m = event.message
        await _send(reference.forward(names, n, m.topic, m.key, m.value, m.offset))
