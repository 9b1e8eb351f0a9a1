"""``mda reference load`` on the real embedded broker: validated records on compacted topics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from replay.scenarios import DATA_DIR
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker
from streams.reference import read_topics
from streams.settings import Settings
from streams.topics import TopicNames, topic_specs

SAMPLE = DATA_DIR / "reference_sample"


def reference_load(
    broker: EmbeddedBroker, prefix: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MDA_KAFKA_BOOTSTRAP": broker.bootstrap, "MDA_TOPIC_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "reference", "load", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def names(broker: EmbeddedBroker, request: pytest.FixtureRequest) -> TopicNames:
    settings = Settings(topic_prefix=f"t{abs(hash(request.node.name)) % 10**8}.")
    ensure_topics(broker.bootstrap, topic_specs(settings))
    return TopicNames.from_settings(settings)


def latest(items: list[tuple[str, str, object, int]]) -> dict[tuple[str, str], object]:
    out: dict[tuple[str, str], object] = {}
    for kind, key, value, _ in items:
        out[(kind, key)] = value
    return out


def test_load_publishes_every_record_keyed(broker: EmbeddedBroker, names: TopicNames) -> None:
    prefix = names.raw.removesuffix("ais.raw")
    proc = reference_load(broker, prefix, str(SAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert "published 14 facilities, 5 vessels, 2 notices, 2 advisories" in proc.stdout
    state = latest(read_topics(broker.bootstrap, names))
    assert len(state) == 23
    montreal = state[("facility", "CAMTR-0001")]
    assert isinstance(montreal, dict) and montreal["marsec_level"] == 1
    assert ("vessel", "316012345") in state and ("notice", "SAMPLE-NOA-0001") in state
    assert ("advisory", "CM") in state


def test_bad_directory_publishes_nothing(
    broker: EmbeddedBroker, names: TopicNames, tmp_path: Path
) -> None:
    prefix = names.raw.removesuffix("ais.raw")
    for f in SAMPLE.glob("*.csv"):
        (tmp_path / f.name).write_text(f.read_text())
    text = (tmp_path / "arrival_notices.csv").read_text()
    (tmp_path / "arrival_notices.csv").write_text(text + "BAD-1,NOA,636019001,,USCLE,tomorrow,x,\n")
    proc = reference_load(broker, prefix, str(tmp_path))
    assert proc.returncode == 1
    assert "arrival_notices.csv line 4: eta 'tomorrow' is not an ISO-8601 UTC time" in proc.stderr
    assert read_topics(broker.bootstrap, names) == []


def test_a_marsec_change_and_prune(
    broker: EmbeddedBroker, names: TopicNames, tmp_path: Path
) -> None:
    prefix = names.raw.removesuffix("ais.raw")
    assert reference_load(broker, prefix, str(SAMPLE)).returncode == 0
    lines = (SAMPLE / "port_facilities.csv").read_text().splitlines()
    kept = [lines[0], lines[1].replace(",2500,1,true", ",2500,3,true")]  # Montreal to MARSEC 3
    (tmp_path / "port_facilities.csv").write_text("\n".join(kept) + "\n")
    proc = reference_load(broker, prefix, str(tmp_path), "--prune")
    assert proc.returncode == 0, proc.stderr
    assert "22 deleted" in proc.stdout
    state = latest(read_topics(broker.bootstrap, names))
    montreal = state[("facility", "CAMTR-0001")]
    assert isinstance(montreal, dict) and montreal["marsec_level"] == 3
    assert state[("facility", "CAQUE-0001")] is None  # tombstone
    assert sum(v is not None for v in state.values()) == 1
