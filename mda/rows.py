"""Checks of the rows the internal topics carry (``ais.reports``, ``mda.presence``).

Only our stages write those rows, and the hot path builds values from them without
``__init__`` (:func:`mda.model.slot_builder`), so a row of the wrong shape, from another
program or a faulty version during an upgrade, would otherwise crash its stage (``"x" <
1``), or worse, be taken in and fail later, far from its cause (a string latitude in a
proximity span). A :class:`RowCheck` says whether a row has the columns and the JSON
types its builder's annotations ask for, and the ranges given; the stage counts a row that
fails as ``bad_message``, puts it on ``ais.rejected`` and goes on with the next.

The check is one generated expression per row shape (the ``and`` of a type test per
column, ~1 µs a row of 20 columns); only a failing row is looked at again, column by
column, to say what is wrong with it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NONE = type(None)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


class _Misfit(str):
    """A row that :meth:`RowCheck.reorder` could not read (it says why); fails the check."""


#: A column a row written in another order (or as an object) lacks and has no default for.
MISSING: Any = _Missing()
#: The Python types orjson reads a JSON value of an annotation's type as. A JSON number
#: without a fraction reads as an int, so a float column takes an int too; ``bool`` is not an
#: int here (``type(v) is int``), since a ``true`` where a number belongs is not a number.
_JSON_TYPES: dict[Any, tuple[type, ...]] = {
    int: (int,),
    float: (float, int),
    str: (str,),
    bool: (bool,),
    list: (list,),
}


def _column(hint: Any) -> tuple[tuple[type, ...], frozenset[Any] | None]:
    """The JSON types a column of annotation ``hint`` takes, and its literal values if any."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        kinds: tuple[type, ...] = ()
        literals: frozenset[Any] | None = None
        for arg in typing.get_args(hint):
            k, lits = _column(arg)
            kinds += tuple(t for t in k if t not in kinds)
            if lits is not None:
                literals = (literals or frozenset()) | lits
        if literals is not None and _NONE in kinds:
            literals |= {None}
        return kinds, literals
    if origin is typing.Literal:
        values = typing.get_args(hint)
        return tuple(dict.fromkeys(type(v) for v in values)), frozenset(values)
    if origin is not None:  # list[X], dict[…]: the container
        hint = origin
    supertype = getattr(hint, "__supertype__", None)  # a NewType
    if supertype is not None:
        return _column(supertype)
    if hint is None or hint is _NONE:
        return (_NONE,), None
    if hint not in _JSON_TYPES:
        raise TypeError(f"no JSON type for the annotation {hint!r}")
    return _JSON_TYPES[hint], None


@dataclass(frozen=True)
class Column:
    """One column of a row: the JSON types it takes, its literal values, its bounds."""

    name: str
    kinds: tuple[type, ...]
    literals: frozenset[Any] | None
    bounds: tuple[float, float] | None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` in this column (``None``: nothing)."""
        if value is MISSING:
            return f"no {self.name!r}"
        if type(value) not in self.kinds:
            want = " or ".join("null" if k is _NONE else k.__name__ for k in self.kinds)
            return f"{self.name!r} is {_show(value)}, not {want}"
        if self.literals is not None and value not in self.literals:
            return f"{self.name!r} is {_show(value)}, not one of {sorted(map(repr, self.literals))}"
        if self.bounds is not None and value is not None:
            low, high = self.bounds
            if not low <= value <= high:
                return f"{self.name!r} is {value!r}, outside [{low!r}, {high!r}]"
        return None


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"


class RowCheck:
    """The check of rows whose columns are ``names``, typed as ``hints`` says (a function's
    or a class's annotations, read with :func:`typing.get_type_hints`), with ``bounds``
    (column → inclusive range) on numbers, and ``defaults`` (column → value) for rows written
    without a column (:meth:`reorder`, :meth:`row_of`).

    ``ok(row)`` is the fast test; ``problem(row)`` says what is wrong (``None``: nothing).
    """

    def __init__(
        self,
        names: Sequence[str],
        hints: Mapping[str, Any],
        bounds: Mapping[str, tuple[float, float]] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.names = tuple(names)
        self.defaults = dict(defaults or {})
        bounds = bounds or {}
        unknown = set(bounds) - set(names)
        if unknown:
            raise ValueError(f"bounds on columns that are not there: {sorted(unknown)}")
        self.columns = tuple(
            Column(name, *_column(hints[name]), bounds.get(name)) for name in names
        )
        self.ok: Callable[[Any], bool] = self._compile()

    def _compile(self) -> Callable[[Any], bool]:
        # The row is unpacked into locals (one instruction) and every constant is a default
        # argument: a local read, where a global is a dict lookup.
        consts: dict[str, Any] = {}
        tests = []
        for i, c in enumerate(self.columns):
            v = f"c{i}"
            if len(c.kinds) == 1 and c.kinds[0] is not _NONE:
                consts[f"_t{i}"] = c.kinds[0]
                test = f"type({v}) is _t{i}"
            else:
                consts[f"_k{i}"] = c.kinds
                test = f"type({v}) in _k{i}"
            if c.literals is not None:
                # After the type test: a list in a set lookup would raise (unhashable).
                consts[f"_l{i}"] = c.literals
                test += f" and {v} in _l{i}"
            if c.bounds is not None:
                consts[f"_lo{i}"], consts[f"_hi{i}"] = c.bounds
                test += f" and ({v} is None or _lo{i} <= {v} <= _hi{i})"
            tests.append(f"({test})")
        params = ", ".join(["r", "_list=list", "_len=len", *(f"{k}=_{k}" for k in consts)])
        source = "\n".join(
            [
                f"def ok({params}):",
                f"    if type(r) is not _list or _len(r) != {len(self.columns)}:",
                "        return False",
                f"    {', '.join(f'c{i}' for i in range(len(self.columns)))}, = r",
                "    return (\n        " + "\n        and ".join(tests) + "\n    )",
            ]
        )
        namespace: dict[str, Any] = {f"_{k}": value for k, value in consts.items()}
        exec(source, namespace)  # the source is made here, from the annotations
        ok: Callable[[Any], bool] = namespace["ok"]
        return ok

    def row_of(self, item: Any) -> Any:
        """A row written as an object (``{column: value}``), as a row in this order: a
        column it lacks takes its default (else :data:`MISSING`, which fails the check);
        columns it has that are not ours are left out. Anything but an object is returned as
        it is (and fails the check)."""
        if type(item) is not dict:
            return item
        defaults = self.defaults
        return [item.get(n, defaults.get(n, MISSING)) for n in self.names]

    def reorder(self, fields: Sequence[str] | None) -> Callable[[list[Any]], Any] | None:
        """How to put a row whose columns are ``fields`` (a writer of another version) in
        this order; ``None`` when it is in this order already (or names none)."""
        if fields is None or tuple(fields) == self.names:
            return None
        names = tuple(fields)

        def reorder(row: list[Any]) -> Any:
            if len(row) != len(names):
                return _Misfit(f"{len(row)} columns where 'fields' names {len(names)}")
            return self.row_of(dict(zip(names, row, strict=True)))

        return reorder

    def problem(self, row: Any) -> str | None:
        """What is wrong with ``row`` (``None``: nothing); the first problem found."""
        if type(row) is _Misfit:
            return str(row)
        if type(row) is not list:
            return f"a {type(row).__name__}, not a row"
        if len(row) != len(self.columns):
            return f"{len(row)} columns, not {len(self.columns)}"
        for c, value in zip(self.columns, row, strict=True):
            why = c.problem(value)
            if why is not None:
                return why
        return None


def hints_of(obj: Any) -> dict[str, Any]:
    """The resolved annotations of a class or function (``from __future__`` strings read)."""
    return typing.get_type_hints(obj)
