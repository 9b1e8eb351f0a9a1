"""The alert lifecycle stage and its two agents (DESIGN.md §2 "alert lifecycle").

::

    mda.alerts (key MMSI) ─[alert_rekey]─► mda.alerts.by-id (key alert_id) ─┐
    mda.alert-actions (key alert_id) ───────────────────────────────────────┴─[alert_lifecycle]
        ├─► mda.alerts.<audience>  (mda.alert/1, releasable audiences only)
        ├─► mda.alert-state        (compacted, the full AlertState JSON)
        └─► mda.alert-actions.rejected

Why re-key: the track stage keys alerts by MMSI (its own state is per vessel) but an action
names only an alert_id. One alert's messages and actions must meet in one partition, the one
whose table partition holds its state. A global table would instead replicate every alert's
state to every worker and let two workers write the same key; the re-key costs one Kafka hop
per alert message, and alerts are few.

The state table is changelog-backed (``alert_state``): an acknowledgement survives a worker
restart. Messages processed but not committed before a crash are processed again; the
lifecycle drops them as duplicates (``open`` of an open id, an already applied action_id).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
from faust.serializers import codecs

from mda.lifecycle import (
    ActionRejected,
    AlertState,
    Outcome,
    apply_action,
    apply_finding,
    parse_action,
    rejection,
)
from mda.routing import Routes
from streams.alert_topics import AlertTopicNames, partition_for_alert
from streams.pipeline import Out

STATE_CODEC = "mda_alert_state"
#: The table's name; its changelog is ``<app id>-alert_state-changelog`` (sealed at start).
STATE_TABLE = "alert_state"


def changelog_topic(app_id: str) -> str:
    return f"{app_id}-{STATE_TABLE}-changelog"


class AlertStateCodec(codecs.Codec):  # type: ignore[misc]
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj.to_dict())

    def _loads(self, s: bytes) -> Any:
        return AlertState.from_dict(orjson.loads(s))


def register_codec() -> None:
    codecs.register(STATE_CODEC, AlertStateCodec())


class LifecycleStage:
    """Rule messages and actions in, audience/state/rejection messages out.

    ``states`` is the changelog-backed table in the worker (a dict in tests); values are
    immutable :class:`AlertState` and are re-assigned on every change.
    """

    def __init__(
        self,
        topics: AlertTopicNames,
        partitions: int,
        routes: Routes,
        states: MutableMapping[str, AlertState],
        min_update_s: float,
    ) -> None:
        self.topics = topics
        self.partitions = partitions
        self.routes = routes
        self.states = states
        self.min_update_s = min_update_s
        self.last_outcome: Outcome | None = None
        self.last_action: str | None = None
        self.last_rejection: str | None = None
        self.last_routed: list[str] = []

    def rekey(self, value: bytes) -> list[Out]:
        """mda.alerts (key MMSI) → mda.alerts.by-id (key alert_id); control records skipped."""
        msg = orjson.loads(value)
        if "ctl" in msg or "alert_id" not in msg:
            return []
        aid = msg["alert_id"]
        return [
            Out(self.topics.by_id, aid.encode(), value, partition_for_alert(aid, self.partitions))
        ]

    def handle_alert(self, value: bytes) -> list[Out]:
        """A rule message (keyed by alert_id): lifecycle step, then route what is forwarded."""
        self._reset()
        msg = orjson.loads(value)
        aid = msg["alert_id"]
        step = apply_finding(self.states.get(aid), msg, min_update_s=self.min_update_s)
        self.last_outcome = step.outcome
        return self._commit(step.state, step.outgoing)

    def handle_action(self, value: bytes, key: bytes | None, partition: int) -> list[Out]:
        """A watch-officer action: validate, apply, audit; a rejection keeps the raw input."""
        self._reset()
        try:
            action = parse_action(value)
            expected = partition_for_alert(action.alert_id, self.partitions)
            if partition != expected:
                # Produced without our partitioner: send it where the alert's state lives.
                return [Out(self.topics.actions, action.alert_id.encode(), value, expected)]
            step = apply_action(self.states.get(action.alert_id), action)
        except ActionRejected as exc:
            self.last_rejection = exc.reason.value
            record = rejection(
                exc.reason, exc.detail, value, {"key": (key or b"").decode(errors="replace")}
            )
            return [Out(self.topics.rejected_actions, key, orjson.dumps(record), 0)]
        self.last_action = action.action
        self.last_outcome = step.outcome
        return self._commit(step.state, step.outgoing)

    def _reset(self) -> None:
        self.last_outcome = None
        self.last_action = None
        self.last_rejection = None
        self.last_routed = []

    def _commit(self, state: AlertState, outgoing: list[dict[str, Any]]) -> list[Out]:
        aid = state.alert_id
        if self.states.get(aid) == state:
            return []
        self.states[aid] = state
        key = aid.encode()
        p = partition_for_alert(aid, self.partitions)
        outs: list[Out] = []
        for message in outgoing:
            value = orjson.dumps(message)
            for audience in self.routes.audiences_for(message["releasability"]):
                self.last_routed.append(audience)
                outs.append(Out(self.topics.audience(audience), key, value, p))
        outs.append(Out(self.topics.state, key, orjson.dumps(state.to_dict()), p))
        return outs
