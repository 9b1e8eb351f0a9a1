"""Alerts as a text table: ``mda alerts tail``, ``mda run --show-alerts`` and ``mda demo``.

One layout for every place a watch officer reads alerts on a terminal. The rule column is as
wide as the longest rule of the catalogue, so every row lines up under the header; an MMSI
is shown as the 9-digit identity it is (``000000001``, not ``1``: a placeholder shows as one).
"""

from __future__ import annotations

from typing import Any

from mda.alerts import RULES

_COLOURS = {
    "critical": "\033[1;97;41m",
    "high": "\033[1;31m",
    "medium": "\033[33m",
    "low": "\033[36m",
    "info": "\033[2m",
}
_RESET = "\033[0m"
RULE_WIDTH = max(len(r) for r in RULES)

HEADER = (
    f"{'event time (UTC)':<24} {'severity':<8} {'status':<6} {'rule':<{RULE_WIDTH}} "
    f"{'mmsi':<9} {'vessel':<20} {'jur':<4} {'facility/zone':<20} {'alert id':<8}  summary"
)


def mmsi_text(value: Any) -> str:
    """An MMSI as its nine digits (wider if it has more); anything else as it is."""
    return f"{value:09d}" if type(value) is int and value >= 0 else str(value or "")


def format_row(a: dict[str, Any], colour: bool = False) -> str:
    """One alert message as a row under :data:`HEADER` (severity coloured on a terminal)."""
    sev = str(a.get("severity", ""))
    sev_cell = f"{sev:<8}"
    if colour:
        sev_cell = f"{_COLOURS.get(sev, '')}{sev_cell}{_RESET}"
    name = str(a.get("vessel_name") or "-")[:20]
    # The port facility of an ISPS alert (its zone is named after it), else the zone.
    zone = str(a.get("facility_id") or a.get("zone_id") or "-")[:20]
    return (
        f"{a.get('event_time', ''):<24} {sev_cell} {a.get('status', ''):<6} "
        f"{a.get('rule', ''):<{RULE_WIDTH}} {mmsi_text(a.get('mmsi')):<9} {name:<20} "
        f"{a.get('jurisdiction', ''):<4} {zone:<20} {str(a.get('alert_id', ''))[:8]:<8}  "
        f"{a.get('summary', '')}"
    )
