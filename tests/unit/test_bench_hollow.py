"""``make ceiling`` (bench/hollow.py) replaces the stages' ``handle`` with lookups of recorded
outputs: they must take what the agents pass. They did not for a while (the agents began
passing the message offset), and the hollow worker's agents raised TypeError on every
message: the bench's warm-up never ended."""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import orjson
import pytest

from bench import hollow
from streams.pipeline import DecodeStage, TrackStage
from streams.proximity import ProximityStage


def test_the_lookups_take_the_stages_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = {cls: cls.handle for cls in (DecodeStage, TrackStage, ProximityStage)}
    for cls, handle in real.items():
        monkeypatch.setattr(cls, "handle", handle)  # put back after the test
    empty = tmp_path / "empty.pickle"
    empty.write_bytes(pickle.dumps({"decode": {}, "track": {}, "proximity": {}}))
    hollow.install(empty, "")
    for cls, handle in real.items():
        assert cls.handle is not handle
        assert inspect.signature(cls.handle).parameters.keys() == (
            inspect.signature(handle).parameters.keys()
        ), cls.__name__


def test_a_recorded_proximity_message_is_acknowledged_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proximity agent holds an end-of-file record the stage calls incomplete; a lookup
    must not leave the flags of the message before it."""
    monkeypatch.setattr(ProximityStage, "handle", ProximityStage.handle)
    value = orjson.dumps({"presence": [], "from": 0})
    recorded = tmp_path / "one.pickle"
    tables = {"decode": {}, "track": {}, "proximity": {(value, 0): []}}
    recorded.write_bytes(pickle.dumps(tables))
    hollow.install(recorded, "")
    stage = ProximityStage.__new__(ProximityStage)
    stage.last_eof, stage.last_eof_complete = (0, "s"), False
    assert stage.handle(value, 0, 7) == []
    assert (stage.last_eof, stage.last_eof_complete, stage.last_bad_rows) == (None, False, 0)
