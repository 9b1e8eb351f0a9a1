"""A row of an internal-topic batch (``ais.reports``, ``mda.presence``) that is not one of ours
is skipped before it touches any state, counted (``last_bad_rows``, the agent's
``bad_message``) and shown on ``ais.rejected``; the rest of its batch is processed.

Before: the track stage built a report from any list without looking (``slot_builder``), so
a row of the wrong shape crashed the agent mid-batch (``'<' not supported``, ``IndexError``),
and Faust restarted it; the proximity stage took a presence with a string latitude into its
span and failed later, far from its cause.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from mda.errors import DecodeError, RejectReason
from mda.model import (
    LATEST_EVENT_MS,
    REPORT_FIELDS,
    REPORT_ROW_CHECK,
    RawLine,
    raw_batch_to_json,
)
from mda.proximity import PRESENCE_ROW, PRESENCE_ROW_CHECK
from mda.rows import MISSING, RowCheck
from replay.scenarios import Scenario, great_lakes_demo, rules_encounter
from streams.pipeline import DecodeStage, Out, TrackStage
from streams.proximity import ProximityStage
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.builders import make_context

NAMES = TopicNames.from_settings(Settings())
PARTITIONS = 2

#: A value of a JSON type no column of ours takes, one that only some take, and so on.
STRANGERS: list[Any] = [[1], {"a": 1}, "text", 7, 2.5, True, None]


def _real_rows(check: RowCheck, rows: list[list[Any]]) -> list[list[Any]]:
    assert rows and all(check.ok(r) for r in rows)
    return rows


def _decoded_rows() -> list[list[Any]]:
    """Report rows as the decode stage writes them, read back by orjson (the scenario)."""
    rows: list[list[Any]] = []
    for o in DecodeStage(NAMES, 1).handle(_batches(great_lakes_demo())[0]):
        if o.topic == NAMES.reports:
            rows += [r for r in orjson.loads(o.value)["reports"] if type(r) is list]
    return _real_rows(REPORT_ROW_CHECK, rows)


@pytest.mark.parametrize(
    "check", [REPORT_ROW_CHECK, PRESENCE_ROW_CHECK], ids=["report", "presence"]
)
def test_a_wrong_value_in_any_column_fails_and_is_named(check: RowCheck) -> None:
    """For every column, every value of a type it does not take fails the row, and the
    problem names that column; a value of a type it takes passes."""
    good: list[Any] = (
        _decoded_rows()[0]
        if check is REPORT_ROW_CHECK
        else next(
            d for v in _presence_messages() for d in orjson.loads(v)["presence"] if type(d) is list
        )
    )
    assert check.ok(good) and check.problem(good) is None
    for i, column in enumerate(check.columns):
        for value in STRANGERS:
            row = good.copy()
            row[i] = value
            takes = type(value) in column.kinds and (
                column.literals is None or value in column.literals
            )
            assert check.ok(row) is takes, (column.name, value)
            why = check.problem(row)
            assert (why is None) is takes
            if why is not None:
                assert why.startswith(repr(column.name)), why


def test_ranges_types_and_shapes_of_a_report_row() -> None:
    row = _decoded_rows()[0]
    lat, lon = REPORT_FIELDS.index("lat"), REPORT_FIELDS.index("lon")
    for col, edge in ((lat, 90.0), (lat, -90.0), (lon, 180.0), (lon, -180.0), (lat, 0)):
        assert REPORT_ROW_CHECK.ok([*row[:col], edge, *row[col + 1 :]])
    for col, beyond in ((lat, 90.0001), (lat, -91), (lon, 180.5), (lon, -1e9)):
        bad = [*row[:col], beyond, *row[col + 1 :]]
        assert not REPORT_ROW_CHECK.ok(bad)
        assert "outside" in (REPORT_ROW_CHECK.problem(bad) or "")
    # An event time an alert can carry (a year past 9999 would fail its timestamp).
    at = REPORT_FIELDS.index("event_ms")
    assert REPORT_ROW_CHECK.ok([*row[:at], LATEST_EVENT_MS - 1, *row[at + 1 :]])
    for beyond in (LATEST_EVENT_MS, -1, 10**18):
        assert not REPORT_ROW_CHECK.ok([*row[:at], beyond, *row[at + 1 :]])
    # An MMSI an AIS message can carry.
    assert not REPORT_ROW_CHECK.ok([2**30, *row[1:]]) and not REPORT_ROW_CHECK.ok([0, *row[1:]])
    assert REPORT_ROW_CHECK.ok([2**30 - 1, *row[1:]])
    # A bool is not a number here, though Python's bool is an int.
    mmsi = REPORT_FIELDS.index("mmsi")
    assert not REPORT_ROW_CHECK.ok([*row[:mmsi], True, *row[mmsi + 1 :]])
    # A literal column takes its literals only.
    ts = REPORT_FIELDS.index("time_source")
    assert not REPORT_ROW_CHECK.ok([*row[:ts], "gps", *row[ts + 1 :]])
    assert REPORT_ROW_CHECK.problem(row[:-1]) == f"{len(row) - 1} columns, not {len(row)}"
    assert REPORT_ROW_CHECK.problem(tuple(row)) == "a tuple, not a row"
    assert REPORT_ROW_CHECK.problem([*row[:mmsi], MISSING, *row[mmsi + 1 :]]) == "no 'mmsi'"


def test_the_compiled_check_and_the_column_by_column_check_agree() -> None:
    """ok() (generated) and problem() (column by column) agree on 5,000 rows with random
    columns replaced by random values (a swapped test or bound in either would show)."""
    rng = random.Random(8)
    rows = _decoded_rows()
    values = [*STRANGERS, -91.0, 91.0, 181.0, -180.0, 0, 45.5, "A", "B", "tagblock", ""]
    agreed = failed = 0
    for _ in range(5_000):
        row = rng.choice(rows).copy()
        for _ in range(rng.randint(0, 2)):
            row[rng.randrange(len(row))] = rng.choice(values)
        ok = REPORT_ROW_CHECK.ok(row)
        assert ok == (REPORT_ROW_CHECK.problem(row) is None), row
        agreed += 1
        failed += not ok
    assert agreed == 5_000 and 1_000 < failed < 4_500  # both kinds were tried


def test_rows_of_another_version_are_read_by_name() -> None:
    """A writer of another version: other column order, a column of its own (ignored), an
    optional column left out (its default); a required column left out fails; a row whose
    length is not its header's fails and says so."""
    row = dict(zip(REPORT_FIELDS, _decoded_rows()[0], strict=True))
    fields = [f for f in reversed(REPORT_FIELDS) if f != "callsign"] + ["future"]
    reorder = REPORT_ROW_CHECK.reorder(fields)
    assert reorder is not None and REPORT_ROW_CHECK.reorder(list(REPORT_FIELDS)) is None
    read = reorder([row.get(f, "new") for f in fields])
    assert REPORT_ROW_CHECK.ok(read)
    assert dict(zip(REPORT_FIELDS, read, strict=True)) == {**row, "callsign": None}
    short = reorder([row.get(f, "new") for f in fields][:-1])
    assert (
        REPORT_ROW_CHECK.problem(short)
        == f"{len(fields) - 1} columns where 'fields' names {len(fields)}"
    )
    no_mmsi = REPORT_ROW_CHECK.reorder([f for f in REPORT_FIELDS if f != "mmsi"])
    assert no_mmsi is not None
    assert (
        REPORT_ROW_CHECK.problem(no_mmsi([v for f, v in row.items() if f != "mmsi"])) == "no 'mmsi'"
    )


# --- the stages ------------------------------------------------------------------------------


def _batches(scenario: Scenario) -> list[bytes]:
    lines = scenario.lines
    out = [
        raw_batch_to_json([RawLine("s", i, t, 0) for i, t in enumerate(lines[k : k + 60], k)])
        for k in range(0, len(lines), 60)
    ]
    return [*out, orjson.dumps({"ctl": "eof", "run": "r", "source": "s"})]


Spoil = Callable[[str, list[Any]], list[Any]]


def _pipeline(
    scenario: Scenario, spoil: Spoil | None = None
) -> tuple[list[tuple[str, Any, bytes, Any]], list[Out], int]:
    """The scenario through decode → track → proximity in process (a fixed order), with
    ``spoil`` adding items to each ais.reports and mda.presence batch: what every stage
    sends except ais.rejected, what goes to ais.rejected, and the bad rows counted."""
    ctx = make_context()
    decode = DecodeStage(NAMES, PARTITIONS)
    track = TrackStage(NAMES, PARTITIONS, ctx, {})
    prox = ProximityStage(NAMES, PARTITIONS, ctx.geography, ctx.mids, ctx.thresholds)
    sent: list[tuple[str, Any, bytes, Any]] = []
    rejected: list[Out] = []
    counted = 0
    offsets = {"reports": 0, "presence": 0}

    def spoiled(value: bytes, items: str) -> bytes:
        msg = orjson.loads(value)
        if spoil is None or items not in msg:
            return value
        msg[items] = spoil(items, msg[items])
        return orjson.dumps(msg)

    def keep(outs: list[Out]) -> list[Out]:
        rejected.extend(o for o in outs if o.topic == NAMES.rejected)
        sent.extend(
            (o.topic, o.key, o.value, o.partition) for o in outs if o.topic != NAMES.rejected
        )
        return outs

    for batch in _batches(scenario):
        for r in keep(decode.handle(batch)):
            if r.topic != NAMES.reports:
                continue
            offsets["reports"] += 1
            outs = keep(track.handle(spoiled(r.value, "reports"), r.partition, offsets["reports"]))
            counted += track.last_bad_rows
            track.flush_all()
            for p in outs:
                if p.topic != NAMES.presence:
                    continue
                offsets["presence"] += 1
                keep(prox.handle(spoiled(p.value, "presence"), p.partition, offsets["presence"]))
                counted += prox.last_bad_rows
    return sent, rejected, counted


def _presence_messages() -> list[bytes]:
    sent, _, _ = _pipeline(rules_encounter())
    return [v for topic, _, v, _ in sent if topic == NAMES.presence and b'"presence"' in v]


def _bad_items(items: str, first: list[Any]) -> list[tuple[Any, str]]:
    """Items that are not ours, each with a word its problem must contain; ``first`` is a
    real row of the batch, spoiled one column at a time."""
    names = REPORT_FIELDS if items == "reports" else PRESENCE_ROW

    def with_(column: str, value: Any) -> list[Any]:
        row = first.copy()
        row[names.index(column)] = value
        return row

    bad: list[tuple[Any, str]] = [
        (5, "not a row"),
        ("x", "not a row"),
        (None, "not a row"),
        ([], "columns"),
        (first[:-1], "columns"),
        ([*first, 1], "columns"),
        (with_("mmsi", str(first[0])), "'mmsi'"),
        (with_("lat", 91.5), "'lat'"),
        (with_("lon", "-80"), "'lon'"),
        (with_("event_ms", 1.5), "'event_ms'"),
        (with_("source", None), "'source'"),
        ({"tick": "soon", "source": "s"}, "tick"),
        ({"tick": 5}, "source"),
        ({"mmsi": 1}, "no '"),
    ]
    if items == "reports":
        bad += [
            (with_("time_source", "gps"), "'time_source'"),
            (with_("ais_class", "C"), "'ais_class'"),
            (with_("dedup_key", 5), "'dedup_key'"),
            ({"tick": 5, "source": "s", "stations": ["a"]}, "stations"),
            ({"tick": 5, "source": "s", "stations": {"st": True}}, "stations"),
        ]
    else:
        bad += [
            (with_("exempt", 1), "'exempt'"),
            (with_("home", "not-a-cell"), "cells"),  # h3 refuses it
            (with_("cells", [5]), "cells"),
        ]
    return bad


def _spoiler(seed: int) -> tuple[Spoil, list[tuple[Any, str]]]:
    """Spoil each batch with every bad item, each at a random place; note what was added."""
    rng = random.Random(seed)
    added: list[tuple[Any, str]] = []

    def spoil(items: str, batch: list[Any]) -> list[Any]:
        first = next((d for d in batch if type(d) is list), None)
        if first is None:
            return batch
        out = batch.copy()
        for item, word in _bad_items(items, first):
            out.insert(rng.randint(0, len(out)), item)
            added.append((item, word))
        return out

    return spoil, added


@pytest.mark.parametrize("scenario", [great_lakes_demo, rules_encounter])
def test_bad_rows_are_skipped_counted_and_shown_and_change_nothing_else(
    scenario: Callable[[], Scenario],
) -> None:
    """The scenario with every kind of bad row at random places in every batch of both
    internal topics sends, message for message, what it sends without them (reports,
    presences, alerts: ENCOUNTER included); each bad row is counted once and shown once on
    ais.rejected, with the topic, offset, row index and what is wrong."""
    clean, clean_rejected, clean_counted = _pipeline(scenario())
    assert clean_counted == 0 and not clean_rejected
    assert any(t == NAMES.alerts for t, *_ in clean)
    spoil, added = _spoiler(1)
    sent, rejected, counted = _pipeline(scenario(), spoil)
    assert sent == clean
    assert counted == len(added) > 100
    shown = [r for o in rejected for r in orjson.loads(o.value)["rejects"]]
    assert len(shown) == len(added)
    assert {r["reason"] for r in shown} == {RejectReason.BAD_MESSAGE.value}
    assert {r["source"] for r in shown} == {NAMES.reports, NAMES.presence}
    assert all(
        o.key == r["source"].encode() for o in rejected for r in orjson.loads(o.value)["rejects"]
    )
    assert sorted(r["raw"] for r in shown) == sorted(orjson.dumps(i).decode() for i, _ in added)
    by_raw: dict[str, list[str]] = {}
    for r in shown:
        by_raw.setdefault(r["raw"], []).append(r["detail"])
    for item, word in added:
        assert any(word in d for d in by_raw[orjson.dumps(item).decode()]), (item, word)
    for r in shown:
        assert r["detail"].startswith(f"{r['source']}[")
        assert f"@{r['line_no']} row " in r["detail"] and r["line_no"] > 0
    if scenario is rules_encounter:
        assert any(b"ENCOUNTER" in v for t, _, v, _ in clean if t == NAMES.alerts)


def test_a_batch_whose_header_is_not_a_list_of_names_is_refused() -> None:
    ctx = make_context()
    track = TrackStage(NAMES, 2, ctx, {})
    prox = ProximityStage(NAMES, 2, ctx.geography, ctx.mids, ctx.thresholds)
    for fields in (5, "mmsi", [1, 2], {"a": 1}):
        with pytest.raises(DecodeError, match="'fields'"):
            track.handle(orjson.dumps({"fields": fields, "reports": []}), 0)
        with pytest.raises(DecodeError, match="'fields'"):
            prox.handle(orjson.dumps({"fields": fields, "presence": [], "from": 0}), 0)
    assert not track.watermarks and not prox.sources


@pytest.mark.parametrize(
    "msg",
    [
        {"presence": [], "from": 2},  # (2 partitions: 0 and 1)
        {"presence": [], "from": -1},
        {"presence": [], "from": "0"},
        {"presence": [], "from": True},
        {"ctl": "eof", "source": "s", "reports_partition": 2},
        {"ctl": "eof", "source": "s", "reports_partition": "1"},
        {"ctl": "eof", "source": "s", "final_tick": 5},
        {"ctl": "eof", "source": "s", "final_tick": {"tick": "x", "source": "s"}},
    ],
)
def test_the_proximity_stage_refuses_a_sender_that_is_not_a_track_partition(
    msg: dict[str, Any],
) -> None:
    """A sender outside the track partitions would count as one that has passed a tick (and
    release spans too early): refused before any state changes."""
    ctx = make_context()
    prox = ProximityStage(NAMES, 2, ctx.geography, ctx.mids, ctx.thresholds)
    with pytest.raises(DecodeError) as info:
        prox.handle(orjson.dumps(msg), 0)
    assert info.value.reason is RejectReason.BAD_MESSAGE
    assert not prox.sources


@pytest.mark.parametrize(
    "msg",
    [
        {"ctl": "eof", "source": "s", "final_tick": []},
        {"ctl": "eof", "source": "s", "final_tick": {"tick": 5, "source": "s", "stations": 3}},
        {"ctl": "reference", "kind": "facility", "key": "K", "value": None, "offset": "7"},
    ],
)
def test_the_track_stage_refuses_control_records_with_fields_of_the_wrong_kind(
    msg: dict[str, Any],
) -> None:
    track = TrackStage(NAMES, 2, make_context(), {})
    with pytest.raises(DecodeError) as info:
        track.handle(orjson.dumps(msg), 0)
    assert info.value.reason is RejectReason.BAD_MESSAGE
    assert not track.watermarks and not track.reference_offsets


def test_a_reference_record_of_a_kind_not_ours_is_counted_not_raised() -> None:
    """A reference control record of an unknown kind (before: a KeyError that crashed the
    track agent) is an invalid reference record: counted, logged, the context unchanged."""
    track = TrackStage(NAMES, 2, make_context(), {})
    before = track.ctx
    msg = {"ctl": "reference", "kind": "spaceship", "key": "K", "value": {"a": 1}, "offset": 3}
    assert track.handle(orjson.dumps(msg), 0) == []
    assert track.reference_rejects == 1 and not track.reference_offsets
    ref = track.ctx.reference
    assert ref is None or not (ref.facilities or ref.vessels or ref.notices or ref.advisories)
    assert track.ctx.geography is before.geography
