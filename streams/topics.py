"""Topic names and shapes (DESIGN.md §2). Created by :mod:`streams.admin` before use."""

from __future__ import annotations

from dataclasses import dataclass

from streams.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False


@dataclass(frozen=True)
class TopicNames:
    raw: str
    reports: str
    rejected: str
    presence: str
    alerts: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        p = settings.topic_prefix
        return cls(
            raw=f"{p}ais.raw",
            reports=f"{p}ais.reports",
            rejected=f"{p}ais.rejected",
            presence=f"{p}mda.presence",
            alerts=f"{p}mda.alerts",
        )


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the pipeline reads or writes, with partitions and compaction."""
    t = TopicNames.from_settings(settings)
    n = settings.partitions
    return [
        # keyed by source/station: fragments of one feed stay ordered in one partition
        TopicSpec(t.raw, n),
        # micro-batches of reports, one message per destination partition (MMSI % n)
        TopicSpec(t.reports, n),
        TopicSpec(t.rejected, 1),
        TopicSpec(t.presence, n),
        TopicSpec(t.alerts, n),
    ]


def partition_for_mmsi(mmsi: int, partitions: int) -> int:
    """The ais.reports partition of a vessel: stable, so its state stays co-partitioned."""
    return mmsi % partitions
