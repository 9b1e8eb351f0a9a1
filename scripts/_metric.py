"""Metric buffers on lon/lat geometry for the build scripts (shapely only, no pyproj).

A buffer of D metres is computed band by band: the geometry is cut into 1°-latitude bands (with
a margin of D), each band is mapped to a local equirectangular frame (x = Δlon·cos(lat_mid)·
111.32 km, y = Δlat·110.95 km), buffered in metres, mapped back and clipped to its band. Within
a 1° band the east-west scale error is at most tan(lat)·0.5°, under 1.3% at 55 N.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

M_PER_DEG_LAT = 110_950.0  # mid-latitude value; varies 110.6–111.7 km from the equator to the pole
M_PER_DEG_LON_EQ = 111_320.0


def local_frame(lat0: float) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Forward/inverse maps lon/lat <-> metres in an equirectangular frame true at ``lat0``."""
    kx = M_PER_DEG_LON_EQ * math.cos(math.radians(lat0))

    def fwd(xy: Any) -> Any:
        return np.column_stack([xy[:, 0] * kx, (xy[:, 1] - lat0) * M_PER_DEG_LAT])

    def inv(xy: Any) -> Any:
        return np.column_stack([xy[:, 0] / kx, xy[:, 1] / M_PER_DEG_LAT + lat0])

    return fwd, inv


def buffer_m(geom: BaseGeometry, distance_m: float, band_deg: float = 1.0) -> BaseGeometry:
    """Buffer ``geom`` (lon/lat) by ``distance_m`` metres, 1°-latitude band by band."""
    if geom.is_empty:
        return geom
    minx, miny, maxx, maxy = geom.bounds
    margin_deg = distance_m / M_PER_DEG_LAT + 0.05
    lat = math.floor((miny - margin_deg) / band_deg) * band_deg
    pieces = []
    while lat < maxy + margin_deg:
        band = box(minx - 10, lat, maxx + 10, lat + band_deg)
        near = box(minx - 10, lat - margin_deg, maxx + 10, lat + band_deg + margin_deg)
        part = shapely.intersection(geom, near)
        if not part.is_empty:
            fwd, inv = local_frame(lat + band_deg / 2)
            grown = shapely.transform(shapely.transform(part, fwd).buffer(distance_m, 8), inv)
            pieces.append(shapely.intersection(grown, band))
        lat += band_deg
    return shapely.unary_union(pieces)


def circle_m(lat: float, lon: float, radius_m: float, quad_segs: int = 16) -> BaseGeometry:
    """A circle of ``radius_m`` metres around a position, as a lon/lat polygon."""
    fwd, inv = local_frame(lat)
    centre = fwd(np.array([[lon, lat]]))[0]
    disc = shapely.Point(centre).buffer(radius_m, quad_segs)
    return shapely.transform(disc, inv)


def rectangle_m(
    lat: float, lon: float, length_m: float, width_m: float, axis_deg: float
) -> BaseGeometry:
    """A rectangle centred on a position, its long axis along ``axis_deg`` (true bearing)."""
    fwd, inv = local_frame(lat)
    cx, cy = fwd(np.array([[lon, lat]]))[0]
    a = math.radians(axis_deg)
    ux, uy = math.sin(a), math.cos(a)  # along the axis (east, north)
    vx, vy = uy, -ux  # across
    hl, hw = length_m / 2, width_m / 2
    corners = [
        (cx + sx * hl * ux + sy * hw * vx, cy + sx * hl * uy + sy * hw * vy)
        for sx, sy in ((1, 1), (1, -1), (-1, -1), (-1, 1))
    ]
    return shapely.transform(shapely.Polygon(corners), inv)
