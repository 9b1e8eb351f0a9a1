"""``mda run`` end to end on the real embedded broker: scenario ground truth, real data,
determinism across speeds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from mda.alerts import validate_message
from replay.scenarios import DATA_DIR, great_lakes_demo
from streams.broker import EmbeddedBroker

SCENARIO = DATA_DIR / "great_lakes_demo.nmea"
REAL = DATA_DIR / "noaadata_uscg_nais_2006-07-15.ais"


def mda_run(broker: EmbeddedBroker, out: Path, *args: str, timeout_s: float = 240) -> str:
    env = {**os.environ, "MDA_KAFKA_BOOTSTRAP": broker.bootstrap, "MDA_PARTITIONS": "2"}
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "run", *args, "--alerts-out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def read_alerts(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_bundled_scenario_file_is_current() -> None:
    """The bundled scenario is what the generator makes (ground truth and file agree)."""
    scenario = great_lakes_demo()
    lines = [ln for ln in SCENARIO.read_text().splitlines() if not ln.startswith("#")]
    assert lines == scenario.lines


def test_scenario_gives_exactly_the_expected_alerts(broker: EmbeddedBroker, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    stdout = mda_run(broker, out, str(SCENARIO))
    alerts = read_alerts(out)
    for a in alerts:
        assert validate_message(a) == [], a
    got = sorted((a["rule"], a["mmsi"], a["event_time"], a["severity"]) for a in alerts)
    from mda.alerts import iso_utc

    want = sorted(
        (e.rule, e.mmsi, iso_utc(e.event_ms), e.severity) for e in great_lakes_demo().expected
    )
    assert got == want
    assert "lines read" in stdout
    crossing = next(a for a in alerts if a["rule"] == "BORDER_CROSSING")
    assert crossing["vessel_name"] == "LAKE SPIRIT"
    assert crossing["flag"] == "CA"
    assert crossing["imo"] == 9234567
    assert crossing["evidence"]["from_side"] == "CA"
    assert crossing["evidence"]["to_side"] == "US"
    assert crossing["jurisdiction"] == "BI"


def test_real_recording_gives_schema_valid_alerts(broker: EmbeddedBroker, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    stdout = mda_run(broker, out, str(REAL))
    alerts = read_alerts(out)
    for a in alerts:
        assert validate_message(a) == [], a
    # 985 VDM sentences, 132 two-part messages → 853 messages (SOURCES.md).
    assert "decoded messages: 853" in stdout
    assert len({a["alert_id"] for a in alerts if a["status"] == "open"}) == len(
        [a for a in alerts if a["status"] == "open"]
    )


@pytest.mark.parametrize("speed", ["300"])
def test_same_alert_ids_at_max_and_finite_speed(
    broker: EmbeddedBroker, tmp_path: Path, speed: str
) -> None:
    """Replaying at max speed and at a finite speed gives identical alert ids (event time)."""
    fast, paced = tmp_path / "max.jsonl", tmp_path / "paced.jsonl"
    mda_run(broker, fast, str(SCENARIO), "--speed", "max")
    mda_run(broker, paced, str(SCENARIO), "--speed", speed, timeout_s=600)
    ids_fast = [a["alert_id"] for a in read_alerts(fast)]
    ids_paced = [a["alert_id"] for a in read_alerts(paced)]
    assert ids_fast and ids_fast == ids_paced
