"""Test builders: reports and contexts with sensible defaults and explicit overrides."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mda.geo import Geography
from mda.landmask import LandMask
from mda.mid import MidTable
from mda.model import Report
from mda.rules.context import RuleContext
from mda.thresholds import Thresholds
from streams.pipeline import DecodeStage, Out, TrackStage

T0_MS = 1_780_315_200_000  # 2026-06-01T12:00:00Z


def make_report(at: int = T0_MS, **overrides: Any) -> Report:
    """A Class A position report in Lake Ontario (Canadian side) at event time ``at``."""
    fields: dict[str, Any] = {
        "mmsi": 316012345,
        "msg_type": 1,
        "event_ms": at,
        "time_source": "tagblock",
        "source": "test",
        "station": "S1",
        "lat": 43.80,
        "lon": -78.0,
        "sog_kn": 10.0,
        "cog_deg": 180.0,
        "heading_deg": 180,
        "nav_status": 0,
        "ais_class": "A",
        "dedup_key": f"payload-{at}",
    }
    fields.update(overrides)
    return Report(**fields)


def make_static(at: int = T0_MS, **overrides: Any) -> Report:
    fields: dict[str, Any] = {
        "msg_type": 5,
        "lat": None,
        "lon": None,
        "sog_kn": None,
        "cog_deg": None,
        "heading_deg": None,
        "nav_status": None,
        "name": "LAKE SPIRIT",
        "callsign": "CFK2345",
        "imo": 9234567,
        "ship_type": 70,
        "dedup_key": f"static-{at}",
    }
    fields.update(overrides)
    return make_report(at, **fields)


def make_context(**thresholds: Any) -> RuleContext:
    return RuleContext(
        Geography.load(),
        MidTable.load_default(),
        Thresholds.from_dict(thresholds),
        landmask=LandMask.load_default(),
    )


def through_track(
    decode: DecodeStage, track: TrackStage, batches: Iterable[bytes]
) -> Iterator[tuple[int, Out]]:
    """``ais.raw`` messages through the decode stage, its ``ais.reports`` messages through
    the track stage: every output of the track stage, with the reports partition it handled
    (the decode stage's other outputs, rejects, are dropped)."""
    for batch in batches:
        for o in decode.handle(batch):
            if o.topic == track.topics.reports:
                assert o.partition is not None
                for t in track.handle(o.value, o.partition):
                    yield o.partition, t


class RecordingProducer:
    """A producer that records what is sent (a replay's only use of its producer)."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    @property
    def values(self) -> list[bytes]:
        return [value for _, value in self.sent]

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))
