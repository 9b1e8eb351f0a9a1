"""The end markers of a finite run on ``mda.alerts``: which have come, which are missing.

A source's end-of-file control record (``replay.producer.eof_record``) goes through every
stage. On ``mda.alerts`` it arrives as ``2 * n * n`` markers per source (``n`` partitions):
each track partition sends one to each alerts partition, and so does each proximity
(``mda.presence``) partition once it has the marker from every track partition.

The stages are at least once, so a marker can come twice (a message processed again after a
rebalance, a producer's retry). Counting records would end a run early on a duplicate, before
another partition's last alerts, and count its track figures twice; so each marker is counted
once, by what it is: (source, stage, the partition it comes from, the alerts partition).
What is still missing after a stall is named, so a hang says where the run stopped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple


class Marker(NamedTuple):
    """One end marker: ``stage`` ("track" or "proximity") of ``source`` from partition
    ``sender`` (of ``ais.reports`` or ``mda.presence``) on alerts partition ``partition``."""

    source: str
    stage: str
    sender: int
    partition: int


def marker_of(msg: dict[str, Any], partition: int) -> Marker:
    """The marker an end-of-file control record on alerts partition ``partition`` is."""
    if msg.get("stage") == "proximity":
        return Marker(
            str(msg.get("source")), "proximity", msg.get("presence_partition", -1), partition
        )
    return Marker(str(msg.get("source")), "track", msg.get("reports_partition", -1), partition)


class EndMarkers:
    """The markers expected of ``run`` for ``sources`` over ``partitions`` partitions."""

    def __init__(self, run: str, sources: Iterable[str], partitions: int) -> None:
        self.run = run
        self.expected = frozenset(
            Marker(source, stage, sender, partition)
            for source in sources
            for stage in ("track", "proximity")
            for sender in range(partitions)
            for partition in range(partitions)
        )
        self.seen: set[Marker] = set()
        #: Markers of this run that came again (counted once).
        self.duplicates = 0

    def add(self, msg: dict[str, Any], partition: int) -> bool:
        """Count an end-of-file control record read from alerts partition ``partition``;
        True when it is one of this run's expected markers, seen for the first time."""
        if msg.get("ctl") != "eof" or msg.get("run") != self.run:
            return False
        marker = marker_of(msg, partition)
        if marker not in self.expected:
            return False
        if marker in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(marker)
        return True

    @property
    def done(self) -> bool:
        return len(self.seen) == len(self.expected)

    def progress(self) -> str:
        """``"seen/expected end markers"``, with what is missing named when few are."""
        text = f"{len(self.seen)}/{len(self.expected)} end markers"
        missing = sorted(self.expected - self.seen)
        if missing and len(missing) <= 8:
            text += "; missing: " + ", ".join(
                f"{m.stage} partition {m.sender} of {m.source} to alerts partition {m.partition}"
                for m in missing
            )
        elif missing:
            text += f"; {len(missing)} missing, of sources " + ", ".join(
                sorted({m.source for m in missing})
            )
        if self.duplicates:
            text += f" ({self.duplicates} came twice)"
        return text
