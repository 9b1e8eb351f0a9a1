"""``mda alerts`` command-line parsing, filters and formatting (no broker)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mda.lifecycle import ActionRejected
from streams.alerts_cli import Filters, build_action, format_row
from streams.cli import build_parser
from tests.unit.test_lifecycle import alert

AID = alert()["alert_id"]


def test_tail_arguments() -> None:
    args = build_parser().parse_args(
        ["alerts", "tail", "--rule", "loitering,AIS_GAP", "--severity", "medium", "--json"]
    )
    assert args.rule == frozenset({"LOITERING", "AIS_GAP"}) and args.severity == "medium"
    assert args.json and not args.from_beginning and args.audience is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["alerts", "tail", "--rule", "NOPE"])


def test_action_arguments_build_a_valid_action() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    args = build_parser().parse_args(["alerts", "assign", AID, "--by", "cdr", "--assignee", "x"])
    action = build_action(args, now)
    assert (action.action, action.by, action.assignee) == ("assign", "cdr", "x")
    assert action.at == "2026-06-01T12:00:00.000Z" and action.action_id
    with pytest.raises(SystemExit):  # assign needs --assignee, note needs --text
        build_parser().parse_args(["alerts", "note", AID])
    with pytest.raises(ActionRejected):
        build_action(build_parser().parse_args(["alerts", "ack", "not-an-id"]), now)


def test_filters() -> None:
    a = alert()  # LOITERING, medium, BI, mmsi 316012345
    assert Filters().match(a)
    assert Filters(rules=frozenset({"LOITERING"}), severity="low", mmsi=316012345).match(a)
    assert not Filters(severity="high").match(a)
    assert not Filters(jurisdiction="US").match(a)
    assert not Filters(zone="Z1").match(a)


def test_row_is_coloured_only_when_asked() -> None:
    assert "\033[" not in format_row(alert(), colour=False)
    assert "\033[33mmedium" in format_row(alert(), colour=True)
    assert "LAKE SPIRIT" in format_row(alert(), colour=False)
