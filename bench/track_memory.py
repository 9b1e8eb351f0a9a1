"""Memory of track state for many vessels: bytes per vessel, serialised and in memory.

Each synthetic vessel gets a static report and two position reports through the real
``mda.track.step`` (so the stored ``VesselTrack`` values look like a live table's), spread
over the Great Lakes. Reports ``len(orjson.dumps(track))`` (what the changelog and RocksDB
hold per vessel) and the tracemalloc size of the dict of tracks (what a worker's memory
table holds).

    python bench/track_memory.py --vessels 200000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from typing import Any

import orjson

from mda.model import Report
from mda.rules.context import RuleContext
from mda.state import VesselTrack
from mda.track import step

T0_MS = 1_780_315_200_000


def build_tracks(n: int, ctx: RuleContext) -> dict[int, VesselTrack]:
    tracks: dict[int, VesselTrack] = {}
    for i in range(n):
        mmsi = 316_000_000 + i
        lat, lon = 43.2 + (i % 400) * 0.0015, -79.5 + (i % 500) * 0.008  # Lake Ontario
        track = None
        reports: list[dict[str, Any]] = [
            {"msg_type": 5, "name": f"VESSEL {i}", "callsign": f"CF{i % 10000:04d}",
             "imo": 9_000_000 + i % 999_999, "ship_type": 70},
            {"msg_type": 1, "lat": lat, "lon": lon, "sog_kn": 10.0, "cog_deg": 90.0,
             "nav_status": 0},
            {"msg_type": 1, "lat": lat, "lon": lon + 0.001, "sog_kn": 10.0, "cog_deg": 90.0,
             "nav_status": 0},
        ]  # fmt: skip
        for k, fields in enumerate(reports):
            r = Report(
                mmsi=mmsi,
                event_ms=T0_MS + k * 10_000,
                time_source="tagblock",
                source="mem",
                station="S1",
                ais_class="A",
                dedup_key=f"{mmsi}-{k}",
                **fields,
            )
            track = step(track, r, ctx).track
        assert track is not None
        tracks[mmsi] = track
    return tracks


def measure(n: int, ctx: RuleContext, templates: int = 1000) -> dict[str, float]:
    """Bytes per vessel: serialised (mean of orjson.dumps) and in memory (tracemalloc).

    ``templates`` tracks come from ``step``; the ``n`` measured ones are decoded from their
    serialised form with a new MMSI and name each, as a worker recovering its table from the
    changelog builds them (independent objects, nothing shared between vessels).
    """
    wire = [orjson.loads(orjson.dumps(t)) for t in build_tracks(templates, ctx).values()]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracks: dict[int, VesselTrack] = {}
    for i in range(n):
        d = dict(wire[i % templates])
        mmsi = 316_000_000 + i
        d["mmsi"], d["name"] = mmsi, f"VESSEL {i}"
        tracks[mmsi] = VesselTrack.from_dict(d)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    serialised = sum(len(orjson.dumps(t)) for t in tracks.values())
    return {
        "vessels": n,
        "memory_bytes_per_vessel": (after - before) / n,
        "serialised_bytes_per_vessel": serialised / n,
        "memory_total_mb": (after - before) / 2**20,
        "serialised_total_mb": serialised / 2**20,
    }


def main() -> None:
    from tests.unit.builders import make_context

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vessels", type=int, default=200_000)
    args = ap.parse_args()
    started = time.perf_counter()
    m = measure(args.vessels, make_context())
    print(
        f"{m['vessels']} vessels: {m['memory_bytes_per_vessel']:.0f} B/vessel in memory "
        f"({m['memory_total_mb']:.0f} MB), {m['serialised_bytes_per_vessel']:.0f} B/vessel "
        f"serialised ({m['serialised_total_mb']:.0f} MB); {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
