"""Topics of the alert lifecycle (DESIGN.md §2 "alert lifecycle"), all keyed by alert_id.

- ``mda.alerts.by-id``: the rule messages of ``mda.alerts`` re-keyed from MMSI to alert_id, so
  they are co-partitioned with the actions (one alert's messages and actions meet in one
  partition, hence one worker and one table partition).
- ``mda.alert-actions``: watch-officer actions (``mda.alert-action/1``).
- ``mda.alert-actions.rejected``: every rejected action with its reason and the raw input.
- ``mda.alerts.<audience>``: the lifecycle's output, ``mda.alert/1`` exactly, per audience.
- ``mda.alert-state`` (compacted): the full alert state (ack, assignee, notes, audit) for UIs
  and ``mda alerts show``.

Partitions are chosen explicitly by :func:`partition_for_alert` by every producer (the agents
and the CLI), so co-partitioning never depends on a client library's default partitioner.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import orjson

from mda.routing import Routes
from streams.settings import Settings
from streams.topics import TopicSpec


@dataclass(frozen=True)
class AlertTopicNames:
    alerts: str
    by_id: str
    actions: str
    rejected_actions: str
    state: str
    audience_prefix: str

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertTopicNames:
        p = settings.topic_prefix
        return cls(
            alerts=f"{p}mda.alerts",
            by_id=f"{p}mda.alerts.by-id",
            actions=f"{p}mda.alert-actions",
            rejected_actions=f"{p}mda.alert-actions.rejected",
            state=f"{p}mda.alert-state",
            audience_prefix=f"{p}mda.alerts.",
        )

    def audience(self, name: str) -> str:
        return f"{self.audience_prefix}{name}"


def routes_from_settings(settings: Settings) -> Routes:
    """The audience mapping of ``MDA_ALERT_ROUTES_JSON`` (validated; refuses bad config)."""
    return Routes.from_mapping(orjson.loads(settings.alert_routes_json))


def alert_topic_specs(settings: Settings) -> list[TopicSpec]:
    t = AlertTopicNames.from_settings(settings)
    n = settings.partitions
    return [
        TopicSpec(t.by_id, n),
        TopicSpec(t.actions, n),
        TopicSpec(t.rejected_actions, 1),
        TopicSpec(t.state, n, compacted=True),
        *(TopicSpec(t.audience(a), n) for a in routes_from_settings(settings).names),
    ]


def partition_for_alert(alert_id: str, partitions: int) -> int:
    """The partition of an alert on every alert_id-keyed topic (stable across processes)."""
    return zlib.crc32(alert_id.encode()) % partitions
