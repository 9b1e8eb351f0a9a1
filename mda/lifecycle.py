"""The alert lifecycle: rule messages and watch-officer actions applied to one alert's state.

Two pure step functions, ``(state, input) -> Step(state, outgoing, outcome)``:

- :func:`apply_finding` takes an ``mda.alert/1`` message from a rule. ``open`` starts the
  alert; a second ``open`` of the same id is a duplicate (a replay after a worker restart) and
  is dropped; ``update`` is forwarded only when it says something new — a severity escalation
  always, otherwise only when it differs in substance from the last forwarded message *and* at
  least ``min_update_s`` of event time has passed; ``closed`` closes. What is not forwarded is
  counted in the state (``suppressed``, ``duplicates``).
- :func:`apply_action` takes a validated watch-officer :class:`Action` (ack, assign, note,
  close, reopen): applied, audited (who, when, what); close and reopen also produce an
  outgoing ``mda.alert/1`` message so every audience sees the alert leave (or re-enter) the
  open list. Invalid actions raise :class:`ActionRejected` with a closed reason.

Outgoing messages keep the §8 contract exactly (no extra fields): acknowledgement, assignee,
notes and the audit trail live in :class:`AlertState`, published on its own topic.

Retention: :func:`expired` says when a closed alert's state may be forgotten — once it has
been closed for more than ``retention_s`` of event time (the newest rule event time the
lifecycle has seen, never the wall clock). An open alert, including one reopened before that,
is never expired.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import orjson

from mda.alerts import SEVERITIES

STATE_SCHEMA = "mda.alert-state/1"
ACTION_SCHEMA = "mda.alert-action/1"
REJECTION_SCHEMA = "mda.alert-action-rejection/1"

#: Default minimum event time between two forwarded updates of one alert.
DEFAULT_MIN_UPDATE_S = 600.0
#: Default event time a closed alert's state is kept before it is forgotten (7 days).
DEFAULT_RETENTION_S = 7 * 24 * 3600.0

ActionName = Literal["ack", "assign", "note", "close", "reopen"]
ACTIONS: tuple[ActionName, ...] = ("ack", "assign", "note", "close", "reopen")
LifecycleStatus = Literal["open", "closed"]
Outcome = Literal[
    "forwarded",  # sent to the audiences
    "suppressed_repeat",  # an update identical in substance to the last forwarded message
    "suppressed_interval",  # an update within the minimum interval of the last one
    "duplicate",  # an open (or close) already applied, or an action id already applied
    "after_close",  # a rule message for an alert a watch officer closed
    "applied",  # an action that changed the state only (ack, assign, note)
]

#: Fields that change with every report without changing what the alert says (an update
#: repeating its open is no news either).
_VOLATILE = frozenset({"status", "event_time", "lat", "lon", "h3_cell", "summary"})
_MAX_BY_CHARS = 64
_MAX_TEXT_CHARS = 2000
_MAX_ID_CHARS = 64


class ActionRejectReason(enum.StrEnum):
    """Closed set of reasons an action is rejected (the ``reason`` metric label)."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    BAD_ACTION = "bad_action"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"
    UNKNOWN_ALERT = "unknown_alert"
    INVALID_STATE = "invalid_state"


class ActionRejected(Exception):
    """A watch-officer action that cannot be applied; ``reason`` is a closed label.

    Not an :class:`mda.errors.MdaError`: those carry AIS input reject reasons and are counted
    in ``mda_messages_rejected_total``; action rejections have their own reasons and metric.
    """

    def __init__(self, reason: ActionRejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Action:
    """A validated watch-officer action (wire form: ``mda.alert-action/1``)."""

    action: ActionName
    alert_id: str
    by: str
    at: str  # ISO-8601 UTC, as sent
    at_ms: int
    assignee: str | None = None
    text: str | None = None
    action_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": ACTION_SCHEMA,
            "action": self.action,
            "alert_id": self.alert_id,
            "by": self.by,
            "at": self.at,
        }
        for k in ("assignee", "text", "action_id"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when: a watch officer's action, or the rule opening/closing the alert."""

    at: str
    by: str
    action: str
    detail: str = ""
    action_id: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    at: str
    by: str
    text: str


@dataclass(frozen=True, slots=True)
class AlertState:
    """Everything known about one alert. Immutable: every change is a new value.

    ``message`` is the last ``mda.alert/1`` message forwarded to the audiences and ``latest``
    the last one received from the rule (it may have been suppressed); both are treated as
    read-only.
    """

    alert_id: str
    message: dict[str, Any]
    latest: dict[str, Any]
    status: LifecycleStatus
    opened_at: str
    last_forwarded_ms: int
    closed_at: str | None = None
    closed_by: str | None = None  # "rule" or the watch officer
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    assignee: str | None = None
    notes: tuple[Note, ...] = ()
    audit: tuple[AuditEntry, ...] = ()
    forwarded: int = 0
    suppressed: int = 0
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["notes"] = [dataclasses.asdict(n) for n in self.notes]
        d["audit"] = [dataclasses.asdict(a) for a in self.audit]
        return {"schema": STATE_SCHEMA, **d}

    def to_json(self) -> bytes:
        """``orjson.dumps(self.to_dict())`` without the deep copy: orjson writes the notes and
        the audit (dataclasses) and the latest message as they are. Twice per alert (state
        topic, changelog)."""
        fields = {f: getattr(self, f) for f in _STATE_FIELDS}
        return orjson.dumps({"schema": STATE_SCHEMA, **fields})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertState:
        fields = {k: v for k, v in d.items() if k != "schema"}
        fields["notes"] = tuple(Note(**n) for n in fields.get("notes", ()))
        fields["audit"] = tuple(AuditEntry(**a) for a in fields.get("audit", ()))
        return cls(**fields)

    def applied(self, action_id: str | None) -> bool:
        return action_id is not None and any(a.action_id == action_id for a in self.audit)


class Step(NamedTuple):
    """The result of one step: the new state, the messages to forward, and what happened."""

    state: AlertState
    outgoing: list[dict[str, Any]]
    outcome: Outcome


def iso_to_ms(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 UTC time; ValueError when not ISO or not UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.utcoffset() is None or parsed.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"{text!r} is not UTC")
    return int(parsed.timestamp() * 1000)


def _rank(severity: Any) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def _substance(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in _VOLATILE}


def apply_finding(
    state: AlertState | None,
    message: dict[str, Any],
    *,
    min_update_s: float = DEFAULT_MIN_UPDATE_S,
) -> Step:
    """Apply one rule message (a valid ``mda.alert/1`` object) to the alert's state."""
    status = message["status"]
    event_ms = iso_to_ms(message["event_time"])
    at = message["event_time"]
    if state is None:
        # An update or close of an alert never seen open (the lifecycle started late, or the
        # open was lost upstream) still reaches the watch floor: nothing is dropped silently.
        new = AlertState(
            alert_id=message["alert_id"],
            message=message,
            latest=message,
            status="closed" if status == "closed" else "open",
            opened_at=at,
            last_forwarded_ms=event_ms,
            closed_at=at if status == "closed" else None,
            closed_by="rule" if status == "closed" else None,
            audit=(AuditEntry(at, "rule", status, message["summary"]),),
            forwarded=1,
        )
        return Step(new, [message], "forwarded")
    if message == state.latest:
        # The very message received last, again: a redelivery (input is processed at least
        # once, e.g. again after a rebalance), not a new word from the rule.
        return Step(dataclasses.replace(state, duplicates=state.duplicates + 1), [], "duplicate")
    seen = dataclasses.replace(state, latest=message)
    if status == "open":
        return Step(dataclasses.replace(seen, duplicates=state.duplicates + 1), [], "duplicate")
    escalation = _rank(message["severity"]) > _rank(state.message["severity"])
    if state.status == "closed":
        if state.closed_by != "rule" and status == "update" and escalation:
            # A watch officer closed it, and the rule now says it got worse: reopen.
            reopened = dataclasses.replace(
                seen,
                status="open",
                closed_at=None,
                closed_by=None,
                audit=(*state.audit, AuditEntry(at, "rule", "reopen", "severity escalation")),
            )
            return _forward(reopened, message, event_ms)
        outcome: Outcome = "duplicate" if state.closed_by == "rule" else "after_close"
        return Step(dataclasses.replace(seen, duplicates=state.duplicates + 1), [], outcome)
    if status == "closed":
        closed = dataclasses.replace(
            seen,
            status="closed",
            closed_at=at,
            closed_by="rule",
            audit=(*state.audit, AuditEntry(at, "rule", "closed", message["summary"])),
        )
        return _forward(closed, message, event_ms)
    if not escalation:
        if _substance(message) == _substance(state.message):
            return Step(
                dataclasses.replace(seen, suppressed=state.suppressed + 1), [], "suppressed_repeat"
            )
        if event_ms - state.last_forwarded_ms < min_update_s * 1000:
            return Step(
                dataclasses.replace(seen, suppressed=state.suppressed + 1),
                [],
                "suppressed_interval",
            )
    return _forward(seen, message, event_ms)


def _forward(state: AlertState, message: dict[str, Any], event_ms: int) -> Step:
    new = dataclasses.replace(
        state,
        message=message,
        last_forwarded_ms=max(event_ms, state.last_forwarded_ms),
        forwarded=state.forwarded + 1,
    )
    return Step(new, [message], "forwarded")


def closed_ms(state: AlertState) -> int | None:
    """Epoch ms at which a closed alert was closed (None when open or the time is unreadable)."""
    if state.status != "closed" or state.closed_at is None:
        return None
    try:
        return iso_to_ms(state.closed_at)
    except ValueError:
        return None


def expired(state: AlertState, now_ms: int, retention_s: float) -> bool:
    """True when ``state`` has been closed for more than ``retention_s`` at event time ``now_ms``.

    ``now_ms`` is the lifecycle's event-time watermark. An open alert (a reopened one too) is
    never expired; a closed one whose closing time cannot be read is kept.
    """
    closed = closed_ms(state)
    return closed is not None and now_ms - closed > retention_s * 1000


def expired_ids(states: Iterable[AlertState], now_ms: int, retention_s: float) -> list[str]:
    """The alert ids among ``states`` that :func:`expired` says may be forgotten."""
    return [s.alert_id for s in states if expired(s, now_ms, retention_s)]


def _text_field(d: dict[str, Any], key: str, limit: int, required: bool) -> str | None:
    value = d.get(key)
    if value is None:
        if required:
            raise ActionRejected(ActionRejectReason.MISSING_FIELD, f"{key} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ActionRejected(ActionRejectReason.BAD_FIELD, f"{key} must be a non-empty string")
    if len(value) > limit:
        raise ActionRejected(ActionRejectReason.BAD_FIELD, f"{key} longer than {limit} chars")
    return value.strip()


_ACTION_KEYS = frozenset(
    {"schema", "action", "alert_id", "by", "at", "assignee", "text", "action_id"}
)


def parse_action(raw: bytes | str) -> Action:
    """Validate a wire action strictly; raises :class:`ActionRejected` with the reason."""
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ActionRejected(ActionRejectReason.MALFORMED_JSON, str(exc)) from None
    if not isinstance(d, dict):
        raise ActionRejected(ActionRejectReason.NOT_AN_OBJECT, f"got {type(d).__name__}")
    return action_from_dict(d)


def action_from_dict(d: dict[str, Any]) -> Action:
    """Validate an action object (see :func:`parse_action`)."""
    unexpected = sorted(set(d) - _ACTION_KEYS)
    if unexpected:
        raise ActionRejected(ActionRejectReason.BAD_FIELD, f"unexpected {', '.join(unexpected)}")
    if "schema" in d and d["schema"] != ACTION_SCHEMA:
        raise ActionRejected(ActionRejectReason.BAD_FIELD, f"schema is not {ACTION_SCHEMA}")
    if "action" not in d:
        raise ActionRejected(ActionRejectReason.MISSING_FIELD, "action is required")
    name = d["action"]
    if name not in ACTIONS:
        raise ActionRejected(
            ActionRejectReason.BAD_ACTION, f"{name!r} is not one of {', '.join(ACTIONS)}"
        )
    alert = _text_field(d, "alert_id", _MAX_ID_CHARS, True)
    assert alert is not None
    try:
        uuid.UUID(alert)
    except ValueError:
        raise ActionRejected(ActionRejectReason.BAD_FIELD, "alert_id is not a UUID") from None
    by = _text_field(d, "by", _MAX_BY_CHARS, True)
    at = _text_field(d, "at", 40, True)
    assert by is not None and at is not None
    try:
        at_ms = iso_to_ms(at)
    except ValueError:
        raise ActionRejected(ActionRejectReason.BAD_FIELD, "at must be ISO-8601 UTC") from None
    assignee = _text_field(d, "assignee", _MAX_BY_CHARS, name == "assign")
    text = _text_field(d, "text", _MAX_TEXT_CHARS, name == "note")
    action_id = _text_field(d, "action_id", _MAX_ID_CHARS, False)
    if assignee is not None and name != "assign":
        raise ActionRejected(ActionRejectReason.BAD_FIELD, "assignee only goes with assign")
    return Action(name, alert, by, at, at_ms, assignee, text, action_id)


def apply_action(state: AlertState | None, action: Action) -> Step:
    """Apply a validated action; raises :class:`ActionRejected` (unknown alert, bad state)."""
    if state is None:
        raise ActionRejected(ActionRejectReason.UNKNOWN_ALERT, f"no alert {action.alert_id}")
    if state.applied(action.action_id):
        return Step(state, [], "duplicate")  # the same action delivered twice (a restart)
    name = action.action
    if name in ("ack", "assign", "close") and state.status == "closed":
        raise ActionRejected(ActionRejectReason.INVALID_STATE, f"cannot {name} a closed alert")
    if name == "reopen" and state.status == "open":
        raise ActionRejected(ActionRejectReason.INVALID_STATE, "the alert is open")
    detail = action.assignee if name == "assign" else (action.text or "")
    audited = dataclasses.replace(
        state,
        audit=(
            *state.audit,
            AuditEntry(action.at, action.by, name, detail or "", action.action_id),
        ),
    )
    if name == "ack":
        new = dataclasses.replace(audited, acknowledged_by=action.by, acknowledged_at=action.at)
        return Step(new, [], "applied")
    if name == "assign":
        return Step(dataclasses.replace(audited, assignee=action.assignee), [], "applied")
    if name == "note":
        assert action.text is not None
        note = Note(action.at, action.by, action.text)
        return Step(dataclasses.replace(audited, notes=(*state.notes, note)), [], "applied")
    verb = "Closed" if name == "close" else "Reopened"
    summary = f"{verb} by {action.by}" + (f": {action.text}" if action.text else ".")
    message = {
        **state.message,
        "status": "closed" if name == "close" else "update",
        "event_time": action.at,
        "summary": summary,
    }
    if name == "close":
        new = dataclasses.replace(
            audited, status="closed", closed_at=action.at, closed_by=action.by
        )
    else:
        new = dataclasses.replace(audited, status="open", closed_at=None, closed_by=None)
    return _forward(new, message, action.at_ms)


def rejection(
    reason: ActionRejectReason, detail: str, raw: bytes, source: dict[str, Any]
) -> dict[str, Any]:
    """The record forwarded to ``mda.alert-actions.rejected``: the raw input, kept whole."""
    return {
        "schema": REJECTION_SCHEMA,
        "reason": reason.value,
        "detail": detail,
        "raw": raw.decode("utf-8", errors="replace"),
        "source": source,
    }


_STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AlertState))
