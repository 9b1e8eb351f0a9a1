"""Every ``mda_*`` metric, defined in one place (DESIGN.md §10). Labels are low-cardinality."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as _Tally
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from mda.alerts import RULES, SEVERITIES
from mda.errors import MdaError, RejectReason
from streams.pipeline import Out, refusal

LINES_READ = Counter("mda_lines_read_total", "Input lines taken from ais.raw by the decode stage")
MESSAGES_DECODED = Counter(
    "mda_messages_decoded_total",
    "AIS messages decoded (complete, checksum valid), by message type",
    ["msg_type"],
)
MESSAGES_REJECTED = Counter("mda_messages_rejected_total", "Inputs rejected, by reason", ["reason"])
LINES_RETIMED = Counter(
    "mda_lines_retimed_total",
    "Live lines dated by their receipt: the time they gave was more than a minute ahead of it, "
    "or no date from 2000 to 2099, or 1024 weeks behind it (a GPS week-number rollover): the "
    "receiving station's clock, or ours, is wrong",
)
DUPLICATES = Counter(
    "mda_duplicates_suppressed_total", "Same transmission heard again (other station), dropped"
)
REPORTS_TRACKED = Counter("mda_reports_tracked_total", "Reports taken into vessel tracks")
ALERTS = Counter("mda_alerts_total", "Alert messages emitted", ["rule", "severity", "status"])
VESSELS = Gauge("mda_vessels_tracked", "Vessels with track state in this worker")
EVENT_LAG = Histogram(
    "mda_event_time_lag_seconds",
    "Ingest time minus event time of reports at the track stage",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400, float("inf")),
)
STAGE_SECONDS = Histogram(
    "mda_stage_processing_seconds",
    "Processing time per Kafka message, by stage",
    ["stage"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, float("inf")),
)
ENCOUNTERS_RESTORED = Counter(
    "mda_encounters_restored_total",
    "ENCOUNTER pairs (open, or close for a minute or more) taken back from the proximity "
    "stage's checkpoint by a partition's next holder (after a rebalance or a restart)",
)
WATERMARK = Gauge(
    "mda_watermark_seconds", "Event-time watermark of the track stage (max over partitions)"
)


def preinitialise() -> None:
    """Create every known label value so dashboards show zeros, not gaps."""
    for reason in RejectReason:
        MESSAGES_REJECTED.labels(reason=reason.value)
    for t in range(1, 28):
        MESSAGES_DECODED.labels(msg_type=str(t))
    for rule in RULES:
        for sev in SEVERITIES:
            for status in ("open", "update", "closed"):
                ALERTS.labels(rule=rule, severity=sev, status=status)
    for stage in ("decode", "track", "proximity"):
        STAGE_SECONDS.labels(stage=stage)


# Receiving stations (DESIGN.md §9: a station is silent after 10 min of event time without any
# vessel heard through it). The label set must stay bounded: export only the top-N stations by
# traffic and aggregate the rest as station="other"; a file or feed without station ids counts
# as one station named after the source. Event-time seconds (watermark minus the station's
# last report), so a replay shows the silences the recording had, at any speed.
STATION_SILENCE = Gauge(
    "mda_station_silence_seconds",
    "Event time since any vessel was last heard through the receiving station "
    "(top-N stations, the rest as station=other)",
    ["station"],
)


# Alert lifecycle (streams/lifecycle.py). Labels: closed sets and the configured audiences.
ALERT_LIFECYCLE = Counter(
    "mda_alert_lifecycle_total",
    "Rule alert messages at the lifecycle stage, by outcome (forwarded, suppressed_*, …)",
    ["outcome"],
)
ALERTS_ROUTED = Counter(
    "mda_alerts_routed_total", "Alert messages sent to an audience topic", ["audience"]
)
ACTIONS_APPLIED = Counter("mda_actions_applied_total", "Watch-officer actions applied", ["action"])
ACTIONS_REJECTED = Counter(
    "mda_actions_rejected_total", "Watch-officer actions rejected, by reason", ["reason"]
)
ALERT_STATES_EXPIRED = Counter(
    "mda_alert_states_expired_total",
    "Closed alerts removed from the lifecycle state after MDA_ALERT_RETENTION_S of event time "
    "(tombstoned on mda.alert-state and the table changelog)",
)


# Live ingest (``mda ingest``, streams/ingest_cli.py). Its own registry, served by that process
# on ``--metrics-port`` (with the process_* metrics), so workers do not export an ingest's
# series (a worker's ``mda_ingest_connected 0`` would read as a disconnected receiver).
INGEST_REGISTRY = CollectorRegistry()
ProcessCollector(registry=INGEST_REGISTRY)
INGEST_LINES_RECEIVED = Counter(
    "mda_ingest_lines_received_total",
    "Lines mda ingest received from its UDP socket or TCP server",
    registry=INGEST_REGISTRY,
)
INGEST_BYTES_RECEIVED = Counter(
    "mda_ingest_bytes_received_total",
    "Bytes mda ingest received from its UDP socket or TCP server",
    registry=INGEST_REGISTRY,
)
INGEST_LINES_SENT = Counter(
    "mda_ingest_lines_sent_total",
    "Lines mda ingest put on ais.raw (acknowledged by the broker)",
    registry=INGEST_REGISTRY,
)
INGEST_LINES_FAILED = Counter(
    "mda_ingest_lines_failed_total",
    "Lines mda ingest could not put on ais.raw (the producer gave up on their batch)",
    registry=INGEST_REGISTRY,
)
INGEST_CONNECT_ATTEMPTS = Counter(
    "mda_ingest_connect_attempts_total",
    "Connection attempts to the TCP server (the bind of a UDP socket), by result "
    "(connected, failed)",
    ["result"],
    registry=INGEST_REGISTRY,
)
INGEST_RECONNECTS = Counter(
    "mda_ingest_reconnects_total",
    "Connections to the TCP server after the first one (after a drop or refused attempts)",
    registry=INGEST_REGISTRY,
)
INGEST_CONNECTED = Gauge(
    "mda_ingest_connected",
    "1 while mda ingest is connected to its TCP server (bound to its UDP port), else 0",
    registry=INGEST_REGISTRY,
)
for _result in ("connected", "failed"):
    INGEST_CONNECT_ATTEMPTS.labels(result=_result)


def observe_many(histogram: Histogram, values: Iterable[float]) -> None:
    """``histogram.observe(v)`` for each value, with one increment per bucket hit.

    The track agent observes the event-time lag of every report (a batch holds hundreds): each
    ``observe`` takes a lock and walks the buckets up to the value's, ~2 µs for a replayed
    file whose lag is years. The same result: the sum grows by each value in turn and each
    value counts in the first bucket whose upper bound is >= it (what ``observe`` does,
    through the same ``_sum`` and ``_buckets`` it uses; tests/unit/test_metrics.py compares
    the exposition of both ways).
    """
    values = list(values)
    if not values:
        return
    bounds = histogram._upper_bounds
    # Added in order from the current sum, as one inc() each would (the same float); only
    # the event loop's thread observes, so nothing writes the sum in between.
    total = histogram._sum.get()
    for v in values:
        total += v
    histogram._sum.set(total)
    for index, count in _Tally(bisect_left(bounds, v) for v in values).items():
        histogram._buckets[index].inc(count)


def refused(stage: str, event: Any, exc: MdaError, rejected_topic: str) -> list[Out]:
    """A message a stage refused (every agent's): counted in ``mda_messages_rejected_total``
    by its reason, and its ``ais.rejected`` record (:func:`~streams.pipeline.refusal`)."""
    MESSAGES_REJECTED.labels(reason=exc.reason.value).inc()
    return [refusal(stage, event, exc, rejected_topic)]
