"""Vessel proximity: H3-keyed vessel sets expiring by event time, and ENCOUNTER (DESIGN.md §9).

ENCOUNTER — two vessels within 500 m, both SOG < 3 kn, for ≥ 20 min, outside exempt zones
(port, anchorage, lock zones and facility radii). high within 10 km of the boundary, else
medium; closed beyond 1 km. One alert per pair: ``mmsi`` the lower MMSI, ``other_mmsi`` the
other, the id the same whichever of the two is seen first.

How pairs meet. A vessel's *home* is its H3 cell at :data:`PRESENCE_RES` (7). Its presence is
sent to the home and the k=1 ring (7 cells), each cell living on partition ``cell % n`` of
``mda.presence``. Resolution 7 because its edge is 1.0–1.4 km over North America (1.34 km
minimum over the Great Lakes and the St. Lawrence, measured with h3): two cells at grid
distance 2 are at least one edge apart, so two vessels within the 1 km close distance have
homes that are equal or adjacent and share at least 4 of their 7 cells, and the midpoint of
any pair less than 2 km apart lies in a cell of both rings. Res 8 (edge ~0.5 km) would miss
pairs between 0.5 and 1 km across two cells; res 6 (edge ~3.7 km) would put a whole port in
one partition and make the per-cell sets large.

One alert, not seven. A pair is seen in every cell the two rings share, so every partition
holding a shared cell keeps the pair's state (:class:`ProximityState`, one per partition and
source), and only the *owner* reports it: the partition hosting :func:`owner_cell` — the cell
of the pair's midpoint (in both rings while the vessels are < 2 km apart), else the home of
the vessel whose report is being processed. Exactly one partition hosts a cell, and the
owner cell is always in the reporting vessel's ring, so exactly one partition emits each
transition, and it holds the state whenever both vessels' rings kept touching it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from mda.alerts import Finding, Severity
from mda.hexgrid import PRESENCE_RES, distance_m, grid_disk, latlng_to_cell
from mda.model import ROW_BOUNDS, H3Cell
from mda.rows import RowCheck, hints_of
from mda.thresholds import Thresholds

RULE = "ENCOUNTER"
#: Zone kinds where vessels lie close together by design (DESIGN.md §9 "exempt zones").
EXEMPT_KINDS = frozenset({"port", "anchorage", "lock"})


class ZoneLike(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def facility_id(self) -> str | None: ...


def is_exempt(zones: Iterable[ZoneLike | None]) -> bool:
    """True inside a port, anchorage or lock zone or a facility radius (a zone with a facility)."""
    return any(z is not None and (z.kind in EXEMPT_KINDS or z.facility_id) for z in zones)


def cell_partition(cell: str, partitions: int) -> int:
    """The ``mda.presence`` partition that hosts a cell: CRC-32 of the index, stable anywhere.

    Not ``int(cell, 16) % n``: an H3 index fills the digits of the finer resolutions with
    ones, so every res-7 cell would land on the same partition.
    """
    return zlib.crc32(cell.encode()) % partitions


def fan_out(home: H3Cell, partitions: int) -> dict[int, tuple[H3Cell, ...]]:
    """The home cell and its k=1 ring, grouped by the partition hosting each cell."""
    return dict(_fan_out(home, partitions))


@functools.lru_cache(maxsize=1 << 16)
def _fan_out(home: H3Cell, partitions: int) -> tuple[tuple[int, tuple[H3Cell, ...]], ...]:
    # Cached: ring and crc32 per call cost ~30 µs, a lookup ~0.3 µs (vessels stay in a cell).
    out: dict[int, list[H3Cell]] = defaultdict(list)
    for cell in sorted(grid_disk(home, 1)):
        out[cell_partition(cell, partitions)].append(cell)
    return tuple((p, tuple(cells)) for p, cells in sorted(out.items()))


@functools.lru_cache(maxsize=1 << 16)
def hosted_cells(home: H3Cell, partitions: int, partition: int) -> tuple[H3Cell, ...]:
    """The cells of ``home``'s ring that ``partition`` hosts (what :func:`fan_out` sends it).

    Cached, so every presence in a cell shares one tuple of the same strings.
    """
    return dict(_fan_out(home, partitions)).get(partition, ())


@functools.lru_cache(maxsize=1 << 14)
def home_cell(lat: float, lon: float) -> H3Cell:
    """A vessel's presence cell.

    Cached (~0.2 µs a hit against ~1 µs for h3): asked twice per position report, for the
    new position and for the previous one, which was the new one of the vessel's last report;
    a moored vessel repeats its position exactly.
    """
    return latlng_to_cell(lat, lon, PRESENCE_RES)


class Presence(NamedTuple):
    """A vessel at a place and time, as one partition of ``mda.presence`` receives it.

    ``cells`` are the cells of the vessel's ring that this partition hosts; empty when the
    vessel has moved away from every one of them (the partition forgets it).

    A named tuple, not a frozen dataclass: it is built for every presence record a partition
    receives (about two per position report), and a tuple is made in one call (~1 µs) where
    a frozen dataclass sets each of its 11 fields through ``object.__setattr__`` (~4 µs).
    Immutable all the same.
    """

    mmsi: int
    lat: float
    lon: float
    sog_kn: float | None
    event_ms: int
    exempt: bool
    home: H3Cell
    cells: tuple[H3Cell, ...] = ()
    cog_deg: float | None = None
    name: str | None = None
    imo: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Presence:
        return cls(
            mmsi=int(d["mmsi"]),
            lat=float(d["lat"]),
            lon=float(d["lon"]),
            sog_kn=None if d.get("sog_kn") is None else float(d["sog_kn"]),
            event_ms=int(d["event_ms"]),
            exempt=bool(d.get("exempt", False)),
            # Interned: a cell's index is shared by every presence in it (buffers hold many).
            home=H3Cell(sys.intern(d["home"])),
            cells=tuple(H3Cell(sys.intern(c)) for c in d.get("cells", ())),
            cog_deg=None if d.get("cog_deg") is None else float(d["cog_deg"]),
            name=d.get("name"),
            imo=d.get("imo"),
        )

    @classmethod
    def from_row(cls, row: Sequence[Any], partition: int, partitions: int) -> Presence:
        """The presence from a row of the track stage's record (:data:`PRESENCE_ROW`
        order) as orjson parsed it, on ``partition``. The record names no cells (``None``):
        they are the ones of its home's ring that this partition hosts (:func:`hosted_cells`,
        the same the sender fanned out to), except for a record with ``[]`` (the vessel moved
        away from every cell here: forget it). The values are taken as they are:
        :data:`PRESENCE_ROW_CHECK` has checked them."""
        mmsi, _source, lat, lon, sog_kn, cog_deg, event_ms, exempt, home, name, imo, cells = row
        if cells is None:
            ring = hosted_cells(home, partitions, partition)
        else:
            ring = tuple(H3Cell(sys.intern(c)) for c in cells)
        return cls._make(
            (mmsi, lat, lon, sog_kn, event_ms, exempt, sys.intern(home), ring, cog_deg, name, imo)
        )


def presence_row(
    mmsi: int,
    source: str,
    lat: float,
    lon: float,
    sog_kn: float | None,
    cog_deg: float | None,
    event_ms: int,
    exempt: bool,
    home: H3Cell,
    name: str | None,
    imo: int | None,
    cells: list[H3Cell] | None = None,
) -> list[Any]:
    """A presence record on ``mda.presence`` as a row: its parameters, in their order, are
    the columns (:data:`PRESENCE_ROW` is read from this signature, so the order is written
    once). ``cells`` is ``None`` (the hosted cells of the home's ring) or ``[]`` (forget the
    vessel)."""
    return [mmsi, source, lat, lon, sog_kn, cog_deg, event_ms, exempt, home, name, imo, cells]


#: The columns of a presence record on ``mda.presence``, a row (each message names them):
#: orjson writes and reads a row faster than an object, and the message is ~40% smaller.
PRESENCE_ROW: tuple[str, ...] = tuple(inspect.signature(presence_row).parameters)
#: What a presence row read from ``mda.presence`` must be before :meth:`Presence.from_row`
#: takes it: :func:`presence_row`'s columns and types, a latitude and longitude on Earth.
PRESENCE_ROW_CHECK = RowCheck(
    PRESENCE_ROW,
    hints_of(presence_row),
    bounds=ROW_BOUNDS,
    # A record written as an object, or by a track stage of another version, may leave out
    # what a presence can do without.
    defaults={"sog_kn": None, "cog_deg": None, "exempt": False, "name": None, "imo": None}
    | {
        name: p.default
        for name, p in inspect.signature(presence_row).parameters.items()
        if p.default is not inspect.Parameter.empty
    },
)
#: Where a row holds its source and its cells.
PRESENCE_SOURCE = PRESENCE_ROW.index("source")
PRESENCE_CELLS = PRESENCE_ROW.index("cells")


@dataclass(frozen=True, slots=True)
class PairState:
    """One pair (``a`` < ``b``): since when it has been close, and its open alert if any."""

    a: int
    b: int
    first_close_ms: int | None = None
    last_close_ms: int | None = None
    opened_ms: int | None = None
    severity: Severity | None = None
    seen_ms: int = 0

    @property
    def open(self) -> bool:
        return self.opened_ms is not None


def owner_cell(x: Presence, y: Presence) -> H3Cell:
    """The one cell whose partition reports the pair at this evaluation.

    The cell of the midpoint when it lies in both vessels' rings (always, below ~2 km apart),
    else the home of ``x``, the vessel whose report is being processed. Either way it is in
    ``x``'s ring, so the partition hosting it has received ``x``.
    """
    mid = home_cell((x.lat + y.lat) / 2, (x.lon + y.lon) / 2)
    if mid in grid_disk(x.home, 1) and mid in grid_disk(y.home, 1):
        return mid
    return x.home


def _slow(p: Presence, th: Thresholds) -> bool:
    return p.sog_kn is not None and p.sog_kn < th.encounter_sog_kn


def _can_pair(p: Presence, th: Thresholds) -> bool:
    """Slow and not exempt: only two such vessels can be close (an ENCOUNTER episode)."""
    return _slow(p, th) and not p.exempt


def _position(p: Presence) -> dict[str, Any]:
    return {"lat": p.lat, "lon": p.lon, "sog_kn": p.sog_kn, "time_ms": p.event_ms}


def encounter_step(
    pair: PairState | None,
    x: Presence,
    y: Presence,
    th: Thresholds,
    boundary_distance_m: Callable[[float, float], float],
) -> tuple[PairState | None, list[Finding]]:
    """ENCOUNTER for one pair, on the report ``x`` with the other vessel's latest ``y``.

    Pure: (pair state, the two latest presences) → (new pair state or None, findings). The
    close episode starts at the first report that finds the pair close (≤ 500 m, both slow,
    neither exempt) and restarts whenever a report finds it not close; the alert opens on the
    report that makes the episode ≥ 20 min and closes on the first report beyond 1 km.
    ``event_time`` of each finding is ``x``'s; its position is the lower MMSI's.
    """
    open_ = pair is not None and pair.opened_ms is not None
    if not open_ and not (_can_pair(x, th) and _can_pair(y, th)):
        return None, []  # not close, nothing open: the common case, decided without a distance
    a, b = (x, y) if x.mmsi < y.mmsi else (y, x)
    now = x.event_ms
    d_m = distance_m(x.lat, x.lon, y.lat, y.lon)
    state = pair or PairState(a.mmsi, b.mmsi)

    def finding(status: str, severity: Severity, opened_ms: int, summary: str) -> Finding:
        since = state.first_close_ms if state.first_close_ms is not None else opened_ms
        evidence = {
            "distance_m": round(d_m, 1),
            "duration_s": (now - since) / 1000,
            "close_since_ms": since,
            "vessel": _position(a),
            "other": _position(b),
        }
        return Finding(
            rule=RULE,
            severity=severity,
            status=status,  # type: ignore[arg-type]
            mmsi=a.mmsi,
            other_mmsi=b.mmsi,
            event_ms=now,
            opened_ms=opened_ms,
            lat=a.lat,
            lon=a.lon,
            summary=summary,
            evidence=evidence,
            thresholds={
                "distance_m": th.encounter_distance_m,
                "sog_kn": th.encounter_sog_kn,
                "min_s": th.encounter_min_s,
                "close_m": th.encounter_close_m,
                "boundary_near_m": th.boundary_near_m,
            },
        )

    if state.opened_ms is not None:
        if d_m <= th.encounter_close_m:
            return dataclasses.replace(state, seen_ms=now), []
        assert state.severity is not None
        closed = finding(
            "closed",
            state.severity,
            state.opened_ms,
            f"MMSI {a.mmsi} and MMSI {b.mmsi} are {d_m:.0f} m apart again after their encounter.",
        )
        return None, [closed]

    if d_m > th.encounter_distance_m:  # (both slow and neither exempt: checked above)
        return None, []
    first = state.first_close_ms if state.first_close_ms is not None else now
    state = dataclasses.replace(state, first_close_ms=first, last_close_ms=now, seen_ms=now)
    if now - first < th.encounter_min_s * 1000:
        return state, []
    mid_lat, mid_lon = (a.lat + b.lat) / 2, (a.lon + b.lon) / 2
    boundary_m = boundary_distance_m(mid_lat, mid_lon)
    severity: Severity = "high" if boundary_m <= th.boundary_near_m else "medium"
    state = dataclasses.replace(state, opened_ms=now, severity=severity)
    opened = finding(
        "open",
        severity,
        now,
        f"MMSI {a.mmsi} and MMSI {b.mmsi} have been within {th.encounter_distance_m:.0f} m "
        f"of each other below {th.encounter_sog_kn:g} kn for {(now - first) / 60000:.0f} min "
        f"({d_m:.0f} m apart, {boundary_m / 1000:.1f} km from the boundary).",
    )
    opened.evidence["boundary_distance_m"] = round(boundary_m, 1)
    return state, [opened]


#: A pair close this long (or open) is kept across a restart (``streams.proximity``'s
#: checkpoint): an encounter in progress is not re-timed by a rebalance. A younger one is
#: left out: pairs begin and end with every report of two vessels passing each other, and a
#: checkpoint write costs a table write (on the bench's recordings 2,470 pairs began, 10 were
#: ever close for a minute).
CHECKPOINT_AFTER_MS = 60_000


def worth_keeping(state: PairState) -> bool:
    """Open, or close for :data:`CHECKPOINT_AFTER_MS` or more: kept across a restart."""
    return state.opened_ms is not None or (
        state.first_close_ms is not None
        and state.seen_ms - state.first_close_ms >= CHECKPOINT_AFTER_MS
    )


class ProximityState:
    """The vessels one ``mda.presence`` partition holds for one source, and their pairs.

    Bounded by event time: a vessel is dropped ``presence_ttl_s`` after its last report (of
    the partition's event time, advanced by :meth:`expire`), with the pairs it was in that
    have no open alert; an open pair is dropped ``encounter_keep_s`` after it was last seen.
    """

    def __init__(
        self, th: Thresholds, boundary_distance_m: Callable[[float, float], float]
    ) -> None:
        self.th = th
        self.boundary_distance_m = boundary_distance_m
        #: every vessel's latest presence (the web page's vessels, the pairs' other side)
        self.vessels: dict[int, Presence] = {}
        #: per cell, the vessels there that can pair (slow, not exempt): the only ones a
        #: report can start a pair with
        self.members: dict[H3Cell, set[int]] = {}
        self.pairs: dict[tuple[int, int], PairState] = {}
        self.pairs_of: dict[int, set[tuple[int, int]]] = defaultdict(set)
        self.now_ms = 0
        #: Pairs worth keeping (:func:`worth_keeping`) that changed, or were dropped, since
        #: the stage last took them: what it writes to its checkpoint (``streams.proximity``).
        self.changed: set[tuple[int, int]] = set()
        #: Pairs restored from a checkpoint (:meth:`restore`) and not evaluated since, with the
        #: event time they were last seen at: a report up to then was evaluated before the
        #: restart (its message is read again after a crash), so it is not evaluated again;
        #: and one whose vessels have not come back yet is not dropped for that before
        #: ``presence_ttl_s`` after that time.
        self.restored: dict[tuple[int, int], int] = {}

    def _forget(self, mmsi: int) -> None:
        old = self.vessels.pop(mmsi, None)
        if old is None or not _can_pair(old, self.th):
            return  # (only a vessel that can pair is a member of its cells)
        for cell in old.cells:
            members = self.members.get(cell)
            if members is not None:
                members.discard(mmsi)
                if not members:
                    del self.members[cell]

    def _set_pair(self, key: tuple[int, int], state: PairState | None) -> None:
        if state is None:
            old = self.pairs.pop(key, None)
            if old is None:
                return
            if worth_keeping(old):
                self.changed.add(key)
                self.restored.pop(key, None)
            for m in key:
                self.pairs_of[m].discard(key)
                if not self.pairs_of[m]:
                    del self.pairs_of[m]
        else:
            if worth_keeping(state):
                self.changed.add(key)
            self.pairs[key] = state
            for m in key:
                self.pairs_of[m].add(key)

    def restore(self, pairs: Iterable[PairState]) -> None:
        """Take back pairs from a checkpoint (another worker's, or this one's before a
        restart), before any presence: the new owner of a partition closes an encounter the
        old one opened, does not open it again, and opens one in progress when it would
        have."""
        for state in pairs:
            if not worth_keeping(state):
                continue  # (not checkpointed)
            key = (state.a, state.b)
            self._set_pair(key, state)
            self.restored[key] = state.seen_ms
        self.changed.clear()

    def observe(self, x: Presence) -> list[Finding]:
        """Take in one presence; the findings this partition owns (see :func:`owner_cell`)."""
        ttl_ms = self.th.presence_ttl_s * 1000
        prev = self.vessels.get(x.mmsi)
        if prev is not None and x.event_ms < prev.event_ms:
            return []  # reordered: the newer position stands
        self._forget(x.mmsi)
        self.now_ms = max(self.now_ms, x.event_ms)
        if not x.cells:
            return []  # moved out of this partition's cells
        self.vessels[x.mmsi] = x
        candidates: set[int] = set()
        # Only two vessels that can pair start one (encounter_step finds nothing else close):
        # the cells' member sets hold only those, and a vessel that cannot pair is compared
        # only with the pairs it is already in.
        if _can_pair(x, self.th):
            for cell in x.cells:
                members = self.members.get(cell)
                if members is None:
                    self.members[cell] = {x.mmsi}
                else:
                    candidates |= members
                    members.add(x.mmsi)
        pairs = self.pairs_of.get(x.mmsi)
        if pairs:
            for key in pairs:
                candidates.add(key[0] if key[1] == x.mmsi else key[1])
        if not candidates:
            return []
        candidates.discard(x.mmsi)
        findings: list[Finding] = []
        for other in sorted(candidates):
            y = self.vessels.get(other)
            if y is None or abs(x.event_ms - y.event_ms) > ttl_ms:
                continue
            key = (min(x.mmsi, other), max(x.mmsi, other))
            if self.restored and key in self.restored:
                if x.event_ms <= self.restored[key]:
                    continue  # evaluated before the restart
                del self.restored[key]
            state, found = encounter_step(
                self.pairs.get(key), x, y, self.th, self.boundary_distance_m
            )
            self._set_pair(key, state)
            if found and owner_cell(x, y) in x.cells:
                findings += found
        return findings

    def expire(self, now_ms: int) -> None:
        """Advance the event time to ``now_ms``; drop stale vessels and pairs."""
        self.now_ms = max(self.now_ms, now_ms)
        limit = self.now_ms - self.th.presence_ttl_s * 1000
        for mmsi in [m for m, p in self.vessels.items() if p.event_ms < limit]:
            self._forget(mmsi)
        keep_limit = self.now_ms - self.th.encounter_keep_s * 1000
        for key, state in list(self.pairs.items()):
            if state.open:
                if state.seen_ms < keep_limit:
                    self._set_pair(key, None)
            elif key[0] not in self.vessels or key[1] not in self.vessels:
                if key in self.restored and state.seen_ms >= limit:
                    continue  # taken back from a checkpoint: its vessels have time to return
                self._set_pair(key, None)

    def open_pairs(self) -> list[PairState]:
        return [s for s in self.pairs.values() if s.open]
