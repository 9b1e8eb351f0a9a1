"""The track stage's fast paths give the same answers as the plain ones (issue 8).

- ``VesselTrack.evolve`` (slots filled through their descriptors) against
  ``dataclasses.replace``, field for field and on the bundled recordings end to end.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

from mda.geo import Geography
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.rules.context import RuleContext
from mda.state import TRACK_FIELDS, Crossing, OpenAlert, VesselTrack
from replay.files import iter_raw_lines
from streams.pipeline import DecodeStage, TrackStage
from streams.settings import Settings
from streams.topics import TopicNames

NAMES = TopicNames.from_settings(Settings())
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


def test_evolve_refuses_an_unknown_field() -> None:
    with pytest.raises(TypeError, match="no field 'latitude'"):
        _full_track().evolve(latitude=1.0)


def _run_recordings(ctx: RuleContext) -> list[bytes]:
    """Every message the track stage sends for the bundled recordings, then every track."""
    out: list[bytes] = []
    decode = DecodeStage(NAMES, 2)
    track = TrackStage(NAMES, 2, ctx, {})
    for path in sorted(DATA.glob("*.nmea")) + sorted(DATA.glob("*.ais")):
        lines = list(iter_raw_lines(path, source=path.name, ingest_ms=1_700_000_000_000))
        batches = [
            orjson.dumps({"lines": [ln.to_dict() for ln in lines[i : i + 200]]})
            for i in range(0, len(lines), 200)
        ]
        batches.append(orjson.dumps({"ctl": "eof", "run": "r", "source": path.name}))
        for b in batches:
            for o in decode.handle(b):
                if o.topic == NAMES.reports:
                    assert o.partition is not None
                    out += [x.topic.encode() + x.value for x in track.handle(o.value, o.partition)]
    out += [orjson.dumps(track.tracks[k]) for k in sorted(track.tracks)]
    return out


def test_recordings_give_the_same_alerts_and_tracks_as_dataclasses_replace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = RuleContext(Geography.load(), MidTable.load_default(), landmask=LandMask.load_default())
    fast = _run_recordings(ctx)
    monkeypatch.setattr(VesselTrack, "evolve", lambda self, **kw: dataclasses.replace(self, **kw))
    plain = _run_recordings(ctx)
    assert sum(b'"alert_id"' in b for b in fast) > 30
    assert fast == plain
