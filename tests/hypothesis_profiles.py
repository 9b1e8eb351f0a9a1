"""Hypothesis budgets of the reliability properties (tests/unit/test_fuzz_*.py).

``FUZZ`` decorates each property: the bounded budget of ``make test`` by default, the long
budget of ``make fuzz`` with ``HYPOTHESIS_PROFILE=long``. The profiles are applied per test
rather than loaded globally, so other test modules keep hypothesis's own defaults.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_INPUT_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "mda-fuzz", max_examples=300, deadline=None, suppress_health_check=_SLOW_INPUT_OK
)
settings.register_profile(
    "long", max_examples=5_000, deadline=None, suppress_health_check=_SLOW_INPUT_OK
)

#: The settings every fuzz property runs with (profile from ``HYPOTHESIS_PROFILE``).
FUZZ = settings.get_profile(
    "long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "mda-fuzz"
)
