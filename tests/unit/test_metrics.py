"""streams.metrics.observe_many: the same histogram as one observe() per value."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streams.metrics import EVENT_LAG, observe_many

BUCKETS = EVENT_LAG._upper_bounds


def _exposition(registry: CollectorRegistry) -> list[bytes]:
    """The text format without the ``_created`` line (when each histogram was made)."""
    return [ln for ln in generate_latest(registry).splitlines() if b"_created" not in ln]


def _pair() -> tuple[CollectorRegistry, Histogram, CollectorRegistry, Histogram]:
    one, many = CollectorRegistry(), CollectorRegistry()
    h1 = Histogram("lag_seconds", "lag", buckets=BUCKETS, registry=one)
    h2 = Histogram("lag_seconds", "lag", buckets=BUCKETS, registry=many)
    return one, h1, many, h2


def test_observe_many_equals_observe_per_value() -> None:
    rng = random.Random(3)
    one, h1, many, h2 = _pair()
    for _ in range(50):
        # Bounds themselves (a value equal to a bound counts in that bucket), between them,
        # negative, and beyond the last finite bound; batches of every size, empty too.
        batch = [
            rng.choice([*BUCKETS[:-1], -1.0, 0.0, 1e9, rng.uniform(0, 100_000)])
            for _ in range(rng.randrange(0, 40))
        ]
        for v in batch:
            h1.observe(v)
        observe_many(h2, batch)
        assert _exposition(one) == _exposition(many)
    assert b"lag_seconds_count 0.0" not in generate_latest(many)
    assert h2._buckets[0].get() > 0 and h2._buckets[-1].get() > 0


def test_observe_many_takes_an_iterator() -> None:
    one, h1, many, h2 = _pair()
    for v in (0.05, 7.0, 7.0):
        h1.observe(v)
    observe_many(h2, iter([0.05, 7.0, 7.0]))
    assert _exposition(one) == _exposition(many)
