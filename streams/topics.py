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
    #: ISPS reference data (DESIGN.md §7), compacted: key facility_id / MMSI|IMO / notice_id /
    #: country. Defaults keep positional construction of the five pipeline names working.
    isps_facilities: str = "isps.facilities"
    isps_vessels: str = "isps.vessels"
    isps_notices: str = "isps.notices"
    isps_advisory: str = "isps.advisory"

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        p = settings.topic_prefix
        return cls(
            raw=f"{p}ais.raw",
            reports=f"{p}ais.reports",
            rejected=f"{p}ais.rejected",
            presence=f"{p}mda.presence",
            alerts=f"{p}mda.alerts",
            isps_facilities=f"{p}isps.facilities",
            isps_vessels=f"{p}isps.vessels",
            isps_notices=f"{p}isps.notices",
            isps_advisory=f"{p}isps.advisory",
        )

    def isps_topics(self) -> dict[str, str]:
        """ISPS topic name → record kind (facility, vessel, notice, advisory)."""
        return {
            self.isps_facilities: "facility",
            self.isps_vessels: "vessel",
            self.isps_notices: "notice",
            self.isps_advisory: "advisory",
        }


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the pipeline reads or writes, with partitions and compaction."""
    from streams.alert_topics import alert_topic_specs  # the lifecycle's topics (local: cycle)

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
        # ISPS reference records: small, compacted, one partition (every worker reads all)
        *(TopicSpec(name, 1, compacted=True) for name in t.isps_topics()),
        *alert_topic_specs(settings),
    ]


def partition_for_mmsi(mmsi: int, partitions: int) -> int:
    """The ais.reports partition of a vessel: stable, so its state stays co-partitioned."""
    return mmsi % partitions
