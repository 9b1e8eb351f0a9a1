"""The worker's query pages: ``GET /vessels?cell=<h3>`` and ``GET /vessels?bbox=…`` (GeoJSON).

Imported by :mod:`streams.agents` (which owns the state it reads). A worker answers for the
vessels of the ``ais.reports`` partitions it holds (its part of the track table): with
several workers, ask each and merge (features are keyed by MMSI); the response says which
partitions it covered.
"""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from mda.picture import Area, QueryError, vessels_geojson
from streams.app import app


@app.page("/vessels")
async def vessels(self: View, request: Request) -> Response:
    """Vessels last seen in the cell or bounding box within ``max_age_s`` (default
    ``presence_ttl_s``) of event time before the newest position this worker holds."""
    from streams import agents  # registered by then: agents imports this module

    query = request.query
    try:
        area = Area.parse(query.get("cell"), query.get("bbox"))
        max_age_s = float(query.get("max_age_s") or agents.thresholds.presence_ttl_s)
    except (QueryError, ValueError) as e:
        return self.json({"error": str(e)}, status=400)
    tracks = agents.current_tracks()
    now_ms = max((t.pos_ms for t in tracks if t.pos_ms is not None), default=0)
    stage = agents.proximity_stage()
    body: dict[str, Any] = vessels_geojson(
        tracks,
        area,
        agents.mids.flag_of,
        now_ms,
        max_age_s,
        stage.open_encounters(),
    )
    assigned = app.assignor.assigned_actives() if app.assignor else set()
    body["partitions"] = sorted(tp.partition for tp in assigned if tp.topic == agents.names.reports)
    return self.json(body)


import streams.watch  # noqa: E402, F401  (the watch-floor page: /watch/)
