"""One settings object for every command and the worker: environment variables ``MDA_*``.

Built at the edges (CLI, worker start-up); the domain layer receives plain arguments.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of the pipeline (see the README's configuration table)."""

    model_config = SettingsConfigDict(env_prefix="MDA_", extra="ignore")

    #: Kafka bootstrap servers (``host:port[,host:port]``). Unset: start the embedded broker.
    kafka_bootstrap: str | None = None
    #: Faust application id (consumer group and changelog topic prefix).
    app_id: str = "mda"
    #: Prefix for every topic name, to isolate runs sharing one cluster.
    topic_prefix: str = ""
    #: Partitions of ais.raw, ais.reports, mda.presence and mda.alerts (and the changelogs).
    partitions: int = 4
    #: Worker web server (``/metrics``, health).
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    #: Faust data directory (table stores).
    data_dir: Path = Path(".mda-data")
    #: Table store: ``memory://`` or ``rocksdb://`` (production, needs rocksdict).
    table_store: str = "memory://"
    #: Consumer session timeout. The embedded broker answers a new group's first join after
    #: about half of it, so 6–10 s (not Faust's 60 s default) keeps start-up fast.
    session_timeout_s: float = 10.0
    #: Extra zones (GeoJSON, DESIGN.md §7) added to the shipped defaults.
    zones: Path | None = None
    #: Reference-data directory (DESIGN.md §7).
    reference_dir: Path | None = None
    #: Threshold overrides as JSON, e.g. ``{"jump_speed_kn": 50}``.
    thresholds_json: str = "{}"
    #: Track table writes: a worker keeps changed tracks in memory and writes them to the
    #: changelog-backed table (one write per changed vessel) at most this often per partition,
    #: acknowledging the partition's messages only then. 0: after every message.
    track_flush_s: float = 1.0
    #: Longest a worker's fetch waits at the broker for data. Faust fixes it at 1.5 s, which
    #: Apache Kafka cuts short when data arrives but the embedded broker (Tansu) does not: the
    #: worker, which feeds its own next stages, stalled up to 1.5 s per hop. 25 ms: event-to-
    #: alert p50 ~45 ms at 3,000 lines/s (100 ms: ~100), no throughput cost measured, and an
    #: idle worker's 40 empty fetches a second cost ~1.5% of a core in it and ~2% in the
    #: embedded broker (BENCHMARKS.md, round 7).
    fetch_max_wait_ms: int = 25
    #: The worker's garbage-collector thresholds (``gc.set_threshold``), as JSON, e.g.
    #: ``[700, 10, 10]`` for Python's own. A young-generation collection every 10,000 new
    #: container objects instead of 700: the worker allocates a few per report and frees them
    #: by reference counting, and the frequent collections of its large heap cost ~10% of its
    #: CPU (BENCHMARKS.md, round 6). The young generation stays a few MB at most.
    gc_threshold: tuple[PositiveInt, PositiveInt, PositiveInt] = (10_000, 10, 10)
    #: Lines per ais.raw message (the micro-batch of a replay at full speed, or of a live feed
    #: faster than this many lines per 0.2 s). 2,000 instead of 500: each stage then handles
    #: a quarter of the messages for the same lines, and a worker spends ~15% less CPU per
    #: line (BENCHMARKS.md, round 11). A batch is still one message of at most
    #: MAX_MESSAGE_BYTES (long lines: several, mda.model.bounded).
    raw_batch_lines: PositiveInt = 2_000
    log_level: str = "info"
    #: Log every ais.reports offset the track agent is handed ("TRACK-OFFSET partition
    #: offset", at warning level), to check delivery (tests/integration/test_startup_backlog.py).
    trace_offsets: bool = False
    #: Alert routing: audience → nations an alert must be releasable to (``mda.alerts.<aud>``).
    alert_routes_json: str = '{"ca": ["CAN"], "us": ["USA"], "bi": ["CAN", "USA"]}'
    #: Minimum event time between two forwarded updates of one alert (repeats are counted).
    alert_update_min_s: float = 600.0
    #: Event time a closed alert's state is kept before it leaves the lifecycle table and is
    #: tombstoned on the compacted mda.alert-state (default 7 days; a reopened alert stays).
    alert_retention_s: float = 7 * 24 * 3600.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
