"""The track and decode stages' fast paths give the same answers as the plain ones (issue 8).

- ``VesselTrack.evolve`` and ``report_from_row`` (built by ``slot_builder``, without the
  frozen ``__init__``) against ``dataclasses.replace`` and ``Report(**d)``, field for field
  and on the bundled recordings end to end.
- The memos of pure lookups (MMSI class, zones of a cell no zone edge crosses, shore
  distance) against the computation they stand for.
- The decode stage's bookkeeping: ``RawLine.from_wire`` against ``from_dict``, counts per
  source taken per batch.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely

import mda.track
from mda.decode import Decoder
from mda.geo import Geography
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.model import (
    RAW_LINE_FIELDS,
    REPORT_FIELDS,
    REPORT_ROW_CHECK,
    RawLine,
    Reject,
    Report,
    raw_batch_to_json,
    raw_lines_from_wire,
    report_from_row,
    report_row,
    slot_builder,
)
from mda.rules.context import RuleContext
from mda.state import RECENT_KEYS, TRACK_FIELDS, Crossing, OpenAlert, VesselTrack
from replay.files import iter_raw_lines
from replay.scenarios import great_lakes_demo
from streams.pipeline import DecodeStage, TrackStage, report_items
from streams.settings import Settings
from streams.topics import TopicNames

NAMES = TopicNames.from_settings(Settings())
#: When the bundled recordings are received: after every one of them (2026-12-01), so that
#: none of their times is ahead of its receipt.
RECEIVED_MS = 1_796_083_200_000
DATA = Path(__file__).resolve().parents[2] / "replay" / "data"


def _full_track() -> VesselTrack:
    return VesselTrack(
        mmsi=316_001_234,
        last_ms=1_700_000_000_000,
        reports=7,
        lat=45.5,
        lon=-73.5,
        pos_ms=1_700_000_000_000,
        sog_kn=3.2,
        name="NORTHERN STAR",
        imo=9_123_456,
        zones=("a", "b"),
        recent=(("k", 1),),
        open_alerts=(OpenAlert("LOITERING", 5, "medium"),),
        crossing=Crossing(1, "CA", "US", "info"),
    )


def test_evolve_equals_dataclasses_replace() -> None:
    track = _full_track()
    changes: dict[str, Any] = {
        "last_ms": 1_700_000_060_000,
        "reports": 8,
        "lat": None,
        "zones": (),
        "gap_reported": True,
        "crossing": None,
    }
    new = track.evolve(**changes)
    assert new == dataclasses.replace(track, **changes)
    assert type(new) is VesselTrack
    # Every field: copied when not changed, replaced when changed; the original untouched.
    for name in TRACK_FIELDS:
        expected = changes[name] if name in changes else getattr(track, name)
        assert getattr(new, name) == expected, name
    assert track == _full_track()
    assert track.evolve() == track and track.evolve() is not track
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.lat = 1.0  # type: ignore[misc]
    assert hash(new) == hash(dataclasses.replace(track, **changes))


def test_a_report_written_as_an_object_equals_the_constructor() -> None:
    d: dict[str, Any] = {
        "mmsi": 316_001_234,
        "msg_type": 1,
        "event_ms": 1_700_000_000_000,
        "time_source": "tagblock",
        "source": "f.nmea",
        "station": "rORBCOMM",
        "lat": 45.5,
        "lon": -73.5,
        "sog_kn": 12.3,
        "cog_deg": 271.0,
        "heading_deg": None,
        "nav_status": 0,
        "ais_class": "A",
        "name": None,
        "callsign": None,
        "imo": None,
        "ship_type": None,
        "dedup_key": "k",
    }
    built = report_from_row(REPORT_ROW_CHECK.row_of(d))
    assert type(built) is Report
    assert built == Report(**d) and hash(built) == hash(Report(**d))
    assert built.to_dict() == d
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.lat = 1.0  # type: ignore[misc]
    # An optional field left out takes its default; a required one fails the check.
    no_lat = REPORT_ROW_CHECK.row_of({k: v for k, v in d.items() if k != "lat"})
    assert REPORT_ROW_CHECK.ok(no_lat) and report_from_row(no_lat).lat is None
    no_mmsi = REPORT_ROW_CHECK.row_of({k: v for k, v in d.items() if k != "mmsi"})
    assert not REPORT_ROW_CHECK.ok(no_mmsi)
    assert REPORT_ROW_CHECK.problem(no_mmsi) == "no 'mmsi'"


def test_a_report_row_through_orjson_is_the_report() -> None:
    report = Report(
        316_001_234, 5, 1_700_000_000_000, "uscg", "f.nmea", None, None, None, None, None, None,
        None, "A", "NORTHERN STAR", "CFK2345", 9_123_456, 70, "k,0",
    )  # fmt: skip
    row = report_row(report)
    assert row == tuple(getattr(report, f) for f in REPORT_FIELDS)
    back = report_from_row(orjson.loads(orjson.dumps(row)))
    assert type(back) is Report and back == report and hash(back) == hash(report)


def _as_objects(value: bytes) -> bytes:
    """An ais.reports message with its reports written as objects (the form before rows)."""
    msg = orjson.loads(value)
    if "fields" not in msg:
        return value
    return orjson.dumps({"reports": report_items(msg)})


def _reordered(value: bytes) -> bytes:
    """The same message from a decoder whose rows list the fields in another order."""
    msg = orjson.loads(value)
    if "fields" not in msg:
        return value
    order = list(reversed(REPORT_FIELDS))
    items = [
        [d[f] for f in order] if "mmsi" in d else d for d in report_items(msg)
    ]  # fmt: skip
    return orjson.dumps({"fields": order, "reports": items})


def test_report_rows_objects_and_reordered_rows_give_the_same_outputs() -> None:
    ctx = RuleContext(Geography.load(), MidTable.load_default(), landmask=LandMask.load_default())
    rows = _run_recordings(ctx)
    assert sum(b'"alert_id"' in b for b in rows) > 30
    assert _run_recordings(ctx, _as_objects) == rows
    assert _run_recordings(ctx, _reordered) == rows


def test_report_items_names_the_row_values() -> None:
    lines = list(iter_raw_lines(DATA / "great_lakes_demo.nmea", source="g", ingest_ms=0))
    decoded = Decoder().feed_many(lines).reports
    (out,) = [o for o in DecodeStage(NAMES, 1).handle(
        orjson.dumps({"lines": [ln.to_dict() for ln in lines]})
    ) if o.topic == NAMES.reports]  # fmt: skip
    msg = orjson.loads(out.value)
    assert msg["fields"] == list(REPORT_FIELDS)
    assert [d for d in report_items(msg) if "mmsi" in d] == [r.to_dict() for r in decoded]
    assert any("tick" in d for d in report_items(msg))


def test_slot_builder_needs_every_slot_and_no_base() -> None:
    build = slot_builder(Crossing, ("at_ms", "from_side", "to_side", "severity", "slowed_after"))
    assert build((1, "CA", "US", "info", True)) == Crossing(1, "CA", "US", "info", True)
    with pytest.raises(TypeError, match="every slot"):
        slot_builder(Report, REPORT_FIELDS[:-1])

    @dataclasses.dataclass(frozen=True, slots=True)
    class Child(Crossing):
        extra: int = 0

    with pytest.raises(TypeError, match="no base"):
        slot_builder(Child, ("extra",))


def test_evolve_refuses_an_unknown_field() -> None:
    with pytest.raises(TypeError, match="no field 'latitude'"):
        _full_track().evolve(latitude=1.0)


def _run_recordings(
    ctx: RuleContext, rewrite: Callable[[bytes], bytes] | None = None
) -> list[bytes]:
    """Every message the track stage sends for the bundled recordings, then every track
    (``rewrite``: applied to each ``ais.reports`` value on its way to the track stage)."""
    out: list[bytes] = []
    decode = DecodeStage(NAMES, 2)
    track = TrackStage(NAMES, 2, ctx, {})
    for path in sorted(DATA.glob("*.nmea")) + sorted(DATA.glob("*.ais")):
        lines = list(iter_raw_lines(path, source=path.name, ingest_ms=RECEIVED_MS))
        batches = [
            orjson.dumps({"lines": [ln.to_dict() for ln in lines[i : i + 200]]})
            for i in range(0, len(lines), 200)
        ]
        batches.append(orjson.dumps({"ctl": "eof", "run": "r", "source": path.name}))
        for b in batches:
            for o in decode.handle(b):
                if o.topic == NAMES.reports:
                    assert o.partition is not None
                    value = o.value if rewrite is None else rewrite(o.value)
                    out += [x.topic.encode() + x.value for x in track.handle(value, o.partition)]
    out += [orjson.dumps(track.tracks[k]) for k in sorted(track.tracks)]
    return out


def _absorb_plain(
    track: VesselTrack | None, report: Report, ctx: RuleContext, identity: dict[str, Any]
) -> VesselTrack:
    """mda.track._absorb written the plain way: the changes by name, dataclasses.replace."""
    base = track or VesselTrack(mmsi=report.mmsi, last_ms=report.event_ms)
    changes: dict[str, Any] = {
        "last_ms": max(base.last_ms, report.event_ms),
        "reports": base.reports + 1,
        "station": report.station or report.source,
        "source": report.source,
        "gap_reported": False,
    }
    if report.dedup_key:
        changes["recent"] = (*base.recent, (report.dedup_key, report.event_ms))[-RECENT_KEYS:]
    if report.ais_class is not None:
        changes["ais_class"] = report.ais_class
    if report.nav_status is not None:
        changes["nav_status"] = report.nav_status
    if report.lat is not None and report.lon is not None:
        changes.update(
            lat=report.lat,
            lon=report.lon,
            pos_ms=report.event_ms,
            pos_timed=report.time_source != "ingest",
            sog_kn=report.sog_kn,
            cog_deg=report.cog_deg,
            in_monitored=ctx.geography.in_monitored_area(report.lat, report.lon),
        )
    if identity:
        changes.update(identity, static_ms=report.event_ms)
    return dataclasses.replace(base, **changes)


def test_recordings_give_the_same_alerts_and_tracks_as_dataclasses_replace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """evolve and the track step's intake of a report (both built field by field) against
    dataclasses.replace, on every report of the bundled recordings: the same alerts, the same
    tracks."""
    ctx = RuleContext(Geography.load(), MidTable.load_default(), landmask=LandMask.load_default())
    fast = _run_recordings(ctx)
    monkeypatch.setattr(VesselTrack, "evolve", lambda self, **kw: dataclasses.replace(self, **kw))
    monkeypatch.setattr(mda.track, "_absorb", _absorb_plain)
    plain = _run_recordings(ctx)
    assert sum(b'"alert_id"' in b for b in fast) > 30
    assert fast == plain


def test_classify_mmsi_memo_gives_the_unmemoised_class() -> None:
    default = MidTable.load_default()
    table = MidTable(default.iso2_by_mid, default.name_by_mid)  # an empty memo
    numbers = [0, 1_193_046, 2_010_000, 111_316_001, 123_456_789, 316_001_234, 315_000_001]
    numbers += [970_123_456, 992_316_001, 999_999_999, 1_000_000_000, 812_345_678]
    for mmsi in numbers * 2:  # the second round is answered from the memo
        assert table.classify_mmsi(mmsi) is table._classify(mmsi), mmsi
    assert set(table._classes) == set(numbers)


def test_zones_at_memo_per_whole_cell_matches_the_geometry() -> None:
    geo = Geography(Geography.load().zones)  # a fresh instance: empty memos
    rng = random.Random(8)
    points = [(rng.uniform(41.0, 49.0), rng.uniform(-93.0, -60.0)) for _ in range(3000)]
    for lat, lon in points * 2:
        expected = tuple(z for z in geo.zones if z.geometry.intersects(shapely.Point(lon, lat)))
        assert geo.zones_at(lat, lon) == expected, (lat, lon)
    assert geo._whole_cells  # some cells are answered without a geometry test


def test_shore_distance_memo_gives_the_searched_distance() -> None:
    mask = LandMask.load_default()
    # Inland and coastal points of the Great Lakes region: some on land, some on water.
    points = [(45.5, -73.6), (43.65, -79.38), (44.0, -78.0), (46.8, -71.2), (42.33, -83.05)]
    for lat, lon in points * 2:
        assert mask._shore_distance_m(lat, lon) == mask._shore_search_m(lat, lon)
    assert set(mask._shore_memo) >= set(points)


def test_reject_to_dict_is_the_dataclass_as_orjson_writes_it(shared_data: Path) -> None:
    rejects = [
        r
        for path in sorted(shared_data.glob("ais_nmea/*"))
        for r in Decoder().feed_many(iter_raw_lines(path, source=path.name, ingest_ms=7)).rejects
    ]
    rejects.append(Reject("bad_checksum", "expected 12", "s", 1, 'é"\\', 1_700_000_000_000))
    assert len({r.reason for r in rejects}) >= 5
    for r in rejects:
        assert orjson.dumps(r.to_dict()) == orjson.dumps(r)
        assert r.to_dict() == dataclasses.asdict(r)


def test_decoder_rows_are_the_rows_of_its_reports(shared_data: Path) -> None:
    """Decoder(rows=True), the decode stage's form, gives report_row of every report that
    Decoder() gives, values and types, in order, with the same rejects and decoded types: on
    every real recording (NMEA and CSV, both paths: types 19, 24 and 27 go through pyais's
    decode()) and on the lines cut short (odd lengths, MMSI 0, bad checksums)."""
    paths = sorted([*shared_data.glob("ais_nmea/*"), *shared_data.glob("ais_csv/*")])
    paths += sorted(DATA.glob("*.nmea"))
    seen_types: set[int] = set()
    for path in paths:
        lines = list(iter_raw_lines(path, source=path.name, ingest_ms=7))
        lines += [
            RawLine(path.name, 10**6 + i, ln.text[: len(ln.text) // 2 + 3], 7)
            for i, ln in enumerate(lines[:200])
        ]
        objects = Decoder().feed_many(lines)
        rows = Decoder(rows=True).feed_many(lines)
        assert objects.rows == [] and rows.reports == []
        assert rows.rows == [report_row(r) for r in objects.reports], path.name
        for row, report in zip(rows.rows, objects.reports, strict=True):
            assert [type(v) for v in row] == [type(v) for v in report_row(report)]
        assert rows.rejects == objects.rejects and rows.decoded_types == objects.decoded_types
        seen_types.update(r.msg_type for r in objects.reports)
    assert {1, 3, 5, 18, 19, 24, 27} <= seen_types


def test_raw_line_from_wire_is_from_dict() -> None:
    canonical = {"source": "f", "line_no": 3, "text": "!AIVDM", "ingest_ms": 5, "csv_header": None}
    fast = RawLine.from_wire(canonical)
    assert fast == RawLine.from_dict(canonical) == RawLine("f", 3, "!AIVDM", 5)
    # Anything else takes from_dict's conversions (a CSV row's header, loose types).
    for d in (
        {**canonical, "csv_header": ["MMSI", "LAT"]},
        {**canonical, "line_no": "3"},
        {**canonical, "ingest_ms": 5.0},
        {"source": "f", "line_no": 3, "text": "!AIVDM", "ingest_ms": 5},
    ):
        assert RawLine.from_wire(d) == RawLine.from_dict(d)
    assert RawLine.from_wire({**canonical, "csv_header": ["A"]}).csv_header == ("A",)
    with pytest.raises(KeyError):
        RawLine.from_wire({"source": "f", "text": "x", "ingest_ms": 1})


def test_raw_batches_as_rows_objects_or_reordered_rows_are_the_same_lines() -> None:
    lines = [
        RawLine("f", 1, "!AIVDM", 5),
        RawLine("g", 2, "MMSI,LAT", 6, ("MMSI", "LAT")),
        RawLine("f", 3, "\\c:1*00\\!AIVDM", 7),
    ]
    rows = orjson.loads(raw_batch_to_json(lines))
    assert rows["fields"] == list(RAW_LINE_FIELDS)
    assert rows["lines"][0] == ["f", 1, "!AIVDM", 5, None]
    objects = {"lines": [ln.to_dict() for ln in lines]}
    order = list(reversed(RAW_LINE_FIELDS))
    reordered = {"fields": order, "lines": [[d[f] for f in order] for d in objects["lines"]]}
    for msg in (rows, objects, reordered):
        assert raw_lines_from_wire(msg) == lines
    # Loose types in a row take from_dict's conversions, as in an object.
    loose = {"fields": RAW_LINE_FIELDS, "lines": [["f", "3", "!AIVDM", 5.0, None]]}
    assert raw_lines_from_wire(loose) == [RawLine("f", 3, "!AIVDM", 5)]
    # The decode stage reads every form to the same outputs.
    text = great_lakes_demo().lines
    batch = [RawLine("g", i, t, 0) for i, t in enumerate(text, 1)]
    outs = [
        [(o.topic, o.partition, o.value) for o in DecodeStage(NAMES, 3).handle(value)]
        for value in (
            raw_batch_to_json(batch),
            orjson.dumps({"lines": [ln.to_dict() for ln in batch]}),
        )
    ]
    assert outs[0] == outs[1] and len(outs[0]) == 3  # one message per partition


def test_decode_counts_per_source_in_a_mixed_batch() -> None:
    """Counts are kept per source even when one batch mixes sources (looked up on change)."""
    a = "!AIVDM,1,1,,A,14`qQb0000o?u?DK>Smo2E`v0404,0*1A"
    lines = [RawLine("s1", 1, a, 0), RawLine("s2", 1, "junk", 0), RawLine("s1", 2, a, 0)]
    lines += [RawLine("s2", 2, a, 0)]
    stage = DecodeStage(NAMES, 2)
    stage.handle(orjson.dumps({"lines": [ln.to_dict() for ln in lines]}))
    assert stage.counts["s1"].to_dict() == {
        "lines": 2,
        "decoded": {"1": 2},
        "rejected": {},
        "retimed": 0,
    }
    s2 = stage.counts["s2"].to_dict()
    assert s2["lines"] == 2 and s2["decoded"] == {"1": 1} and sum(s2["rejected"].values()) == 1
    assert stage.last_lines == 4 and stage.last_decoded_types == [1, 1, 1]


ISPS_RULES = (
    "ISPS_NO_PREARRIVAL",
    "ISPS_ISSC_INVALID",
    "ISPS_SECURITY_LEVEL",
    "ISPS_PSA_PORT_CALL",
    "ISPS_LAST_PORT_MISMATCH",
)


@pytest.mark.parametrize(
    ("reference", "rules"),
    [
        ("rules_isps.reference", ISPS_RULES),
        ("reference_sample", ("ISPS_NO_PREARRIVAL", "ISPS_SECURITY_LEVEL")),
    ],
)
def test_isps_rules_skip_open_water_without_changing_an_answer(
    monkeypatch: pytest.MonkeyPatch, reference: str, rules: tuple[str, ...]
) -> None:
    """The ISPS rules return at once for a vessel in no zone with no alert open (most
    reports); without that shortcut the recordings give the same alerts and tracks."""
    from mda.isps import geography_with, load_reference_dir
    from mda.rules import isps

    ref = load_reference_dir(DATA / reference)
    geography = geography_with(Geography.load(), ref)
    ctx = RuleContext(
        geography, MidTable.load_default(), landmask=LandMask.load_default(), reference=ref
    )
    fast = _run_recordings(ctx)
    monkeypatch.setattr(isps, "_open_water", lambda new: False)
    plain = _run_recordings(ctx)
    for rule in rules:  # (both opened and closed on the ISPS scenario)
        assert sum(f'"rule":"{rule}"'.encode() in b for b in fast) >= 1, rule
    assert fast == plain
