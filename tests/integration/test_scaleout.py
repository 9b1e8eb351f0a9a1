"""Scale-out and the production table store on the embedded broker.

Two workers sharing four partitions must give the same alerts as one worker (ENCOUNTER too:
its in-memory state is why `mda run` waits for the whole group before sending); RocksDB-backed
tables (``MDA_TABLE_STORE=rocksdb://``) the same as the memory store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.scenarios import SCENARIOS
from streams.broker import EmbeddedBroker
from streams.runner import run_files
from streams.settings import Settings


def alerts_of(broker: EmbeddedBroker, name: str, **kw: object) -> list[tuple[object, ...]]:
    scenario = SCENARIOS[name]()
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        partitions=4,
        zones=scenario.zones_path,
        table_store=str(kw.pop("table_store", "memory://")),
    )
    summary = run_files(
        [scenario.path], settings, alerts_out=None, speed=None, progress=False, **kw
    )  # type: ignore[arg-type]
    return sorted((a["alert_id"], a["status"], a["event_time"], a["rule"]) for a in summary.alerts)


@pytest.mark.parametrize("name", ["great_lakes_demo", "rules_border", "rules_encounter"])
def test_two_workers_give_the_same_alerts_as_one(broker: EmbeddedBroker, name: str) -> None:
    one = alerts_of(broker, name, workers=1)
    two = alerts_of(broker, name, workers=2)
    assert one and one == two
    # Each scenario's own rules are among them (ENCOUNTER: pairs seen across partitions).
    expected_rules = {e.rule for e in SCENARIOS[name]().expected}
    assert expected_rules <= {a[3] for a in two}


def test_rocksdb_table_store_gives_the_same_alerts(broker: EmbeddedBroker, tmp_path: Path) -> None:
    memory = alerts_of(broker, "rules_gap")
    rocks = alerts_of(broker, "rules_gap", table_store="rocksdb://")
    assert memory and memory == rocks
