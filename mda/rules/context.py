"""What every rule may consult besides the track: geography, land mask, MID table, thresholds."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Protocol

from mda.geo import Geography, Zone
from mda.isps import ReferenceData
from mda.mid import MidTable
from mda.thresholds import Thresholds


class WaterMask(Protocol):
    """Answers POSITION_ON_LAND: is a position further than ``margin_m`` from water."""

    def is_on_land(self, lat: float, lon: float, margin_m: float = 1000.0) -> bool: ...


@dataclass(frozen=True)
class RuleContext:
    geography: Geography
    mids: MidTable
    thresholds: Thresholds = field(default_factory=Thresholds)
    landmask: WaterMask | None = None
    #: ISPS reference data (DESIGN.md §7); None: the ISPS rules do not run.
    reference: ReferenceData | None = None

    @functools.cached_property
    def _zones_by_id(self) -> dict[str, Zone]:
        return {z.zone_id: z for z in self.geography.zones}

    def zone(self, zone_id: str) -> Zone:
        return self._zones_by_id[zone_id]

    def find_zone(self, zone_id: str) -> Zone | None:
        """The zone, or None when it is no longer configured (zones changed on restart)."""
        return self._zones_by_id.get(zone_id)
