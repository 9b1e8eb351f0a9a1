"""The one typed wrapper around h3 (h3-py ships no type hints).

Resolutions, chosen for the distances of the rule catalogue:

- ``TRACK_RES = 9``: the ``h3_cell`` of an alert (DESIGN.md §8); edge ~174 m, area ~0.1 km²,
  fine enough to place a vessel within a harbour basin.
- ``PRESENCE_RES = 7``: the proximity partitioning key; edge ~1.2 km (~2.3 km across), so
  with the k=1 ring every pair within the 1 km ENCOUNTER close distance meets in at least one
  cell, while a busy port still spreads over several partitions.
"""

from __future__ import annotations

import h3

from mda.model import H3Cell

TRACK_RES = 9
PRESENCE_RES = 7


def latlng_to_cell(lat: float, lon: float, res: int = TRACK_RES) -> H3Cell:
    """The H3 cell (hex string) holding a WGS84 position at resolution ``res``."""
    return H3Cell(h3.latlng_to_cell(lat, lon, res))


def grid_disk(cell: H3Cell, k: int = 1) -> list[H3Cell]:
    """The cell and every cell within ``k`` steps of it."""
    return [H3Cell(c) for c in h3.grid_disk(cell, k)]


def cell_to_parent(cell: H3Cell, res: int) -> H3Cell:
    """The ancestor of ``cell`` at the coarser resolution ``res``."""
    return H3Cell(h3.cell_to_parent(cell, res))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 positions (h3's haversine)."""
    return float(h3.great_circle_distance((lat1, lon1), (lat2, lon2), unit="m"))


def is_valid_cell(cell: str) -> bool:
    """True for a valid H3 cell index (hex string) of any resolution."""
    return bool(h3.is_valid_cell(cell))


def cell_resolution(cell: H3Cell) -> int:
    """The resolution of an H3 cell."""
    return int(h3.get_resolution(cell))
