"""Configuration that cannot be used (a zones file, a reference set, thresholds) stops
``mda worker``, ``mda run`` and ``mda demo`` before anything starts, naming each problem.

Before: the track and proximity agents crashed when they started, in a worker that stayed up
doing nothing (``mda run`` waited 3 min for end markers, then printed a traceback); and a
threshold of the wrong type (``"30 min"``) was accepted, to fail in its rule on every report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mda.thresholds import Thresholds
from replay.scenarios import DATA_DIR
from streams.preflight import configuration_problems
from streams.settings import Settings

ZONES_OK = DATA_DIR / "rules_zones.zones.geojson"
REFERENCE_OK = DATA_DIR / "reference_sample"


def test_good_configuration_has_no_problem() -> None:
    assert configuration_problems(Settings()) == []
    settings = Settings(
        zones=ZONES_OK,
        reference_dir=REFERENCE_OK,
        thresholds_json='{"gap_class_a_s": 1200, "land_margin_m": 1500}',
    )
    assert configuration_problems(settings) == []


def test_every_problem_is_named(tmp_path: Path) -> None:
    zones = tmp_path / "zones.geojson"
    zones.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
    reference = tmp_path / "ref"
    reference.mkdir()
    (reference / "vessels.csv").write_text("mmsi,imo\nnot-a-number,1\n")
    settings = Settings(
        zones=zones, reference_dir=reference, thresholds_json='{"gap_class_a_s": "30 min"}'
    )
    problems = configuration_problems(settings)
    assert len(problems) == 3
    assert problems[0].startswith(f"zones rejected: {zones}: feature 0")
    assert problems[1].startswith(f"reference data {reference} rejected:\n")
    assert "vessels.csv" in problems[1]
    assert problems[2] == (
        "MDA_THRESHOLDS_JSON rejected: bad threshold value(s): gap_class_a_s='30 min' "
        "(must be a whole number)"
    )
    assert configuration_problems(Settings(thresholds_json="{gap: 1}"))[0].startswith(
        "MDA_THRESHOLDS_JSON rejected: unexpected character"
    )
    missing = configuration_problems(Settings(zones=tmp_path / "nope.geojson"))
    assert missing[0].startswith(f"zones rejected: {tmp_path / 'nope.geojson'}: ")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("bogus://", "'bogus' is not a valid name. Available choices: memory, rocksdb, aerospike"),
        ("memory", "Cannot import"),
        ("", "Cannot import"),
    ],
)
def test_a_table_store_faust_does_not_know_is_named(url: str, why: str) -> None:
    (problem,) = configuration_problems(Settings(table_store=url))
    assert problem.startswith(f"MDA_TABLE_STORE {url!r} rejected: ")
    assert why in problem
    assert configuration_problems(Settings(table_store="rocksdb://")) == []


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"gap_class_a_s": "1800"}, "gap_class_a_s='1800' (must be a whole number)"),
        ({"gap_class_a_s": 1800.5}, "gap_class_a_s=1800.5 (must be a whole number)"),
        ({"gap_class_a_s": True}, "gap_class_a_s=True (must be a whole number)"),
        ({"land_margin_m": None}, "land_margin_m=None (must be a number)"),
        ({"land_margin_m": -1}, "land_margin_m=-1 (must be finite and 0 or more)"),
        ({"land_margin_m": float("inf")}, "land_margin_m=inf (must be finite and 0 or more)"),
        ({"land_margin_m": float("nan")}, "land_margin_m=nan (must be finite and 0 or more)"),
    ],
)
def test_a_threshold_must_be_a_number_of_its_kind(overrides: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match="bad threshold value") as exc:
        Thresholds.from_dict(overrides)
    assert str(exc.value) == f"bad threshold value(s): {why}"


def test_thresholds_that_can_be_used_are_applied() -> None:
    th = Thresholds.from_dict({"gap_class_a_s": 0, "land_margin_m": 1500, "jump_speed_kn": 45.5})
    assert (th.gap_class_a_s, th.land_margin_m, th.jump_speed_kn) == (0, 1500.0, 45.5)
    assert type(th.land_margin_m) is float  # an int given for a float threshold
    with pytest.raises(ValueError, match="unknown threshold"):
        Thresholds.from_dict({"gap_s": 1})
    with pytest.raises(ValueError, match="JSON object"):
        Thresholds.from_dict([1])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "env"),
    [
        (["worker"], {"MDA_ZONES": "ZONES"}),
        (["run", str(DATA_DIR / "rules_land.nmea"), "--zones", "ZONES"], {}),
        (["demo"], {"MDA_THRESHOLDS_JSON": '{"gap_class_a_s": "30 min"}'}),
        (["run", str(DATA_DIR / "rules_land.nmea")], {"MDA_TABLE_STORE": "bogus://"}),
    ],
)
def test_commands_stop_before_anything_starts(
    tmp_path: Path, command: list[str], env: dict[str, str]
) -> None:
    bad = tmp_path / "zones.geojson"
    bad.write_text("not json")
    command = [str(bad) if c == "ZONES" else c for c in command]
    env = {k: str(bad) if v == "ZONES" else v for k, v in env.items()}
    full_env = {**os.environ, **env}
    full_env.pop("MDA_KAFKA_BOOTSTRAP", None)  # (a broker would be started for it)
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", *command],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "rejected" in proc.stderr and "Traceback" not in proc.stderr
    assert "embedded broker" not in proc.stdout + proc.stderr


def test_a_broker_that_cannot_be_reached_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from streams import cli

    monkeypatch.setenv("MDA_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    for exc, said in [
        (KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1"), "KafkaTimeoutError: Unable"),
        (KafkaConnectionError(), "KafkaConnectionError"),
    ]:

        def fail(_: object, exc: Exception = exc) -> int:
            raise exc

        args = cli.build_parser().parse_args(["replay", str(DATA_DIR / "rules_land.nmea")])
        args.func = fail
        assert cli._run_command(args) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"mda replay: Kafka at 127.0.0.1:1: {said}")
        assert err.count("\n") == 1


def test_alerts_show_with_no_broker_says_so(tmp_path: Path) -> None:
    """The real thing, through the command line: said after ``BOOTSTRAP_TIMEOUT_MS`` (10 s;
    kafka-python's default kept the watch officer waiting 30 s)."""
    env = {**os.environ, "MDA_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "alerts",
            "show",
            "6f1c2b9a-0000-4000-8000-0000000000a1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        "mda alerts: Kafka at 127.0.0.1:1: "
        "KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:1\n"
    )
    # Not a speed limit: the attempt is bounded by our setting, not by the default's 30 s.
    assert time.monotonic() - started < 25
