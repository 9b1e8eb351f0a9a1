"""What every rule may consult besides the track: geography, the MID table, thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field

from mda.geo import Geography
from mda.mid import MidTable
from mda.thresholds import Thresholds


@dataclass(frozen=True)
class RuleContext:
    geography: Geography
    mids: MidTable
    thresholds: Thresholds = field(default_factory=Thresholds)
