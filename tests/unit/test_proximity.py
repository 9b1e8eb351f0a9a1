"""ENCOUNTER and the per-partition vessel sets (mda/proximity.py), with plain function calls.

``Grid`` plays the transport: it fans each position out to the partitions of its H3 cell and
ring, exactly as the track stage does, and feeds each partition's ProximityState.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from mda.alerts import Finding, alert_id
from mda.geo import Geography
from mda.hexgrid import distance_m, grid_disk
from mda.proximity import (
    PRESENCE_CELLS,
    PRESENCE_ROW,
    PRESENCE_ROW_CHECK,
    PRESENCE_SOURCE,
    PairState,
    Presence,
    ProximityState,
    cell_partition,
    encounter_step,
    fan_out,
    home_cell,
    is_exempt,
    owner_cell,
    presence_row,
    worth_keeping,
)
from mda.thresholds import Thresholds
from tests.unit.builders import T0_MS

MIN = 60_000
TH = Thresholds()
GEO = Geography.load()
ERIE = (42.30, -81.0)  # 5.8 km from the boundary
MICHIGAN = (43.30, -87.30)  # > 300 km from it
M_PER_DEG_LAT = 111_195.0


class Grid:
    """n partitions of mda.presence, each a ProximityState, fed as the track stage feeds them."""

    def __init__(self, partitions: int = 4) -> None:
        self.n = partitions
        self.states = [ProximityState(TH, GEO.boundary_distance_m) for _ in range(partitions)]
        self.homes: dict[int, str] = {}

    def report(
        self, mmsi: int, at: int, lat: float, lon: float, sog: float = 1.0, exempt: bool = False
    ) -> list[Finding]:
        home = home_cell(lat, lon)
        dest = fan_out(home, self.n)
        before = self.homes.get(mmsi)
        if before is not None and before != home:
            for p in fan_out(before, self.n):  # type: ignore[arg-type]
                dest.setdefault(p, ())
        self.homes[mmsi] = home
        base = Presence(mmsi, lat, lon, sog, at, exempt, home)
        out: list[Finding] = []
        for p, cells in dest.items():
            out += self.states[p].observe(base._replace(cells=cells))
        return out

    def expire(self, now_ms: int) -> None:
        for s in self.states:
            s.expire(now_ms)


def drift(
    grid: Grid,
    vessels: dict[int, tuple[float, float]],
    minutes: int,
    sog: float = 1.0,
    start: int = T0_MS,
    exempt: bool = False,
) -> list[Finding]:
    """Every vessel reports once a minute (10 s apart, in the order given), not moving."""
    out: list[Finding] = []
    for i in range(minutes + 1):
        for k, (mmsi, (lat, lon)) in enumerate(vessels.items()):
            out += grid.report(mmsi, start + i * MIN + k * 10_000, lat, lon, sog, exempt)
    return out


def north(lat: float, lon: float, m: float) -> tuple[float, float]:
    return (lat + m / M_PER_DEG_LAT, lon)


def test_pair_inside_one_cell_opens_once_after_20_minutes_high_near_the_boundary() -> None:
    a, b = ERIE, north(*ERIE, 300)
    assert home_cell(*a) == home_cell(*b)
    grid = Grid()
    found = drift(grid, {316000002: a, 316000001: b}, 30)
    assert len(found) == 1
    f = found[0]
    assert (f.rule, f.status, f.severity) == ("ENCOUNTER", "open", "high")
    assert (f.mmsi, f.other_mmsi) == (316000001, 316000002)
    # Close since the second vessel's first report (T0 + 10 s); open on the report 20 min on.
    assert f.event_ms == T0_MS + 10_000 + 20 * MIN
    assert f.evidence["duration_s"] == 20 * 60
    assert 299 <= f.evidence["distance_m"] <= 301
    assert f.thresholds["distance_m"] == 500 and f.thresholds["min_s"] == 1200
    assert (f.lat, f.lon) == b  # the lower MMSI's position


def test_no_alert_before_20_minutes() -> None:
    grid = Grid()
    assert drift(grid, {1: ERIE, 2: north(*ERIE, 300)}, 19) == []


def _across_an_edge() -> tuple[tuple[float, float], tuple[float, float]]:
    lat, lon = MICHIGAN
    home = home_cell(lat, lon)
    while home_cell(lat, lon) == home:
        lat += 10 / M_PER_DEG_LAT
    return north(lat, lon, -150), north(lat, lon, 150)


def test_pair_across_a_cell_edge_gives_one_alert_medium_far_from_the_boundary() -> None:
    a, b = _across_an_edge()
    assert home_cell(*a) != home_cell(*b)
    for partitions in (1, 2, 4, 7):
        found = drift(Grid(partitions), {366000001: a, 366000002: b}, 25)
        assert [(f.mmsi, f.status, f.severity) for f in found] == [(366000001, "open", "medium")]


def test_pair_passing_at_speed_gives_nothing() -> None:
    grid = Grid()
    lat, lon = MICHIGAN
    found = []
    for i in range(40):  # 12 kn ≈ 370 m/min, opposite courses, 100 m abeam at minute 20
        east = lon - 0.09 + i * 0.0045
        west = lon + 0.09 - i * 0.0045
        found += grid.report(1, T0_MS + i * MIN, lat, east, 12.0)
        found += grid.report(2, T0_MS + i * MIN + 5_000, lat + 0.0009, west, 12.0)
    assert found == []


def test_pair_in_a_port_zone_gives_nothing() -> None:
    grid = Grid()
    assert drift(grid, {1: ERIE, 2: north(*ERIE, 100)}, 40, exempt=True) == []


def test_exempt_zone_kinds() -> None:
    @dataclasses.dataclass
    class Z:
        kind: str
        facility_id: str | None = None

    assert is_exempt([Z("monitored"), Z("port")])
    assert is_exempt([Z("anchorage")]) and is_exempt([Z("lock")])
    assert is_exempt([Z("approach", "CAMTR-0001")])  # a facility radius
    assert not is_exempt([Z("monitored"), Z("security"), None])


def test_three_vessel_raft_gives_three_pair_alerts_not_a_storm() -> None:
    lat, lon = MICHIGAN
    raft = {11: (lat, lon), 12: north(lat, lon, 150), 13: (lat, lon + 0.002)}
    for partitions in (1, 4, 7):
        found = drift(Grid(partitions), raft, 40)
        pairs = sorted((f.mmsi, f.other_mmsi) for f in found)
        assert pairs == [(11, 12), (11, 13), (12, 13)]
        assert len({f.alert_id for f in found}) == 3


def test_stale_presence_expires_by_event_time() -> None:
    grid = Grid(1)
    state = grid.states[0]
    grid.report(1, T0_MS, *ERIE)
    grid.report(2, T0_MS + 5 * MIN, *north(*ERIE, 100))
    grid.expire(T0_MS + 10 * MIN)  # vessel 1 last heard exactly ttl ago: kept
    assert set(state.vessels) == {1, 2}
    assert state.pairs  # a close episode in progress
    grid.expire(T0_MS + 10 * MIN + 1)
    assert set(state.vessels) == {2}
    assert not state.pairs and not state.members.get(home_cell(*ERIE), set()) - {2}
    # Event time, not arrival: a report older than the ttl relative to the other is no pair.
    grid2 = Grid(1)
    grid2.report(1, T0_MS, *ERIE)
    grid2.report(2, T0_MS + 11 * MIN, *north(*ERIE, 100))
    assert not grid2.states[0].pairs


def test_a_report_that_breaks_the_episode_restarts_the_20_minutes() -> None:
    grid = Grid()
    a, b = ERIE, north(*ERIE, 200)
    assert drift(grid, {1: a, 2: b}, 15) == []
    grid.report(2, T0_MS + 15 * MIN + 30_000, *b, sog=5.0)  # briefly under way
    found = drift(grid, {1: a, 2: b}, 25, start=T0_MS + 16 * MIN)
    # Vessel 1's report at 16:00 still sees 2 at 5 kn; 2's slow report at 16:10 restarts it.
    assert [f.event_ms for f in found] == [T0_MS + 16 * MIN + 10_000 + 20 * MIN]


def test_closed_beyond_1_km_with_the_same_id() -> None:
    grid = Grid()
    a, b = ERIE, north(*ERIE, 300)
    opened = drift(grid, {1: a, 2: b}, 21)
    assert [f.status for f in opened] == ["open"]
    t = T0_MS + 22 * MIN
    closed: list[Finding] = []
    for i, m in enumerate([600, 900, 1100, 1500, 2500]):  # vessel 2 leaves northwards
        closed += grid.report(1, t + i * MIN, *a)
        closed += grid.report(2, t + i * MIN + 10_000, *north(*ERIE, m), sog=8.0)
    assert [(f.status, f.event_ms) for f in closed] == [("closed", t + 2 * MIN + 10_000)]
    assert closed[0].alert_id == opened[0].alert_id
    assert closed[0].evidence["distance_m"] > 1000


def test_id_does_not_depend_on_which_vessel_is_seen_first() -> None:
    a, b = ERIE, north(*ERIE, 300)
    one = drift(Grid(), {316000001: a, 316000002: b}, 25)
    two = drift(Grid(), {316000002: b, 316000001: a}, 25)
    assert len(one) == len(two) == 1
    assert (one[0].mmsi, one[0].other_mmsi) == (two[0].mmsi, two[0].other_mmsi)
    assert one[0].alert_id == two[0].alert_id
    assert alert_id("ENCOUNTER", 1, 2, 5) == alert_id("ENCOUNTER", 2, 1, 5)


def test_severity_by_distance_to_the_boundary() -> None:
    def sev(lat: float, lon: float) -> str:
        found = drift(Grid(), {1: (lat, lon), 2: north(lat, lon, 100)}, 21)
        return found[0].severity

    assert GEO.boundary_distance_m(*ERIE) < TH.boundary_near_m
    assert sev(*ERIE) == "high"
    assert sev(*MICHIGAN) == "medium"


def test_resolution_7_puts_pairs_within_the_close_distance_in_adjacent_cells() -> None:
    """Pairs up to 1 km apart have equal or adjacent homes; the owner is in both rings."""
    lat, lon = ERIE
    for i in range(200):
        x = (lat + (i % 20) * 0.0007, lon + (i // 20) * 0.0011)
        for bearing_m in ((1000, 0), (0, 1000), (700, 700), (-700, 700)):
            y = (x[0] + bearing_m[0] / M_PER_DEG_LAT, x[1] + bearing_m[1] / 82_300)
            assert distance_m(*x, *y) <= 1000.5
            hx, hy = home_cell(*x), home_cell(*y)
            assert hy in grid_disk(hx, 1)
            px = Presence(1, *x, 1.0, T0_MS, False, hx)
            py = Presence(2, *y, 1.0, T0_MS, False, hy)
            owner = owner_cell(px, py)
            assert owner in grid_disk(hx, 1) and owner in grid_disk(hy, 1)


def test_fan_out_groups_the_ring_by_partition() -> None:
    home = home_cell(*ERIE)
    out = fan_out(home, 4)
    assert sorted(c for cells in out.values() for c in cells) == sorted(grid_disk(home, 1))
    for p, cells in out.items():
        assert all(cell_partition(c, 4) == p for c in cells)


def test_encounter_step_is_pure() -> None:
    x = Presence(2, *ERIE, 1.0, T0_MS + 25 * MIN, False, home_cell(*ERIE))
    y = Presence(1, *north(*ERIE, 100), 1.0, T0_MS + 25 * MIN - 5_000, False, x.home)
    state, found = encounter_step(None, x, y, TH, GEO.boundary_distance_m)
    assert state is not None and state.first_close_ms == x.event_ms and found == []
    again, found = encounter_step(
        dataclasses.replace(state, first_close_ms=T0_MS), x, y, TH, GEO.boundary_distance_m
    )
    assert again is not None and again.open and found[0].status == "open"
    assert state.first_close_ms == x.event_ms  # the input was not changed


def presence_record(home: str) -> dict[str, Any]:
    """The track stage's presence record (by name) of a vessel off Erie at T0."""
    return {
        "mmsi": 316001234,
        "source": "feed",
        "lat": ERIE[0],
        "lon": ERIE[1],
        "sog_kn": 1.5,
        "cog_deg": None,
        "event_ms": T0_MS,
        "exempt": False,
        "home": home,
        "name": "ALGOMA",
        "imo": 9600000,
    }


def test_a_presence_written_as_an_object_reads_as_from_dict() -> None:
    """A record written as an object (the form before rows) goes through the row check and
    from_row: the same presence as from_dict, types and all. Its cells are the ones of the
    ring the receiving partition hosts (the record names none), or none for a record that
    says ``"cells": []``; what a presence can do without may be left out."""
    home = home_cell(*ERIE)
    record = presence_record(home)
    d = orjson.loads(orjson.dumps(record))
    ring = fan_out(home, 4)
    assert sum(len(c) for c in ring.values()) == 7

    def read(obj: dict[str, Any], partition: int) -> Presence:
        row = PRESENCE_ROW_CHECK.row_of(obj)
        assert PRESENCE_ROW_CHECK.ok(row), PRESENCE_ROW_CHECK.problem(row)
        return Presence.from_row(row, partition, 4)

    for partition in range(4):
        fast = read(d, partition)
        slow = Presence.from_dict({**d, "cells": list(ring.get(partition, ()))})
        assert fast == slow
        assert [type(v) for v in fast] == [type(v) for v in slow]
    # Told to forget: no cells, whatever the partition hosts.
    gone = orjson.loads(orjson.dumps({**record, "cells": []}))
    assert all(read(gone, p).cells == () for p in range(4))
    partial = {k: v for k, v in d.items() if k not in ("imo", "exempt", "sog_kn")}
    p0 = next(iter(ring))
    assert read(partial, p0) == Presence.from_dict({**partial, "cells": ring[p0]})
    assert read(partial, p0).cells == ring[p0]
    # A null "cells" is the same as none.
    assert read({**d, "cells": None}, p0) == read(d, p0)
    # Without what it cannot do without, it is not a presence.
    for needed in ("mmsi", "source", "lat", "lon", "event_ms", "home"):
        row = PRESENCE_ROW_CHECK.row_of({k: v for k, v in d.items() if k != needed})
        assert not PRESENCE_ROW_CHECK.ok(row)
        assert PRESENCE_ROW_CHECK.problem(row) == f"no {needed!r}"


def test_presence_row_reads_back_column_by_column() -> None:
    """A row built by presence_row, every column a distinct value, through orjson: from_row
    gives each column to its own field (a swapped pair in either would fail), by_name (the
    PRESENCE_ROW header) agrees, and a forget row (cells []) has no cells."""
    home = home_cell(*ERIE)
    values = {**presence_record(home), "cog_deg": 271.5, "exempt": True}
    assert set(PRESENCE_ROW) == {*values, "cells"}
    row = orjson.loads(orjson.dumps(presence_row(**values)))
    assert dict(zip(PRESENCE_ROW, row, strict=True)) == {**values, "cells": None}
    assert row[PRESENCE_SOURCE] == "feed"
    ring = fan_out(home, 4)
    for partition in range(4):
        got = Presence.from_row(row, partition, 4)
        assert got == Presence.from_dict({**values, "cells": ring.get(partition, ())})
        assert got._asdict() == {
            **{k: v for k, v in values.items() if k != "source"},
            "cells": ring.get(partition, ()),
        }
    forget = row.copy()
    forget[PRESENCE_CELLS] = []
    assert all(Presence.from_row(forget, p, 4).cells == () for p in range(4))


def restarted(grid: Grid) -> Grid:
    """The grid after a restart: new states that took back only the pairs worth keeping (what
    the proximity stage checkpoints), with no vessels."""
    new = Grid(grid.n)
    new.homes = dict(grid.homes)
    for old, state in zip(grid.states, new.states, strict=True):
        state.restore(p for p in old.pairs.values() if worth_keeping(p))
    return new


def test_a_restored_open_pair_is_closed_with_its_id_and_not_opened_again() -> None:
    a, b = ERIE, north(*ERIE, 300)
    grid = Grid()
    opened = drift(grid, {1: a, 2: b}, 21)
    assert [f.status for f in opened] == ["open"]
    again = restarted(grid)
    assert all(s.changed == set() for s in again.states)
    # Close for 25 more minutes: without the restored pair, a new open (a new id) at 20 min.
    assert drift(again, {1: a, 2: b}, 25, start=T0_MS + 22 * MIN) == []
    t = T0_MS + 48 * MIN
    closed = again.report(1, t, *a) + again.report(2, t + 10_000, *north(*ERIE, 1500), sog=8.0)
    assert [(f.status, f.alert_id) for f in closed] == [("closed", opened[0].alert_id)]
    assert closed[0].opened_ms == opened[0].event_ms


def test_reports_up_to_a_restored_pairs_seen_time_are_not_evaluated_again() -> None:
    """After a crash Faust delivers again what was processed after the last commit: the
    pair's reports up to its checkpointed time were evaluated, and are not again."""
    a, far, near = ERIE, north(*ERIE, 1500), north(*ERIE, 300)
    grid = Grid()
    history = [(1, T0_MS + i * MIN, a) for i in range(5)]
    history += [(2, T0_MS + i * MIN + 10_000, far) for i in range(5)]
    history += [(1, T0_MS + i * MIN, a) for i in range(5, 27)]
    history += [(2, T0_MS + i * MIN + 10_000, near) for i in range(5, 27)]
    history.sort(key=lambda r: r[1])
    found = [f for m, t, pos in history for f in grid.report(m, t, *pos)]
    assert [f.status for f in found] == ["open"]
    again = restarted(grid)
    # The whole history again: the early reports 1.5 km apart would close the restored pair.
    assert [f for m, t, pos in history for f in again.report(m, t, *pos)] == []
    t = T0_MS + 28 * MIN
    assert drift(again, {1: a, 2: near}, 3, start=t) == []
    closed = again.report(2, t + 4 * MIN, *far, sog=8.0)
    assert [(f.status, f.alert_id) for f in closed] == [("closed", found[0].alert_id)]


def test_the_pairs_worth_keeping_that_change_are_noted_for_the_checkpoint() -> None:
    a, b = ERIE, north(*ERIE, 300)
    grid = Grid()
    drift(grid, {1: a, 2: b}, 0)  # close at one report: not worth keeping yet
    assert any((1, 2) in s.pairs for s in grid.states)
    assert all(s.changed == set() for s in grid.states)
    drift(grid, {1: a, 2: b}, 1, start=T0_MS + MIN)  # close for a minute: worth keeping
    holders = [s for s in grid.states if (1, 2) in s.pairs]
    assert holders and all(s.changed == {(1, 2)} for s in holders)
    assert all(not s.pairs[(1, 2)].open and worth_keeping(s.pairs[(1, 2)]) for s in holders)
    for s in holders:
        s.changed.clear()
    drift(grid, {1: a, 2: b}, 20, start=T0_MS + 2 * MIN)  # opens
    assert all(s.changed == {(1, 2)} and s.pairs[(1, 2)].open for s in holders)
    for s in holders:
        s.changed.clear()
    grid.report(2, T0_MS + 23 * MIN, *north(*ERIE, 1500), sog=8.0)
    assert all(s.changed == {(1, 2)} and (1, 2) not in s.pairs for s in holders)
    # A restored pair unseen for encounter_keep_s is dropped, and that is a change too.
    again = restarted(Grid())
    state = again.states[0]
    state.restore([PairState(1, 2, T0_MS, T0_MS, T0_MS - MIN, "high", seen_ms=T0_MS)])
    state.expire(T0_MS + TH.encounter_keep_s * 1000 - 1)
    assert (1, 2) in state.pairs and state.changed == set()
    state.expire(T0_MS + TH.encounter_keep_s * 1000 + 1)
    assert (1, 2) not in state.pairs and (1, 2) not in state.restored
    assert state.changed == {(1, 2)}


def test_a_restored_pair_in_progress_opens_when_it_would_have_with_the_same_id() -> None:
    a, b = ERIE, north(*ERIE, 300)
    whole = drift(Grid(), {1: a, 2: b}, 30)
    assert [f.status for f in whole] == ["open"]
    grid = Grid()
    assert drift(grid, {1: a, 2: b}, 10) == []
    again = restarted(grid)
    assert sum(len(s.pairs) for s in again.states) > 0
    # Without the pair taken back, the open would come 20 min after the restart.
    found = drift(again, {1: a, 2: b}, 19, start=T0_MS + 11 * MIN)
    assert [(f.status, f.event_ms, f.alert_id) for f in found] == [
        ("open", whole[0].event_ms, whole[0].alert_id)
    ]


def test_a_restored_pair_in_progress_waits_for_its_vessels_until_the_presence_ttl() -> None:
    state = Grid(1).states[0]
    seen = T0_MS + 5 * MIN
    state.restore([PairState(1, 2, T0_MS, seen, None, None, seen_ms=seen)])
    ttl_ms = TH.presence_ttl_s * 1000
    state.expire(seen + ttl_ms)  # its vessels not back yet: kept
    assert (1, 2) in state.pairs and state.changed == set()
    state.expire(seen + ttl_ms + 1)
    assert (1, 2) not in state.pairs and (1, 2) not in state.restored
    assert state.changed == {(1, 2)}
    # One not taken back is dropped as soon as a vessel is missing (as before).
    live = Grid(1).states[0]
    live._set_pair((1, 2), PairState(1, 2, T0_MS, seen, None, None, seen_ms=seen))
    live.expire(seen + MIN)
    assert (1, 2) not in live.pairs
