"""The alert message contract (DESIGN.md §8): stable ids, field set, validation."""

from __future__ import annotations

from mda.alerts import Finding, VesselIdentity, alert_id, iso_utc, to_message, validate_message


def make_finding(**overrides: object) -> Finding:
    base: dict[str, object] = {
        "rule": "POSITION_JUMP",
        "severity": "medium",
        "status": "open",
        "mmsi": 316012345,
        "event_ms": 1_780_315_200_000,
        "opened_ms": 1_780_315_200_000,
        "lat": 43.6,
        "lon": -78.0,
        "summary": "test",
    }
    base.update(overrides)
    return Finding(**base)  # type: ignore[arg-type]


def test_alert_id_is_stable_and_depends_on_rule_vessel_and_opening() -> None:
    a = alert_id("POSITION_JUMP", 316012345, None, 1000)
    assert a == alert_id("POSITION_JUMP", 316012345, None, 1000)
    assert a != alert_id("POSITION_JUMP", 316012345, None, 1001)
    assert a != alert_id("BORDER_CROSSING", 316012345, None, 1000)
    assert a != alert_id("POSITION_JUMP", 316012346, None, 1000)


def test_encounter_id_does_not_depend_on_pair_order() -> None:
    assert alert_id("ENCOUNTER", 1, 2, 5) == alert_id("ENCOUNTER", 2, 1, 5)


def test_update_and_close_share_the_opening_id() -> None:
    opened = make_finding()
    closed = make_finding(status="closed", event_ms=opened.event_ms + 60_000)
    assert opened.alert_id == closed.alert_id


def test_message_has_exactly_the_contract_fields() -> None:
    msg = to_message(make_finding(), VesselIdentity(9234567, "LAKE SPIRIT", "CA"), "BI", ["CAN"])
    assert validate_message(msg) == []
    assert msg["schema"] == "mda.alert/1"
    assert msg["event_time"] == "2026-06-01T12:00:00.000Z"
    assert msg["h3_cell"] is not None and len(msg["h3_cell"]) == 15
    assert msg["other_mmsi"] is None


def test_validation_catches_contract_violations() -> None:
    msg = to_message(make_finding(), VesselIdentity(), "BI", ["CAN", "USA"])
    assert validate_message({**msg, "status": "opened"}) == ["bad status"]
    assert validate_message({**msg, "jurisdiction": "XX"}) == ["bad jurisdiction"]
    assert "missing summary" in validate_message({k: v for k, v in msg.items() if k != "summary"})
    assert validate_message({**msg, "other_mmsi": 5}) == [
        "other_mmsi must be null outside ENCOUNTER"
    ]


def test_iso_utc_has_millis_and_z() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(1_152_921_693_123) == "2006-07-15T00:01:33.123Z"
