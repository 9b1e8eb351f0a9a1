"""Which audiences may see an alert: per-audience topics ``mda.alerts.<audience>``.

An audience (an agency's watch floor, a bi-national centre) is defined by the nations whose
markings an alert must carry for that audience to receive it: ``{"ca": ["CAN"]}`` means the
Canadian topic receives only alerts whose ``releasability`` includes ``CAN``. An audience with
several nations (``{"bi": ["CAN", "USA"]}``) receives only alerts releasable to *all* of them.
So an alert can never reach an audience it is not releasable to, whatever the configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The default policy: Canadian, US and bi-national watch floors.
DEFAULT_ROUTES: dict[str, tuple[str, ...]] = {
    "ca": ("CAN",),
    "us": ("USA",),
    "bi": ("CAN", "USA"),
}

_AUDIENCE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_NATION = re.compile(r"^[A-Z]{3}$")


class RoutingConfigError(ValueError):
    """The audience mapping is unusable (the worker refuses to start with it)."""


@dataclass(frozen=True, slots=True)
class Routes:
    """Audience name → the nations an alert must be releasable to for that audience."""

    audiences: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Routes:
        """Validate a mapping such as ``{"ca": ["CAN"], "bi": ["CAN", "USA"]}``.

        Audience names are lower-case identifiers (they become topic names); nations are
        ISO 3166 alpha-3 codes as in ``releasability``; every audience needs at least one.
        """
        audiences: list[tuple[str, frozenset[str]]] = []
        for name, nations in sorted(mapping.items()):
            if not isinstance(name, str) or not _AUDIENCE.match(name):
                raise RoutingConfigError(f"audience {name!r}: lower-case letters/digits/_ only")
            if isinstance(nations, str) or not isinstance(nations, Sequence) or not nations:
                raise RoutingConfigError(f"audience {name!r}: needs a non-empty list of nations")
            for nation in nations:
                if not isinstance(nation, str) or not _NATION.match(nation):
                    raise RoutingConfigError(f"audience {name!r}: bad nation code {nation!r}")
            audiences.append((name, frozenset(nations)))
        return cls(tuple(audiences))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.audiences)

    def audiences_for(self, releasability: Sequence[str]) -> list[str]:
        """The audiences that may receive an alert with these releasability markings."""
        allowed = set(releasability)
        return [name for name, nations in self.audiences if nations <= allowed]


def default_routes() -> Routes:
    return Routes.from_mapping({k: list(v) for k, v in DEFAULT_ROUTES.items()})
