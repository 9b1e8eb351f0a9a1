"""Fuzz properties of the track stage: hostile report sequences never raise, state stays bounded.

Sequences mix timestamps in the future, decades in the past, out of order, and a station
whose clock is an hour behind; positions in the water, on land, either side of the boundary
and in clusters far apart; ticks and the end-of-source control record. After every batch:
``TrackStage.handle`` has not raised, every output is a well-formed message, and each track
keeps at most ``RECENT_KEYS`` recent transmissions, ``JUMPS_KEPT`` jumps and
``port_calls_kept`` port calls.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from mda.model import Report
from mda.rules.context import RuleContext
from mda.rules.position_jump import JUMPS_KEPT
from mda.state import RECENT_KEYS, VesselTrack
from streams.pipeline import TrackStage
from streams.settings import Settings
from streams.topics import TopicNames, partition_for_mmsi
from tests.hypothesis_profiles import FUZZ
from tests.unit.builders import T0_MS, make_context

NAMES = TopicNames.from_settings(Settings())
PARTITIONS = 2
YEAR_MS = 365 * 86_400_000
SOURCE = "fuzz"
MMSIS = (316012345, 366123456, 111111111, 5, 316999999, 244670316)
PLACES = (
    (43.80, -78.00),  # Lake Ontario, Canadian side
    (43.40, -77.60),  # Lake Ontario, US side
    (42.32, -83.05),  # Detroit River, on the boundary
    (45.50, -73.55),  # Montréal harbour
    (46.80, -71.20),  # Québec, St. Lawrence
    (45.00, -75.00),  # on land (eastern Ontario)
    (48.40, -123.40),  # Juan de Fuca
    (0.0, 0.0),
    (-89.9, 179.9),
)


@cache
def context() -> RuleContext:
    return make_context()


@st.composite
def time_step_ms(draw: st.DrawFn) -> int:
    """How event time moves between two reports: mostly forward, sometimes wildly not."""
    kind = draw(st.sampled_from(["forward"] * 6 + ["back", "future", "past", "same"]))
    if kind == "forward":
        return draw(st.integers(0, 900_000))
    if kind == "back":
        return -draw(st.integers(1, 3_600_000))
    if kind == "future":
        return draw(st.integers(1, 50)) * YEAR_MS
    if kind == "past":
        return -draw(st.integers(1, 50)) * YEAR_MS
    return 0


@st.composite
def report_dict(draw: st.DrawFn, at_ms: int) -> dict[str, Any]:
    station = draw(st.sampled_from(["S1", "S2", None]))
    if station == "S2":
        at_ms -= 3_600_000  # this receiver's clock is an hour behind
    msg_type = draw(st.sampled_from([1, 1, 1, 3, 18, 5, 24, 27]))
    static = msg_type in (5, 24)
    lat, lon = draw(st.sampled_from(PLACES))
    jitter = draw(st.floats(-0.05, 0.05))
    sog = draw(st.one_of(st.none(), st.floats(0, 102.2), st.sampled_from([0.0, 0.3, 2.5, 45.0])))
    r = Report(
        mmsi=draw(st.sampled_from(MMSIS)),
        msg_type=msg_type,
        event_ms=max(0, at_ms),
        time_source=draw(st.sampled_from(["tagblock", "uscg", "line", "ingest"])),
        source=SOURCE,
        station=station,
        lat=None if static else max(-90.0, min(90.0, lat + jitter)),
        lon=None if static else lon,
        sog_kn=None if static else sog,
        cog_deg=None if static else draw(st.one_of(st.none(), st.floats(0, 359.9))),
        heading_deg=None,
        nav_status=None if static else draw(st.one_of(st.none(), st.integers(0, 15))),
        ais_class="B" if msg_type in (18, 24) else "A",
        name=draw(st.sampled_from([None, "LAKE SPIRIT", "OTHER NAME"])) if static else None,
        callsign=draw(st.sampled_from([None, "CFK2345", "WDX9"])) if static else None,
        imo=draw(st.sampled_from([None, 9234567, 9999999])) if msg_type == 5 else None,
        ship_type=draw(st.sampled_from([None, 70, 30])) if static else None,
        # Repeated payloads: the same transmission heard twice (duplicates).
        dedup_key=draw(st.sampled_from(["", "p1", "p2", "p3"]) | st.text(max_size=6)),
    )
    return orjson.loads(orjson.dumps(r))


@st.composite
def batches(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Batches of reports and ticks, as the decode stage sends them (before partitioning)."""
    at = T0_MS
    out = []
    for _ in range(draw(st.integers(1, 8))):
        batch: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(1, 12))):
            at = max(0, at + draw(time_step_ms()))
            if draw(st.integers(0, 7)) == 0:
                stations = {"S1": at, "S2": at - 3_600_000}
                batch.append({"tick": at, "source": SOURCE, "stations": stations})
            else:
                batch.append(draw(report_dict(at)))
        out.append(batch)
    return out


def assert_bounded(tracks: dict[int, VesselTrack], ctx: RuleContext) -> None:
    th = ctx.thresholds
    assert len(tracks) <= len(MMSIS)
    for t in tracks.values():
        assert len(t.recent) <= RECENT_KEYS
        assert len(t.jumps) <= max(JUMPS_KEPT, th.conflict_jumps)
        assert len(t.port_calls) <= th.port_calls_kept
        assert len(t.open_alerts) <= 32
        assert len(t.isps_mismatch_notices) <= 32


def run_batches(stage: TrackStage, batches_: list[list[dict[str, Any]]]) -> None:
    for batch in batches_:
        by_partition: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for d in batch:
            if "tick" in d:
                for p in range(PARTITIONS):
                    by_partition[p].append(d)
            else:
                by_partition[partition_for_mmsi(d["mmsi"], PARTITIONS)].append(d)
        for p, items in sorted(by_partition.items()):
            for out in stage.handle(orjson.dumps({"reports": items}), p):
                msg = orjson.loads(out.value)
                if out.topic == NAMES.alerts:
                    assert msg["schema"] == "mda.alert/1" and msg["status"] in (
                        "open",
                        "update",
                        "closed",
                    )
        assert_bounded(stage.tracks, stage.ctx)  # type: ignore[arg-type]


@FUZZ
@given(batches())
def test_hostile_report_sequences(batches_: list[list[dict[str, Any]]]) -> None:
    tracks: dict[int, VesselTrack] = {}
    stage = TrackStage(NAMES, PARTITIONS, context(), tracks)
    run_batches(stage, batches_)
    last = max((d.get("event_ms", d.get("tick", 0)) for b in batches_ for d in b), default=0)
    final = {"tick": last, "source": SOURCE, "stations": {"S1": last}}
    for p in range(PARTITIONS):
        ctl = {"ctl": "eof", "run": "fz", "source": SOURCE, "final_tick": final}
        stage.handle(orjson.dumps(ctl), p)
    assert_bounded(tracks, stage.ctx)
    assert not stage.watermarks  # the source's watermarks are forgotten


def test_two_transmitters_on_one_mmsi_keep_the_jump_list_bounded() -> None:
    """Spoofed MMSI: two positions 60 km apart alternating every 2 s for 30 min."""
    tracks: dict[int, VesselTrack] = {}
    stage = TrackStage(NAMES, PARTITIONS, context(), tracks)
    mmsi = 316012345
    reports = []
    for i in range(900):
        lat, lon = PLACES[0] if i % 2 == 0 else PLACES[1]
        r = Report(mmsi, 1, T0_MS + i * 2000, "tagblock", SOURCE, "S1", lat, lon, 10.0)
        reports.append(orjson.loads(orjson.dumps(r)))
    p = partition_for_mmsi(mmsi, PARTITIONS)
    rules = []
    for i in range(0, len(reports), 50):
        for out in stage.handle(orjson.dumps({"reports": reports[i : i + 50]}), p):
            if out.topic == NAMES.alerts:
                rules.append(orjson.loads(out.value)["rule"])
    assert "IDENTITY_CONFLICT" in rules
    assert len(tracks[mmsi].jumps) == JUMPS_KEPT
    assert len(orjson.dumps(tracks[mmsi])) < 8_000
