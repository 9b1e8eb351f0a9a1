"""The watch-floor board (mda/board.py) and the page's action builder (streams/watch.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from mda import board as board_mod
from mda.alerts import Finding, VesselIdentity, iso_utc, to_message
from mda.board import AlertBoard, evidence_points, message_points, overlays_geojson, sort_key
from mda.geo import Geography
from mda.lifecycle import ActionRejected, AlertState, apply_action, apply_finding, parse_action

T0 = 1_780_315_200_000


def message(status: str, at_ms: int, **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "rule": "POSITION_JUMP",
        "severity": "medium",
        "status": status,
        "mmsi": 366123456,
        "event_ms": at_ms,
        "opened_ms": T0,
        "lat": 43.3,
        "lon": -76.9,
        "summary": "GREAT HERON jumped.",
        "evidence": {
            "from": {"lat": 43.3, "lon": -77.6, "time_ms": at_ms - 60_000},
            "to": {"lat": 43.3, "lon": -76.9, "time_ms": at_ms},
        },
        **kw,
    }
    return to_message(Finding(**fields), VesselIdentity(name="GREAT HERON"), "US", ["USA"])


def state_of(msg: dict[str, Any]) -> AlertState:
    return apply_finding(None, msg).state


def test_evidence_points_finds_every_quoted_position() -> None:
    evidence = {
        "last_position": {"lat": 43.0, "lon": -78.0, "time_ms": T0},
        "vessel": {"lat": 43.1, "lon": -78.1, "mmsi": 1},
        "other": {"lat": 43.2, "lon": -78.2, "mmsi": 2, "at": "2026-06-01T12:00:00Z"},
        "list": [{"lat": 1.0, "lon": 2.0}, 5, "x"],
        "bad": {"lat": 95.0, "lon": 0.0},  # impossible latitude: not a point
        "flag": {"lat": True, "lon": 1.0},  # booleans are not coordinates
        "distance_m": 12.5,
    }
    pts = list(evidence_points(evidence, default_ms=T0 + 5))
    by_label = {p.label: p for p in pts}
    assert set(by_label) == {
        "evidence.last_position",
        "evidence.vessel",
        "evidence.other",
        "evidence.list[0]",
    }
    assert by_label["evidence.last_position"].time_ms == T0
    assert by_label["evidence.vessel"].time_ms == T0 + 5  # no time: the message's
    assert by_label["evidence.vessel"].mmsi == 1
    assert by_label["evidence.other"].time_ms == 1_780_315_200_000  # from the ISO "at"


def test_message_points_include_the_alert_position_labelled_by_status() -> None:
    pts = message_points(message("open", T0))
    assert [(p.label, p.lon) for p in pts] == [
        ("open", -76.9),
        ("evidence.from", -77.6),
        ("evidence.to", -76.9),
    ]
    assert message_points({"event_time": "not a time", "lat": 1, "lon": 2}) == []


def test_board_state_then_tombstone() -> None:
    b = AlertBoard()
    s = state_of(message("open", T0))
    change = b.apply_state(s.alert_id, s.to_dict())
    assert change is not None and change.kind == "alert"
    assert change.entry is not None and change.entry["rule"] == "POSITION_JUMP"
    assert b.counts() == {"open": 1, "unacknowledged": 1, "closed": 0}
    detail = b.detail(s.alert_id)
    assert detail is not None
    assert [p["label"] for p in detail["track"]] == ["evidence.from", "evidence.to", "open"]
    removed = b.apply_state(s.alert_id, None)
    assert removed is not None and removed.kind == "removed"
    assert b.detail(s.alert_id) is None and len(b) == 0
    assert b.apply_state(s.alert_id, None) is None  # a second tombstone changes nothing


def test_board_rejects_state_records_that_are_not_states() -> None:
    b = AlertBoard()
    assert b.apply_state("x", {"alert_id": "x"}) is None  # no message
    s = state_of(message("open", T0)).to_dict()
    assert b.apply_state("another-id", s) is None  # key and alert_id disagree
    assert b.ignored == 2 and len(b) == 0
    assert b.apply_message({"ctl": "eof"}) is None and b.ignored == 3


def test_track_collects_messages_before_and_after_the_state_without_duplicates() -> None:
    b = AlertBoard()
    opened = message("open", T0)
    update = message("update", T0 + 600_000, lat=43.31)
    # The rule messages may arrive before the lifecycle's state (two topics).
    assert b.apply_message(opened) == opened["alert_id"]
    b.apply_message(opened)  # a repeat adds nothing
    s = apply_finding(None, opened).state
    b.apply_state(s.alert_id, s.to_dict())
    b.apply_message(update)
    detail = b.detail(s.alert_id)
    assert detail is not None
    times = [p["time_ms"] for p in detail["track"]]
    assert times == sorted(times)
    assert len(detail["track"]) == 6  # (open, from, to) x 2 messages


def test_track_is_bounded_and_keeps_its_first_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(board_mod, "MAX_TRACK_POINTS", 10)
    b = AlertBoard()
    first = message("open", T0)
    b.apply_message(first)
    for k in range(1, 50):
        b.apply_message(message("update", T0 + k * 60_000, lat=43.3 + k / 1000))
    s = state_of(first)
    b.apply_state(s.alert_id, s.to_dict())
    detail = b.detail(s.alert_id)
    assert detail is not None
    track = detail["track"]
    assert len(track) == 10
    assert track[0]["time_ms"] == T0 - 60_000  # the first point (evidence.from of the open)
    assert track[-1]["time_ms"] == T0 + 49 * 60_000


def test_orphan_tracks_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(board_mod, "MAX_ORPHAN_TRACKS", 5)
    b = AlertBoard()
    ids = [b.apply_message(message("open", T0 + k * 1000, mmsi=366000000 + k)) for k in range(8)]
    assert len(b._tracks) == 5
    assert ids[0] not in b._tracks and ids[-1] in b._tracks


def test_rows_order_open_unacknowledged_severity_newest() -> None:
    b = AlertBoard()
    low = state_of(message("open", T0, severity="low", mmsi=366000001))
    high_old = state_of(message("open", T0, severity="high", mmsi=366000002))
    high_new = state_of(message("open", T0 + 1000, severity="high", mmsi=366000003))
    closed = state_of(message("closed", T0 + 5000, severity="critical", mmsi=366000004))
    acked = state_of(message("open", T0, severity="critical", mmsi=366000005))
    ack = parse_action(
        b'{"action":"ack","alert_id":"%s","by":"OOW","at":"2026-06-01T12:00:00Z"}'
        % acked.alert_id.encode()
    )
    acked = apply_action(acked, ack).state
    for s in (low, high_old, high_new, closed, acked):
        b.apply_state(s.alert_id, s.to_dict())
    order = [r["alert_id"] for r in b.rows()]
    assert order == [
        high_new.alert_id,
        high_old.alert_id,
        low.alert_id,
        acked.alert_id,
        closed.alert_id,
    ]
    assert closed.alert_id not in [r["alert_id"] for r in b.rows(include_closed=False)]
    assert b.counts() == {"open": 4, "unacknowledged": 3, "closed": 1}
    assert sort_key({"event_time": "garbage", "alert_id": "z"})[3] == 0


def test_overlays_have_every_zone_and_the_boundary() -> None:
    geo = Geography.load()
    doc = overlays_geojson(geo)
    zones = [f for f in doc["features"] if f["properties"]["layer"] == "zone"]
    lines = [f for f in doc["features"] if f["properties"]["layer"] == "boundary"]
    assert {f["id"] for f in zones} == {z.zone_id for z in geo.zones}
    assert len(lines) == len(geo.boundary_lines) > 0
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in zones)


def test_page_action_is_validated_and_completed() -> None:
    from streams.watch import build_page_action

    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    a1 = "ab27858b-8813-53a0-8507-3c278b539e08"
    d = build_page_action(a1, {"action": "note", "by": "OOW", "text": "called VTS"}, now)
    assert d["alert_id"] == a1 and d["at"] == iso_utc(1_780_315_200_000)
    assert d["schema"] == "mda.alert-action/1" and len(d["action_id"]) == 36
    with pytest.raises(ValueError, match="unexpected"):
        build_page_action(a1, {"action": "ack", "by": "x", "alert_id": "other"}, now)
    with pytest.raises(ValueError, match="object"):
        build_page_action(a1, ["ack"], now)
    with pytest.raises(ActionRejected) as e:
        build_page_action(a1, {"action": "ack"}, now)
    assert e.value.reason.value == "missing_field"
    with pytest.raises(ActionRejected) as e:
        build_page_action(a1, {"action": "assign", "by": "x"}, now)
    assert e.value.reason.value in ("missing_field", "bad_field")
    with pytest.raises(ActionRejected) as e:
        build_page_action("not-a-uuid", {"action": "ack", "by": "x"}, now)
    assert e.value.reason.value == "bad_field"


def test_feed_handles_every_record_of_its_topics() -> None:
    from streams.watch import AlertFeed, alert_names, names

    feed = AlertFeed()
    page = feed.subscribe()
    s = state_of(message("open", T0))
    key = s.alert_id.encode()
    feed.handle(alert_names.state, key, orjson.dumps(s.to_dict()))
    feed.handle(names.alerts, b"366123456", orjson.dumps(message("update", T0 + 60_000)))
    feed.handle(names.alerts, b"ctl", b'{"ctl":"eof"}')  # a control record: ignored
    feed.handle(names.alerts, b"x", b"not json")
    feed.handle(alert_names.state, key, b"[1, 2]")  # not an object
    feed.handle(alert_names.state, None, b"{}")  # no key: skipped, not counted
    rejected = {"reason": "bad_action", "detail": "d", "raw": '{"action_id": "a1"}'}
    feed.handle(alert_names.rejected_actions, None, orjson.dumps(rejected))
    feed.handle(alert_names.state, key, None)  # tombstone
    assert feed.board.ignored == 3
    events: list[Any] = []
    while not page.empty():
        events.append(page.get_nowait())
    assert [e[0] for e in events if e is not None] == ["alert", "track", "rejected", "removed"]
    assert events[2][1] == {"action_id": "a1", "reason": "bad_action", "detail": "d"}
    assert len(feed.board) == 0
    feed.close_all()
    assert page.get_nowait() is None


def test_counts_follow_states_replaced_and_removed() -> None:
    """The header's counts are kept as states change; they equal a count over the states
    after every record of a random sequence (replacements, tombstones, ignored records)."""
    rng = random.Random(5)
    states = []
    for i in range(12):
        s = state_of(message("open", T0 + i, mmsi=366000100 + i))
        if i % 3 == 0:
            ack = parse_action(
                b'{"action":"ack","alert_id":"%s","by":"OOW","at":"2026-06-01T12:00:00Z"}'
                % s.alert_id.encode()
            )
            s = apply_action(s, ack).state
        states.append(s.to_dict())
    b = AlertBoard()
    for _ in range(400):
        d = dict(rng.choice(states))
        roll = rng.random()
        if roll < 0.2:
            b.apply_state(d["alert_id"], None)
        elif roll < 0.25:
            b.apply_state(d["alert_id"], {"alert_id": d["alert_id"]})  # ignored: no message
        else:
            d["status"] = rng.choice(["open", "closed"])
            b.apply_state(d["alert_id"], d)
        open_ = [s for s in b.states.values() if s["status"] == "open"]
        assert b.counts() == {
            "open": len(open_),
            "unacknowledged": sum(1 for s in open_ if s.get("acknowledged_by") is None),
            "closed": len(b.states) - len(open_),
        }
