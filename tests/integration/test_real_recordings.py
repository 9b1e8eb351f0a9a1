"""Real North American recordings through ``mda run``: the alerts by rule, recorded and explained.

These figures are regression records of what the rules make of real data (README: "What the
real recordings give"); each is explained there. A change in one is a change of behaviour to
review, not noise: the inputs are fixed files with event times, processed deterministically.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mda.alerts import validate_message
from streams.broker import EmbeddedBroker
from tests.integration.test_run import mda_run, read_alerts

CASES = {
    # 48 s of the USCG national feed: identity rules only; no silence can be 30 min long.
    "ais_nmea/noaadata_uscg_nais_2006-07-15.ais": {
        ("INVALID_MMSI", "open"): 5,
        ("POSITION_JUMP", "open"): 1,
        ("POSITION_ON_LAND", "open"): 7,
        ("ZONE_ENTRY", "open"): 4,
    },
    # One row per vessel, three at 23:59: every vessel of the monitored area heard in the
    # first hour is silent by 23:59 of the feed's clock.
    "ais_csv/aisdb_noaa_marinecadastre_20230111.csv": {
        ("AIS_GAP", "open"): 280,
        ("POSITION_ON_LAND", "open"): 146,
        ("ZONE_ENTRY", "open"): 1,
    },
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_recording_alerts_by_rule(
    broker: EmbeddedBroker, tmp_path: Path, shared_data: Path, name: str
) -> None:
    out = tmp_path / "alerts.jsonl"
    mda_run(broker, out, str(shared_data / name))
    alerts = read_alerts(out)
    for a in alerts:
        assert validate_message(a) == [], a
    assert dict(Counter((a["rule"], a["status"]) for a in alerts)) == CASES[name]


def test_uscg_feed_alerts_are_the_known_vessels(
    broker: EmbeddedBroker, tmp_path: Path, shared_data: Path
) -> None:
    out = tmp_path / "alerts.jsonl"
    mda_run(broker, out, str(shared_data / "ais_nmea/noaadata_uscg_nais_2006-07-15.ais"))
    alerts = read_alerts(out)
    invalid = {a["mmsi"] for a in alerts if a["rule"] == "INVALID_MMSI"}
    # 000000001 and 000572329: fewer than 9 digits; 315590000: MID 315 is not allocated;
    # 102507888: first digit 1 is not a ship format; 1193046 = 0x123456, a factory default.
    assert invalid == {1, 572329, 315590000, 102507888, 1193046}
    zones = Counter(a["zone_id"] for a in alerts if a["rule"] == "ZONE_ENTRY")
    # Hood Canal off Naval Base Kitsap-Bangor, and CFB Esquimalt: restricted naval areas.
    assert zones == {"rst-bangor": 3, "rst-esquimalt": 1}
    jumps = [a for a in alerts if a["rule"] == "POSITION_JUMP"]
    assert [a["mmsi"] for a in jumps] == [366831000]
    assert jumps[0]["evidence"]["distance_m"] > 4_000_000  # 4,438 km in 7 s
