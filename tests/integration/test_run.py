"""``mda run`` end to end on the real embedded broker: scenario ground truth, real data,
determinism across speeds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from mda.alerts import iso_utc, validate_message
from mda.model import RawLine
from replay.producer import event_ms_of
from replay.scenarios import (
    DATA_DIR,
    LM_LAT,
    LM_LON,
    MIN_MS,
    SCENARIOS,
    T0,
    Builder,
    Scenario,
    great_lakes_demo,
)
from streams.broker import EmbeddedBroker
from tests.conftest import SHARED_DATA
from tests.unit.test_broken_files import cut_gzip

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


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_bundled_scenario_files_are_current(name: str) -> None:
    """The bundled scenarios are what the generator makes (ground truth and files agree)."""
    scenario = SCENARIOS[name]()
    lines = [ln for ln in scenario.path.read_text().splitlines() if not ln.startswith("#")]
    assert lines == scenario.lines
    if scenario.zones_path is not None:
        assert orjson.loads(scenario.zones_path.read_bytes()) == scenario.zones
    if scenario.reference_path is not None:
        assert scenario.reference is not None
        on_disk = {p.name: p.read_text() for p in scenario.reference_path.iterdir()}
        assert on_disk == scenario.reference


def run_scenario(
    broker: EmbeddedBroker, tmp_path: Path, scenario: Scenario, *extra: str
) -> list[dict[str, object]]:
    out = tmp_path / f"{scenario.name}.jsonl"
    args = [str(scenario.path), *extra]
    if scenario.zones_path is not None:
        args += ["--zones", str(scenario.zones_path)]
    if scenario.reference_path is not None:
        args += ["--reference", str(scenario.reference_path)]
    mda_run(broker, out, *args, timeout_s=600)
    return read_alerts(out)


def expected_of(scenario: Scenario) -> list[tuple[object, ...]]:
    return sorted(
        (e.rule, e.mmsi, iso_utc(e.event_ms), e.severity, e.status) for e in scenario.expected
    )


def got_of(alerts: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return sorted(
        (a["rule"], a["mmsi"], a["event_time"], a["severity"], a["status"]) for a in alerts
    )


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - {"great_lakes_demo"}))
def test_rule_scenario_gives_exactly_its_ground_truth(
    broker: EmbeddedBroker, tmp_path: Path, name: str
) -> None:
    scenario = SCENARIOS[name]()
    alerts = run_scenario(broker, tmp_path, scenario)
    for a in alerts:
        assert validate_message(a) == [], a
    assert got_of(alerts) == expected_of(scenario)
    # every update and close continues an alert that was opened, under the same id
    opened = {a["alert_id"] for a in alerts if a["status"] == "open"}
    assert {a["alert_id"] for a in alerts if a["status"] != "open"} <= opened


def test_scenario_gives_exactly_the_expected_alerts(broker: EmbeddedBroker, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    stdout = mda_run(broker, out, str(SCENARIO))
    alerts = read_alerts(out)
    for a in alerts:
        assert validate_message(a) == [], a
    assert got_of(alerts) == expected_of(great_lakes_demo())
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


@pytest.mark.parametrize(
    ("name", "speed"),
    [
        ("great_lakes_demo", "300"),
        ("rules_gap", "2000"),
        ("rules_border", "2000"),
        ("rules_zones", "1000"),
        ("rules_encounter", "2000"),
        ("rules_identity", "1000"),
        ("rules_land", "1000"),
    ],
)
def test_same_alert_ids_at_max_and_finite_speed(
    broker: EmbeddedBroker, tmp_path: Path, name: str, speed: str
) -> None:
    """Replaying at max speed and at a finite speed gives identical alerts (event time)."""
    scenario = SCENARIOS[name]()
    (tmp_path / "max").mkdir()
    (tmp_path / "paced").mkdir()
    fast = run_scenario(broker, tmp_path / "max", scenario, "--speed", "max")
    paced = run_scenario(broker, tmp_path / "paced", scenario, "--speed", speed)
    assert fast and [orjson.dumps(a) for a in fast] == [orjson.dumps(a) for a in paced]


def test_a_file_that_breaks_off_is_counted_and_the_run_goes_on(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """A truncated gzip among the inputs: its complete lines and the next file are processed
    exactly as if the cut file had been those lines, and the break is one counted reject."""
    cut, complete = cut_gzip(tmp_path)
    whole = tmp_path / "complete.ais"
    whole.write_text("\n".join(complete) + "\n")
    land = SCENARIOS["rules_land"]()
    stdout = mda_run(broker, tmp_path / "cut.jsonl", str(cut), str(land.path))
    ref_stdout = mda_run(broker, tmp_path / "ref.jsonl", str(whole), str(land.path))
    assert "truncated_input:1" in stdout
    assert f"broken off: cut.ais.gz: stopped after {len(complete)} lines" in stdout
    assert "truncated_input" not in ref_stdout and "broken off" not in ref_stdout

    def summary_line(text: str, start: str) -> str:
        return next(line for line in text.splitlines() if line.startswith(start))

    for start in ("lines read", "decoded messages", "reports tracked", "vessels", "alerts"):
        assert summary_line(stdout, start) == summary_line(ref_stdout, start)
    alerts = read_alerts(tmp_path / "cut.jsonl")
    assert alerts == read_alerts(tmp_path / "ref.jsonl")
    assert set(expected_of(land)) <= set(got_of(alerts))  # the file after the cut ran
    assert any(a["event_time"].startswith("2006-07-15") for a in alerts)  # and the cut one


def two_receivers() -> tuple[Scenario, dict[str, list[str]]]:
    """Lake Michigan, 3 h, two receivers: the aggregated feed's ground truth, and each
    receiver's own recording (its lines of that feed)."""
    b = Builder("two_receivers", "Lake Michigan: a west and an east receiver")
    lat, lon = LM_LAT, LM_LON
    keep_w, keep_e, transit, dark, both = 366200001, 366200002, 366200003, 366200004, 366200005
    # Each receiver hears a vessel of its own for 3 h: both stay alive, time goes on in each.
    b.run(keep_w, T0, 180, lat, lon - 0.2, 0.0005, sog=8.0, station="S-WEST")
    b.run(keep_e, T0, 180, lat, lon + 0.2, 0.0005, sog=8.0, station="S-EAST")
    # TRANSIT sails east out of the west receiver's coverage into the east's: never silent.
    b.run(transit, T0, 40, lat + 0.1, lon - 0.1, 0, 0.003, sog=8.0, cog=90.0, station="S-WEST")
    b.run(
        transit,
        T0 + 41 * MIN_MS,
        139,
        lat + 0.1,
        lon - 0.1 + 41 * 0.003,
        0,
        0.003,
        sog=8.0,
        cog=90.0,
        station="S-EAST",
    )
    # DARK, heard by the east receiver, goes silent at 30 min while it hears others: a gap
    # at 60 min, closed when the west receiver hears DARK again at 150 min.
    last = b.run(dark, T0, 30, lat - 0.1, lon + 0.1, 0.002, sog=10.0, station="S-EAST")
    b.expect("AIS_GAP", dark, last + 30 * MIN_MS, "medium")
    back = T0 + 150 * MIN_MS
    b.run(dark, back, 30, lat - 0.1 + 150 * 0.002, lon + 0.1, 0.002, sog=10.0, station="S-WEST")
    b.expect("AIS_GAP", dark, back, "medium", "closed")
    # BOTH: every transmission heard by both receivers (the second copy is a duplicate).
    for station in ("S-WEST", "S-EAST"):
        b.run(both, T0, 180, lat + 0.2, lon, 0.002, sog=9.0, station=station)
    # PAIR: two vessels 300 m apart at 0.5 kn, each heard by one receiver only: an encounter
    # 20 min after the second's first report, open to the end.
    near_w, near_e = 366200006, 366200007
    b.run(near_w, T0, 180, lat - 0.25, lon - 0.05, sog=0.5, cog=45.0, station="S-WEST")
    b.run(near_e, T0 + 10_000, 180, lat - 0.2473, lon - 0.05, sog=0.5, cog=45.0, station="S-EAST")
    b.expect("ENCOUNTER", near_w, T0 + 10_000 + 20 * MIN_MS, "medium")
    scenario = b.build()
    by_station = {
        station: [ln for ln in scenario.lines if f"s:{station}," in ln]
        for station in ("S-WEST", "S-EAST")
    }
    assert sum(map(len, by_station.values())) == len(scenario.lines)
    return scenario, by_station


def test_two_receivers_recordings_replayed_together_give_the_aggregated_feeds_alerts(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Each receiver's recording of the same 3 h, given together to ``mda run``, is one feed
    merged in event-time order: exactly the ground truth of the aggregated feed, whatever
    the order of the files, and the same alerts with two workers. Before, the files were
    replayed one after the other: TRANSIT, carried on by the east receiver, was silent in
    the west's file (a false AIS_GAP), and DARK's gap was missed (the east file's reports of
    it came after the west's, and were refused as late). Then, merged, each file was still
    its own source past decoding: PAIR's encounter (one vessel in each file) was missed, and
    a vessel heard in both files was counted twice."""
    scenario, by_station = two_receivers()
    west, east = tmp_path / "west.nmea", tmp_path / "east.nmea"
    west.write_text("\n".join(by_station["S-WEST"]) + "\n")
    east.write_text("\n".join(by_station["S-EAST"]) + "\n")
    stdout = mda_run(broker, tmp_path / "we.jsonl", str(west), str(east))
    we = read_alerts(tmp_path / "we.jsonl")
    assert got_of(we) == expected_of(scenario)
    assert "late: 0" in stdout
    assert "duplicates suppressed: 181" in stdout  # BOTH's second copies
    assert "vessels: 7\n" in stdout  # TRANSIT, DARK and BOTH once each
    mda_run(broker, tmp_path / "ew.jsonl", str(east), str(west), "--workers", "2")
    assert read_alerts(tmp_path / "ew.jsonl") == we


def test_an_encounter_going_on_from_one_files_hours_into_the_next_is_one_encounter(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """The encounter scenario cut at 25 min into two files (one receiver's consecutive
    recordings), given together: exactly its ground truth, as the one file gives. Before,
    each file was its own source past decoding: the drifting pair's encounter, opened in
    the first file, was not closed by the second's reports (4 of its 5 alerts)."""
    scenario = SCENARIOS["rules_encounter"]()
    cut = T0 + 25 * MIN_MS
    first = [ln for ln in scenario.lines if (event_ms_of(RawLine("s", 0, ln, 0)) or 0) < cut]
    assert 0 < len(first) < len(scenario.lines)
    h1, h2 = tmp_path / "h1.nmea", tmp_path / "h2.nmea"
    h1.write_text("\n".join(first) + "\n")
    h2.write_text("\n".join(scenario.lines[len(first) :]) + "\n")
    assert scenario.zones_path is not None
    out = tmp_path / "h.jsonl"
    mda_run(broker, out, str(h2), str(h1), "--zones", str(scenario.zones_path))
    assert got_of(read_alerts(out)) == expected_of(scenario)


def test_a_worker_that_dies_is_one_line_and_the_runs_logs_are_kept(
    broker: EmbeddedBroker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``mda run`` whose worker exits: the tail of its log, where the run's logs are kept,
    and one line saying what happened (exit 1). Before: a traceback, and the logs' folder
    named nowhere (left in the temporary directory)."""
    from streams import cli, runner

    def dying(env: dict[str, str], log_path: Path) -> object:
        return runner.python_process(["streams.cli", "--no-such-option"], env, log_path)

    monkeypatch.setattr(runner, "worker_process", dying)
    monkeypatch.setenv("MDA_KAFKA_BOOTSTRAP", broker.bootstrap)
    monkeypatch.setenv("MDA_PARTITIONS", "2")
    args = cli.build_parser().parse_args(["run", str(SCENARIO), "--quiet"])
    assert cli._run_command(args) == 1
    err = capsys.readouterr().err
    assert err.endswith("mda run: worker exited early with code 2\n")
    assert "Traceback" not in err
    assert "mda: error: the following arguments are required" in err  # the worker log
    kept = Path(err.split("are kept in ")[1].split("\n")[0])
    try:
        assert (kept / "worker.log").is_file()
    finally:
        shutil.rmtree(kept)


def test_untimed_lines_ahead_of_a_recording_keep_to_its_time(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """The Great Lakes scenario with an untimed sentence ahead of it, given with a real
    recording that has no time at all (DMA's Southern California sample): exactly the
    scenario's alerts for its vessels, and no AIS_GAP. Before, each untimed line was dated
    by the replay's start, months after the scenario: the feed's clock went there, and the
    scenario alone with the one line ahead gave 317 false AIS_GAP."""
    scenario = great_lakes_demo()
    ahead = tmp_path / "ahead.nmea"
    untimed = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"
    ahead.write_text("\n".join([untimed, *scenario.lines]) + "\n")
    socal = SHARED_DATA / "ais_nmea" / "dma_socal_ais250.txt"
    out = tmp_path / "ahead.jsonl"
    mda_run(broker, out, str(ahead), str(socal))
    alerts = read_alerts(out)
    assert "AIS_GAP" not in {a["rule"] for a in alerts}
    ours = {e.mmsi for e in scenario.expected}
    assert got_of([a for a in alerts if a["mmsi"] in ours]) == expected_of(scenario)
    assert len(alerts) > len(scenario.expected)  # (and the sample's own)
