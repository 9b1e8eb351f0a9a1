"""Alert lifecycle: open → updates → close, repeats suppressed, actions validated and audited."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mda.alerts import Finding, VesselIdentity, iso_utc, to_message, validate_message
from mda.lifecycle import (
    ActionRejected,
    ActionRejectReason,
    AlertState,
    Step,
    apply_action,
    apply_finding,
    expired,
    expired_ids,
    parse_action,
)
from tests.unit.builders import T0_MS

MIN = 60_000


def alert(status: str = "open", at: int = T0_MS, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "rule": "LOITERING",
        "severity": "medium",
        "status": status,
        "mmsi": 316012345,
        "event_ms": at,
        "opened_ms": T0_MS,
        "lat": 43.6,
        "lon": -78.0,
        "summary": "LAKE SPIRIT is loitering.",
        "evidence": {"loiter_s": (at - T0_MS) / 1000},
    }
    fields.update(overrides)
    return to_message(Finding(**fields), VesselIdentity(name="LAKE SPIRIT"), "BI", ["CAN", "USA"])


def run(messages: list[dict[str, Any]], min_update_s: float = 600) -> list[Step]:
    state: AlertState | None = None
    steps = []
    for m in messages:
        step = apply_finding(state, m, min_update_s=min_update_s)
        state = step.state
        steps.append(step)
    return steps


def act(action: str, at: int | str = T0_MS + MIN, **extra: Any) -> bytes:
    d = {
        "action": action,
        "alert_id": alert()["alert_id"],
        "by": "Lt. Tremblay",
        "at": iso_utc(at) if isinstance(at, int) else at,
        **extra,
    }
    return orjson.dumps(d)


def opened() -> AlertState:
    return apply_finding(None, alert()).state


def test_open_updates_close_with_repeats_suppressed() -> None:
    # An hour of loitering: the rule updates every 5 min; the watch floor sees one per 10 min.
    msgs = [alert()]
    msgs += [alert("update", T0_MS + k * 5 * MIN) for k in range(1, 13)]
    msgs += [alert("closed", T0_MS + 65 * MIN)]
    steps = run(msgs)
    forwarded = [m for s in steps for m in s.outgoing]
    assert [m["status"] for m in forwarded] == ["open"] + ["update"] * 6 + ["closed"]
    assert all(validate_message(m) == [] for m in forwarded)
    final = steps[-1].state
    assert final.status == "closed" and final.closed_by == "rule"
    assert final.suppressed == 6 and final.forwarded == 8
    assert [s.outcome for s in steps[1:3]] == ["suppressed_interval", "forwarded"]


def test_identical_update_is_suppressed_whatever_the_interval() -> None:
    same = alert("update", T0_MS + 60 * MIN, evidence={"loiter_s": 0.0})
    steps = run([alert(evidence={"loiter_s": 0.0}), same])
    assert steps[1].outcome == "suppressed_repeat" and steps[1].outgoing == []


def test_escalation_is_forwarded_at_once() -> None:
    steps = run([alert(), alert("update", T0_MS + MIN, severity="high")])
    assert steps[1].outcome == "forwarded"


def test_duplicate_open_after_a_restart_is_dropped_and_counted() -> None:
    steps = run([alert(), alert(), alert("closed", T0_MS + MIN), alert("closed", T0_MS + MIN)])
    assert [s.outcome for s in steps] == ["forwarded", "duplicate", "forwarded", "duplicate"]
    assert steps[-1].state.duplicates == 2


def test_update_of_an_unknown_alert_is_not_lost() -> None:
    step = apply_finding(None, alert("update", T0_MS + MIN))
    assert step.outcome == "forwarded" and step.state.status == "open"


def test_ack_assign_note_are_applied_and_audited() -> None:
    state = opened()
    state = apply_action(state, parse_action(act("ack"))).state
    state = apply_action(state, parse_action(act("assign", assignee="CCGS Griffon"))).state
    step = apply_action(state, parse_action(act("note", text="hailed on ch 16")))
    state = step.state
    assert step.outgoing == []  # state-only: the §8 message has no field for it
    assert state.acknowledged_by == "Lt. Tremblay"
    assert state.assignee == "CCGS Griffon"
    assert [n.text for n in state.notes] == ["hailed on ch 16"]
    assert [(a.by, a.action) for a in state.audit] == [
        ("rule", "open"),
        ("Lt. Tremblay", "ack"),
        ("Lt. Tremblay", "assign"),
        ("Lt. Tremblay", "note"),
    ]
    assert AlertState.from_dict(orjson.loads(orjson.dumps(state.to_dict()))) == state
    # The wire form written without asdict's deep copy is byte for byte the same.
    assert state.to_json() == orjson.dumps(state.to_dict())
    assert AlertState.from_dict(orjson.loads(state.to_json())) == state


def test_close_and_reopen_send_contract_messages() -> None:
    step = apply_action(opened(), parse_action(act("close", text="false alarm: buoy tender")))
    (closed,) = step.outgoing
    assert validate_message(closed) == []
    assert closed["status"] == "closed" and closed["summary"].startswith("Closed by Lt. Tremblay")
    assert step.state.closed_by == "Lt. Tremblay"
    # The rule keeps updating a closed alert: counted, not forwarded.
    later = apply_finding(step.state, alert("update", T0_MS + 30 * MIN))
    assert later.outcome == "after_close" and later.outgoing == []
    reopened = apply_action(later.state, parse_action(act("reopen", at=T0_MS + 31 * MIN)))
    assert reopened.outgoing[0]["status"] == "update" and reopened.state.status == "open"
    assert validate_message(reopened.outgoing[0]) == []


def test_officer_closed_alert_reopens_on_escalation() -> None:
    closed = apply_action(opened(), parse_action(act("close"))).state
    step = apply_finding(closed, alert("update", T0_MS + 5 * MIN, severity="high"))
    assert step.outcome == "forwarded" and step.state.status == "open"
    assert step.state.audit[-1].detail == "severity escalation"


def test_repeated_action_id_is_applied_once() -> None:
    raw = act("note", text="x", action_id="a-1")
    once = apply_action(opened(), parse_action(raw)).state
    twice = apply_action(once, parse_action(raw))
    assert twice.outcome == "duplicate" and twice.state == once


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", ActionRejectReason.MALFORMED_JSON),
        (b"[1, 2]", ActionRejectReason.NOT_AN_OBJECT),
        (act("delete"), ActionRejectReason.BAD_ACTION),
        (orjson.dumps({"alert_id": "x"}), ActionRejectReason.MISSING_FIELD),
        (act("assign"), ActionRejectReason.MISSING_FIELD),
        (act("note"), ActionRejectReason.MISSING_FIELD),
        (act("ack", by=""), ActionRejectReason.BAD_FIELD),
        (act("ack", alert_id="not-a-uuid"), ActionRejectReason.BAD_FIELD),
        (act("ack", at="2026-06-01T12:00:00+02:00"), ActionRejectReason.BAD_FIELD),
        (act("ack", at="yesterday"), ActionRejectReason.BAD_FIELD),
        (act("ack", colour="red"), ActionRejectReason.BAD_FIELD),
        (act("ack", assignee="x"), ActionRejectReason.BAD_FIELD),
    ],
)
def test_malformed_actions_are_rejected_with_a_reason(
    raw: bytes, reason: ActionRejectReason
) -> None:
    with pytest.raises(ActionRejected) as info:
        parse_action(raw)
    assert info.value.reason == reason


def test_actions_on_unknown_or_wrong_state_are_rejected() -> None:
    with pytest.raises(ActionRejected) as info:
        apply_action(None, parse_action(act("ack")))
    assert info.value.reason == ActionRejectReason.UNKNOWN_ALERT
    with pytest.raises(ActionRejected) as info:
        apply_action(opened(), parse_action(act("reopen")))
    assert info.value.reason == ActionRejectReason.INVALID_STATE
    closed = apply_action(opened(), parse_action(act("close"))).state
    with pytest.raises(ActionRejected) as info:
        apply_action(closed, parse_action(act("ack")))
    assert info.value.reason == ActionRejectReason.INVALID_STATE


# --- retention: closed alerts are forgotten after retention_s of event time ----------------

DAY_S = 24 * 3600
WEEK_S = 7 * DAY_S


def test_closed_alert_expires_after_the_retention_not_before() -> None:
    closed_at = T0_MS + 65 * MIN
    state = run([alert(), alert("closed", closed_at)])[-1].state
    assert state.status == "closed"
    assert not expired(state, closed_at, WEEK_S)
    assert not expired(state, closed_at + WEEK_S * 1000, WEEK_S)  # exactly the retention
    assert expired(state, closed_at + WEEK_S * 1000 + 1, WEEK_S)
    assert expired(state, closed_at + 61_000, 60)  # the retention is a parameter
    # A watermark behind the closing time (another partition's older data) keeps it.
    assert not expired(state, T0_MS, 60)


def test_open_alert_never_expires() -> None:
    state = run([alert(), alert("update", T0_MS + 20 * MIN, severity="high")])[-1].state
    assert not expired(state, T0_MS + 100 * WEEK_S * 1000, WEEK_S)


def test_officer_close_counts_from_the_action_time() -> None:
    at = T0_MS + 10 * MIN
    closed = apply_action(opened(), parse_action(act("close", at=at))).state
    assert closed.closed_by == "Lt. Tremblay"
    assert not expired(closed, at + DAY_S * 1000, DAY_S)
    assert expired(closed, at + DAY_S * 1000 + 1, DAY_S)


def test_alert_reopened_before_expiry_is_kept_and_a_new_close_restarts_the_clock() -> None:
    closed = apply_action(opened(), parse_action(act("close", at=T0_MS + MIN))).state
    # Reopened by the officer half a day later, then by nothing: never expired while open.
    reopened = apply_action(closed, parse_action(act("reopen", at=T0_MS + DAY_S * 500))).state
    assert reopened.status == "open"
    assert not expired(reopened, T0_MS + 10 * WEEK_S * 1000, DAY_S)
    # Closed again by the rule: the retention runs from that close.
    again = apply_finding(reopened, alert("closed", T0_MS + DAY_S * 1000)).state
    assert again.status == "closed"
    assert not expired(again, T0_MS + 2 * DAY_S * 1000, DAY_S)
    assert expired(again, T0_MS + 2 * DAY_S * 1000 + 1, DAY_S)


def test_alert_reopened_by_an_escalation_is_kept() -> None:
    closed = apply_action(opened(), parse_action(act("close", at=T0_MS + MIN))).state
    step = apply_finding(closed, alert("update", T0_MS + 30 * MIN, severity="high"))
    assert step.state.status == "open"
    assert not expired(step.state, T0_MS + 10 * WEEK_S * 1000, DAY_S)


def test_expired_ids_picks_only_old_closed_alerts() -> None:
    def closed_at(at: int, mmsi: int) -> AlertState:
        return run([alert(mmsi=mmsi), alert("closed", at, mmsi=mmsi)])[-1].state

    old = closed_at(T0_MS + MIN, 316000001)
    recent = closed_at(T0_MS + DAY_S * 1000, 316000002)
    still_open = run([alert(mmsi=316000003)])[-1].state
    now = T0_MS + DAY_S * 1000 + 2 * MIN
    assert expired_ids([old, recent, still_open], now, DAY_S) == [old.alert_id]
    # Recovered from its wire form (the changelog), a state expires the same way.
    wire = AlertState.from_dict(orjson.loads(orjson.dumps(old.to_dict())))
    assert expired(wire, now, DAY_S)


def test_the_same_update_received_twice_is_a_duplicate_not_a_second_suppression() -> None:
    """Input is processed at least once (again after a rebalance or a crash): the message
    received last, received again, is counted as a duplicate and changes nothing else."""
    update = alert("update", T0_MS + 2 * MIN)
    steps = run([alert(), update, update])
    assert [s.outcome for s in steps] == ["forwarded", "suppressed_interval", "duplicate"]
    assert steps[-1].state.suppressed == 1 and steps[-1].state.duplicates == 1
    assert steps[-1].outgoing == []
