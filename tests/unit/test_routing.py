"""Routing: an alert never reaches an audience it is not releasable to."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mda.geo import releasability
from mda.routing import Routes, RoutingConfigError, default_routes

NATIONS = ["CAN", "USA", "GBR", "FRA"]


def test_default_routes_follow_releasability() -> None:
    routes = default_routes()
    assert routes.audiences_for(releasability("CA")) == ["ca"]
    assert routes.audiences_for(releasability("US")) == ["us"]
    assert sorted(routes.audiences_for(releasability("BI"))) == ["bi", "ca", "us"]
    assert sorted(routes.audiences_for(releasability("INTL"))) == ["bi", "ca", "us"]
    assert routes.audiences_for([]) == []


@given(
    config=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True),
        st.lists(st.sampled_from(NATIONS), min_size=1, max_size=3),
        min_size=1,
        max_size=5,
    ),
    marks=st.lists(st.sampled_from(NATIONS), max_size=4),
)
def test_never_routed_to_an_audience_it_is_not_releasable_to(
    config: dict[str, list[str]], marks: list[str]
) -> None:
    routes = Routes.from_mapping(config)
    chosen = routes.audiences_for(marks)
    for name in chosen:
        assert set(config[name]) <= set(marks)
    # …and every audience it is releasable to gets it.
    assert set(chosen) == {n for n, nations in config.items() if set(nations) <= set(marks)}


@pytest.mark.parametrize(
    "config",
    [
        {"CA": ["CAN"]},
        {"ca": []},
        {"ca": "CAN"},
        {"ca": ["can"]},
        {"a.b": ["CAN"]},
    ],
)
def test_bad_configuration_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(RoutingConfigError):
        Routes.from_mapping(config)
