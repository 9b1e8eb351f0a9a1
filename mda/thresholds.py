"""Default thresholds of the rule catalogue v1 (DESIGN.md §9); every one is configurable.

Each alert carries, in its ``thresholds`` object, the parameters of the rule that fired, so a
watch officer sees exactly what was applied.
"""

from __future__ import annotations

import dataclasses
import math
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
    # AIS_GAP: silence by class / state; a station is silent after station_silence_s.
    gap_class_a_s: int = 30 * 60
    gap_class_b_s: int = 60 * 60
    gap_slow_s: int = 3 * 3600
    gap_slow_sog_kn: float = 0.5
    station_silence_s: int = 10 * 60
    # IDENTITY_CONFLICT: ≥ conflict_jumps jumps between clusters > conflict_distance_m apart.
    conflict_distance_m: float = 10_000.0
    conflict_jumps: int = 3
    conflict_window_s: int = 30 * 60
    # POSITION_ON_LAND: further than this from the nearest water.
    land_margin_m: float = 1_000.0
    # LOITERING: slow for loiter_min_s; closed when faster than release speed for release time.
    loiter_sog_kn: float = 2.0
    loiter_min_s: int = 60 * 60
    loiter_release_sog_kn: float = 4.0
    loiter_release_s: int = 5 * 60
    loiter_update_s: int = 60 * 60
    # BORDER_CROSSING escalations.
    crossing_return_s: int = 2 * 3600
    crossing_slow_kn: float = 3.0
    crossing_dark_s: int = 30 * 60
    # SPEEDING: over the zone limit + margin for n reports spanning a minimum time.
    speeding_margin_kn: float = 1.0
    speeding_reports: int = 3
    speeding_min_s: int = 2 * 60
    # AIS-observed port calls.
    port_call_sog_kn: float = 0.5
    port_call_min_s: int = 2 * 3600
    port_calls_kept: int = 10
    # ENCOUNTER: two vessels within encounter_distance_m, both below encounter_sog_kn, for
    # encounter_min_s, outside exempt zones; closed beyond encounter_close_m. A vessel's
    # presence is forgotten presence_ttl_s of event time after its last report (the proximity
    # stage's vessel sets), and an open encounter not seen for encounter_keep_s is dropped.
    encounter_distance_m: float = 500.0
    encounter_sog_kn: float = 3.0
    encounter_min_s: int = 20 * 60
    encounter_close_m: float = 1_000.0
    presence_ttl_s: int = 10 * 60
    encounter_keep_s: int = 6 * 3600
    # ISPS (DESIGN.md §9): a notice counts when its eta is within isps_notice_window_s of the
    # event; submitted less than isps_notice_lead_s before its eta it is late (33 CFR 160.212:
    # 96 h). The current notice's eta is no earlier than isps_current_notice_past_s ago.
    isps_notice_window_s: int = 48 * 3600
    isps_notice_lead_s: int = 96 * 3600
    isps_current_notice_past_s: int = 48 * 3600
    # Inbound: course within this angle of the zone's inbound bearing (or of the facility).
    isps_inbound_tolerance_deg: float = 90.0
    # ISPS_PSA_PORT_CALL: the last n port calls; ISPS_LAST_PORT_MISMATCH: the latest
    # completed call counts when it is this recent.
    isps_port_calls_considered: int = 5
    isps_last_call_max_age_s: int = 30 * 24 * 3600
    # A MARSEC raise alerts vessels inside the facility heard within this time.
    isps_inside_max_silence_s: int = 6 * 3600
    # Track state of a vessel silent this long (event time of its feed) is dropped.
    track_ttl_s: int = 7 * 24 * 3600
    # Duplicate suppression: the same transmission heard again within this window.
    duplicate_window_s: int = 60
    # Out-of-order events older than the vessel's last report by more than this are rejected
    # as late (the lateness policy); smaller reorderings are accepted but not used for rules.
    allowed_lateness_s: int = 300

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, overrides: dict[str, Any]) -> Thresholds:
        """Defaults with ``overrides`` applied. Unknown names, and values that are not a
        finite number ≥ 0 (a whole number for a count or a time in seconds), are an error
        that names each of them: a threshold read as text would fail in its rule on every
        report instead."""
        if not isinstance(overrides, dict):
            raise ValueError(f"thresholds must be a JSON object of name: value, not {overrides!r}")
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(overrides) - set(kinds)
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(sorted(unknown))}")
        bad = [
            f"{name}={value!r} ({why})"
            for name, value in sorted(overrides.items())
            if (why := _not_a_threshold(value, kinds[name])) is not None
        ]
        if bad:
            raise ValueError(f"bad threshold value(s): {'; '.join(bad)}")
        values: dict[str, Any] = {
            name: float(value) if kinds[name] == "float" else value
            for name, value in overrides.items()
        }
        return dataclasses.replace(cls(), **values)


def _not_a_threshold(value: Any, kind: object) -> str | None:
    """Why ``value`` cannot be a threshold of ``kind`` ("int" or "float"), or None."""
    if type(value) is int or (type(value) is float and kind == "float"):
        if not math.isfinite(value) or value < 0:
            return "must be finite and 0 or more"
        return None
    return "must be a whole number" if kind == "int" else "must be a number"
