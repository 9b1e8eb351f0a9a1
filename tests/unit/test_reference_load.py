"""``mda reference load`` when the broker cannot be reached: a clear line and exit code 1,
not a traceback (the load with a broker is tested in tests/integration/test_reference.py)."""

from __future__ import annotations

import time

import pytest

from replay.scenarios import DATA_DIR
from streams.broker import free_port
from streams.reference import load
from streams.settings import Settings

SAMPLE = DATA_DIR / "reference_sample"


def test_a_broker_not_reachable_is_said_and_nothing_is_published(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (SAMPLE / "port_facilities.csv").is_file()
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(kafka_bootstrap=bootstrap)
    started = time.monotonic()
    assert load(SAMPLE, settings, connect_timeout_s=1.0) == 1
    assert time.monotonic() - started < 30  # gave up (not a wall-clock figure: a hang guard)
    err = capsys.readouterr().err
    assert f"mda reference load: broker {bootstrap} not reachable in 1 s" in err
    assert err.rstrip().endswith("nothing published")
    assert "Traceback" not in err
