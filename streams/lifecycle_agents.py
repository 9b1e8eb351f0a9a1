"""The lifecycle's table and agents on the app (imported once, by ``streams.agents``).

Unpack → :class:`streams.lifecycle.LifecycleStage` → send → count. See that module for the
topology and the reasons for it.
"""

from __future__ import annotations

import time
from typing import Any

import faust

from mda.errors import MdaError
from mda.lifecycle import ACTIONS, ActionRejectReason
from streams import metrics
from streams.alert_topics import AlertTopicNames, routes_from_settings
from streams.app import app, settings
from streams.lifecycle import (
    STATE_CODEC,
    STATE_TABLE,
    LifecycleStage,
    Tombstone,
    register_codec,
)
from streams.pipeline import Out
from streams.topics import TopicNames

register_codec()
names = AlertTopicNames.from_settings(settings)
n = settings.partitions
routes = routes_from_settings(settings)
#: Where a refused message goes (the pipeline's ais.rejected).
rejected_topic = TopicNames.from_settings(settings).rejected
senders: dict[str, faust.TopicT] = {
    rejected_topic: app.topic(rejected_topic, partitions=1),
    names.by_id: app.topic(names.by_id, partitions=n),
    names.actions: app.topic(names.actions, partitions=n),
    names.rejected_actions: app.topic(names.rejected_actions, partitions=1),
    names.state: app.topic(names.state, partitions=n),
}
for audience in routes.names:
    senders[names.audience(audience)] = app.topic(names.audience(audience), partitions=n)

alert_state = app.Table(STATE_TABLE, partitions=n)
# As for the tracks table (streams/agents.py): serializers first, then rebuild the changelog
# topic with them, so values come back from the changelog as AlertState, not dict.
alert_state.key_serializer = "json"
alert_state.value_serializer = STATE_CODEC
alert_state.changelog_topic = alert_state._new_changelog_topic()

stage = LifecycleStage(
    names, n, routes, alert_state, settings.alert_update_min_s, settings.alert_retention_s
)

for _outcome in ("forwarded", "suppressed_repeat", "suppressed_interval", "duplicate"):
    metrics.ALERT_LIFECYCLE.labels(outcome=_outcome)
for _audience in routes.names:
    metrics.ALERTS_ROUTED.labels(audience=_audience)
for _reason in ActionRejectReason:
    metrics.ACTIONS_REJECTED.labels(reason=_reason.value)
for _action in ACTIONS:
    metrics.ACTIONS_APPLIED.labels(action=_action)
metrics.STAGE_SECONDS.labels(stage="lifecycle")


async def _send(outs: list[Out] | list[Tombstone]) -> None:
    for o in outs:
        value = None if isinstance(o, Tombstone) else o.value  # None: a compaction tombstone
        await senders[o.topic].send(key=o.key, value=value, partition=o.partition)


@app.agent(app.topic(names.alerts, partitions=n), name="alert_rekey")
async def alert_rekey(stream: Any) -> None:
    async for event in stream.events():
        try:
            outs = stage.rekey(event.value)
        except MdaError as exc:
            outs = metrics.refused("lifecycle", event, exc, rejected_topic)
        await _send(outs)


@app.agent(app.topic(names.by_id, names.actions, partitions=n), name="alert_lifecycle")
async def alert_lifecycle(stream: Any) -> None:
    async for event in stream.events():
        started = time.perf_counter()
        m = event.message
        if m.topic == names.actions:
            outs = stage.handle_action(event.value, m.key, m.partition)
        else:
            try:
                outs = stage.handle_alert(event.value)
            except MdaError as exc:  # not an alert: another program writing to the topic
                outs = metrics.refused("lifecycle", event, exc, rejected_topic)
        await _send(outs)
        # Retention: the alerts of this event's partition closed for too long (event time).
        await _send(stage.expire(m.partition))
        if stage.last_expired:
            metrics.ALERT_STATES_EXPIRED.inc(stage.last_expired)
        if stage.last_action is None and stage.last_outcome is not None:
            metrics.ALERT_LIFECYCLE.labels(outcome=stage.last_outcome).inc()
        if stage.last_action is not None and stage.last_outcome != "duplicate":
            metrics.ACTIONS_APPLIED.labels(action=stage.last_action).inc()
        if stage.last_rejection is not None:
            metrics.ACTIONS_REJECTED.labels(reason=stage.last_rejection).inc()
        for audience in stage.last_routed:
            metrics.ALERTS_ROUTED.labels(audience=audience).inc()
        metrics.STAGE_SECONDS.labels(stage="lifecycle").observe(time.perf_counter() - started)
