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

Retention (:meth:`LifecycleStage.expire`): an alert closed for more than ``retention_s`` of
event time is deleted from the table (a tombstone on its changelog) and a tombstone is sent on
the compacted ``mda.alert-state``, so both stay bounded. Event time is the newest rule
``event_time`` the stage has seen (actions carry an officer's clock and do not move it). A
Faust table writes a key's changelog record to the partition of the event being processed, so
each sweep only deletes the alerts of that event's partition (``partition_for_alert``): the
ones this worker owns. A partition is swept on its first event and then whenever the watermark
has moved on by a tenth of the retention (at most an hour), so an alert goes between
``retention_s`` and ``retention_s`` + that interval after its close, once its partition sees
traffic. A rule message or action for a forgotten alert is treated as for an unknown one.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
from faust.serializers import codecs

from mda.alerts import validate_message
from mda.errors import DecodeError, RejectReason
from mda.lifecycle import (
    DEFAULT_RETENTION_S,
    ActionRejected,
    AlertState,
    Outcome,
    apply_action,
    apply_finding,
    expired_ids,
    iso_to_ms,
    parse_action,
    rejection,
)
from mda.routing import Routes
from streams.alert_topics import AlertTopicNames, partition_for_alert
from streams.pipeline import Out, read_object

STATE_CODEC = "mda_alert_state"
#: The table's name; its changelog is ``<app id>-alert_state-changelog`` (sealed at start).
STATE_TABLE = "alert_state"


#: Longest event time between two retention sweeps of one partition.
MAX_SWEEP_INTERVAL_MS = 3_600_000


@dataclass(frozen=True)
class Tombstone:
    """A null value for ``key`` on a compacted topic: compaction then drops the key."""

    topic: str
    key: bytes
    partition: int


def changelog_topic(app_id: str) -> str:
    return f"{app_id}-{STATE_TABLE}-changelog"


class AlertStateCodec(codecs.Codec):  # type: ignore[misc]
    def _dumps(self, obj: Any) -> bytes:
        return obj.to_json()

    def _loads(self, s: bytes) -> Any:
        return AlertState.from_dict(orjson.loads(s))


def register_codec() -> None:
    codecs.register(STATE_CODEC, AlertStateCodec())


def _check_alert(msg: dict[str, Any]) -> None:
    problems = validate_message(msg)
    if problems:
        detail = "not an mda.alert/1 message: " + "; ".join(problems[:3])
        raise DecodeError(RejectReason.BAD_MESSAGE, detail)


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
        retention_s: float = DEFAULT_RETENTION_S,
    ) -> None:
        self.topics = topics
        self.partitions = partitions
        self.routes = routes
        self.states = states
        self.min_update_s = min_update_s
        self.retention_s = retention_s
        self.sweep_interval_ms = max(1, min(MAX_SWEEP_INTERVAL_MS, int(retention_s * 1000 / 10)))
        #: Newest rule event time seen (epoch ms); 0 until the first rule message.
        self.watermark_ms = 0
        #: Partition → watermark at its last retention sweep.
        self.swept_ms: dict[int, int] = {}
        self.last_outcome: Outcome | None = None
        self.last_action: str | None = None
        self.last_rejection: str | None = None
        self.last_routed: list[str] = []
        self.last_expired = 0

    def rekey(self, value: bytes) -> list[Out]:
        """mda.alerts (key MMSI) → mda.alerts.by-id (key alert_id); control records skipped.

        Anything else that is not an ``mda.alert/1`` message (another program writing to
        the topic) raises a ``BAD_MESSAGE`` :class:`~mda.errors.DecodeError`, before it can
        reach an alert's state; the agent counts it and puts it on ``ais.rejected``.
        """
        msg = read_object(value)
        if "ctl" in msg:
            return []
        _check_alert(msg)
        aid = msg["alert_id"]
        return [
            Out(self.topics.by_id, aid.encode(), value, partition_for_alert(aid, self.partitions))
        ]

    def handle_alert(self, value: bytes) -> list[Out]:
        """A rule message (keyed by alert_id): lifecycle step, then route what is forwarded.

        One that is not an ``mda.alert/1`` message (another program writing to
        ``mda.alerts.by-id``) raises a ``BAD_MESSAGE`` :class:`~mda.errors.DecodeError` before
        it reaches an alert's state, as in :meth:`rekey`."""
        self._reset()
        msg = read_object(value)
        _check_alert(msg)
        aid = msg["alert_id"]
        step = apply_finding(self.states.get(aid), msg, min_update_s=self.min_update_s)
        self.last_outcome = step.outcome
        self.watermark_ms = max(self.watermark_ms, iso_to_ms(msg["event_time"]))
        return self._commit(step.state, step.outgoing)

    def expire(self, partition: int) -> list[Tombstone]:
        """Forget the alerts of ``partition`` closed for longer than the retention.

        Call it while processing an event of ``partition`` (in the worker, the table's
        changelog tombstones go to that event's partition). Returns the tombstones to send on
        ``mda.alert-state``; :attr:`last_expired` counts them.
        """
        self.last_expired = 0
        swept = self.swept_ms.get(partition)
        if swept is not None and self.watermark_ms - swept < self.sweep_interval_ms:
            return []
        self.swept_ms[partition] = self.watermark_ms
        mine = (
            state
            for aid, state in self.states.items()
            if partition_for_alert(aid, self.partitions) == partition
        )
        gone = expired_ids(mine, self.watermark_ms, self.retention_s)
        for aid in gone:
            del self.states[aid]
        self.last_expired = len(gone)
        return [Tombstone(self.topics.state, aid.encode(), partition) for aid in gone]

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
        outs.append(Out(self.topics.state, key, state.to_json(), p))
        return outs
