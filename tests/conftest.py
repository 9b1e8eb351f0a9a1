"""Shared test fixtures: where the real data live, and a guard against leftover processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MDA_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings and reference data (../shared/data); missing is a failure."""
    assert SHARED_DATA.is_dir(), f"shared data not found at {SHARED_DATA} (set MDA_SHARED_DATA)"
    return SHARED_DATA


def _children() -> set[int]:
    """PIDs of live descendants of this test process."""
    me = os.getpid()
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        parents[int(entry.name)] = int(fields[1])
    out: set[int] = set()
    frontier = {me}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - out
        out |= frontier
    return out


@pytest.fixture(autouse=True, scope="session")
def no_leftover_processes() -> Iterator[None]:
    """The suite must leave no broker or worker behind."""
    yield
    left = _children()
    assert not left, f"processes left behind by the tests: {sorted(left)}"
