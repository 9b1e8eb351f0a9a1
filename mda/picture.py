"""The live picture: which vessels are in an H3 cell or a bounding box now, as GeoJSON.

Pure: the caller hands the tracks, the flag lookup and "now" (event time); the worker's
``/vessels`` page (``streams.web``) serves the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mda.alerts import iso_utc
from mda.hexgrid import cell_resolution, is_valid_cell, latlng_to_cell
from mda.model import H3Cell
from mda.state import VesselTrack


class QueryError(ValueError):
    """A /vessels query that cannot be answered (bad cell, bad bbox, neither given)."""


@dataclass(frozen=True, slots=True)
class Area:
    """An H3 cell (any resolution) or a lon/lat bounding box."""

    cell: str | None = None
    bbox: tuple[float, float, float, float] | None = None

    @classmethod
    def parse(cls, cell: str | None, bbox: str | None) -> Area:
        if cell:
            if not is_valid_cell(cell):
                raise QueryError(f"not an H3 cell: {cell!r}")
            return cls(cell=cell)
        if bbox:
            try:
                parts = tuple(float(v) for v in bbox.split(","))
            except ValueError as e:
                raise QueryError(f"bbox must be minlon,minlat,maxlon,maxlat: {bbox!r}") from e
            if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
                raise QueryError(f"bbox must be minlon,minlat,maxlon,maxlat: {bbox!r}")
            return cls(bbox=(parts[0], parts[1], parts[2], parts[3]))
        raise QueryError("give cell=<h3 index> or bbox=minlon,minlat,maxlon,maxlat")

    def contains(self, lat: float, lon: float) -> bool:
        if self.cell is not None:
            return latlng_to_cell(lat, lon, cell_resolution(H3Cell(self.cell))) == self.cell
        assert self.bbox is not None
        min_lon, min_lat, max_lon, max_lat = self.bbox
        return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def vessels_geojson(
    tracks: Iterable[VesselTrack],
    area: Area,
    flag_of: Callable[[int], str | None],
    now_ms: int,
    max_age_s: float,
    extra_alerts: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the vessels last seen in ``area`` at most ``max_age_s``
    of event time before ``now_ms``: last position, SOG, COG, name, flag, open alerts."""
    features: list[dict[str, Any]] = []
    oldest_ms = now_ms - max_age_s * 1000
    for t in tracks:
        if t.lat is None or t.lon is None or t.pos_ms is None or t.pos_ms < oldest_ms:
            continue
        if not area.contains(t.lat, t.lon):
            continue
        alerts = [
            {"rule": a.rule, "severity": a.severity, "opened": iso_utc(a.opened_ms)}
            for a in t.open_alerts
        ]
        for a in (extra_alerts or {}).get(t.mmsi, ()):
            other = a["other_mmsi"] if a["mmsi"] == t.mmsi else a["mmsi"]
            alerts.append(
                {
                    "rule": a["rule"],
                    "severity": a["severity"],
                    "opened": iso_utc(a["opened_ms"]),
                    "other_mmsi": other,
                }
            )
        features.append(
            {
                "type": "Feature",
                "id": t.mmsi,
                "geometry": {"type": "Point", "coordinates": [t.lon, t.lat]},
                "properties": {
                    "mmsi": t.mmsi,
                    "name": t.name,
                    "imo": t.imo,
                    "flag": flag_of(t.mmsi),
                    "sog_kn": t.sog_kn,
                    "cog_deg": t.cog_deg,
                    "last_seen": iso_utc(t.pos_ms),
                    "open_alerts": alerts,
                },
            }
        )
    features.sort(key=lambda f: f["id"])
    return {"type": "FeatureCollection", "features": features}
