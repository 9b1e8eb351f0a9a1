"""Default thresholds of the rule catalogue v1 (DESIGN.md §9); every one is configurable.

Each alert carries, in its ``thresholds`` object, the parameters of the rule that fired, so a
watch officer sees exactly what was applied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Rule parameters; names carry their units."""

    # POSITION_JUMP: consecutive positions imply > jump_speed_kn over > jump_distance_m.
    jump_speed_kn: float = 60.0
    jump_distance_m: float = 2_000.0
    # INVALID_MMSI: once per MMSI per window.
    invalid_mmsi_repeat_s: int = 24 * 3600
    # BORDER_CROSSING: the side changes only this far past the line.
    border_hysteresis_m: float = 500.0
    # Jurisdiction / severity: "near the boundary".
    boundary_near_m: float = 10_000.0
    # Duplicate suppression: the same transmission heard again within this window.
    duplicate_window_s: int = 60
    # Out-of-order events older than the vessel's last report by more than this are rejected
    # as late (the lateness policy); smaller reorderings are accepted but not used for rules.
    allowed_lateness_s: int = 300

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, overrides: dict[str, Any]) -> Thresholds:
        """Defaults with ``overrides`` applied; unknown names are an error, not ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(cls(), **overrides)
