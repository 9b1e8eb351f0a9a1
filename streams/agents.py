"""Agents: unpack → call a stage (``streams.pipeline``) → send → count. No maritime logic.

Only the worker entry point imports this module (it registers the agents on the app).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust
import orjson
from faust.sensors.prometheus import setup_prometheus_sensors

from mda.geo import Geography
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.rules.context import RuleContext
from mda.thresholds import Thresholds
from streams import metrics
from streams.app import app, settings
from streams.codecs import CODEC_NAME
from streams.pipeline import DecodeStage, Out, TrackStage
from streams.topics import TopicNames

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


def _rule_context() -> RuleContext:
    geography = Geography.load(settings.zones)
    return RuleContext(
        geography=geography,
        mids=MidTable.load_default(),
        landmask=LandMask.load_default(),
        thresholds=Thresholds.from_dict(orjson.loads(settings.thresholds_json)),
    )


async def _send(outs: list[Out]) -> None:
    for o in outs:
        await topics_by_name[o.topic].send(key=o.key, value=o.value, partition=o.partition)


@app.agent(raw_topic)
async def decode(stream: Any) -> None:
    async for event in stream.events():
        started = time.perf_counter()
        outs = _decode_stage.handle(event.value)
        await _send(outs)
        metrics.LINES_READ.inc(_decode_stage.last_lines)
        for t in _decode_stage.last_decoded_types:
            metrics.MESSAGES_DECODED.labels(msg_type=str(t)).inc()
        for r in _decode_stage.last_rejects:
            metrics.MESSAGES_REJECTED.labels(reason=r.reason).inc()
        metrics.STAGE_SECONDS.labels(stage="decode").observe(time.perf_counter() - started)


@app.agent(reports_topic)
async def track(stream: Any) -> None:
    global _track_stage
    if _track_stage is None:
        _track_stage = TrackStage(names, n, _rule_context(), tracks)
    stage = _track_stage
    async for event in stream.events():
        started = time.perf_counter()
        outs = stage.handle(event.value, event.message.partition)
        await _send(outs)
        for f in stage.last_findings:
            metrics.ALERTS.labels(rule=f.rule, severity=f.severity, status=f.status).inc()
        for lag in stage.last_lags_s:
            metrics.EVENT_LAG.observe(lag)
        metrics.REPORTS_TRACKED.inc(len(stage.last_lags_s))
        metrics.DUPLICATES.inc(stage.last_duplicates)
        if stage.watermarks:
            metrics.WATERMARK.set(max(stage.watermarks.values()) / 1000)
        metrics.VESSELS.set(len(tracks))
        for station, silence_s in stage.station_silence_s(STATIONS_EXPORTED).items():
            metrics.STATION_SILENCE.labels(station=station).set(silence_s)
        metrics.STAGE_SECONDS.labels(stage="track").observe(time.perf_counter() - started)
