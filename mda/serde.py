"""JSON round trips for the frozen dataclasses kept in tables (orjson writes them natively).

:func:`from_jsonable` rebuilds a dataclass from the plain JSON value, guided by its type hints
(nested dataclasses, ``tuple[X, ...]``, fixed tuples, optionals and literals).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_jsonable(tp, value)
    return value


def from_jsonable(cls: type[T], data: dict[str, Any]) -> T:
    """The dataclass ``cls`` from the dict orjson made of it."""
    hints = _hints(typing.cast(Any, cls))
    return cls(**{k: _convert(hints[k], v) for k, v in data.items() if k in hints})
