"""A worker's or a run's configuration, checked before anything starts.

The zones file (``MDA_ZONES`` / ``--zones``), the reference set (``MDA_REFERENCE_DIR`` /
``--reference``) and the thresholds (``MDA_THRESHOLDS_JSON``) are read by the track and
proximity agents when they start, the table store (``MDA_TABLE_STORE``) by Faust. One that
cannot be read crashed those agents in a worker that stayed up doing nothing (or the worker),
and ``mda run`` waited 3 min for end markers that never came, then printed a traceback. Now
``mda worker``, ``mda run`` and ``mda demo`` name every problem and exit 2 before a broker or
a worker is started.
"""

from __future__ import annotations

import orjson

from mda.errors import MdaError
from mda.geo import Geography
from mda.isps import load_reference_dir
from mda.thresholds import Thresholds
from streams.settings import Settings


def configuration_problems(settings: Settings) -> list[str]:
    """Each problem of ``settings``' zones, reference set, thresholds and table store, one
    line (or block) each; empty when all can be used."""
    problems: list[str] = []
    try:
        Geography.load(settings.zones)
    except MdaError as exc:
        problems.append(f"zones rejected: {exc.detail}")  # (the detail names the file)
    if settings.reference_dir is not None:
        try:
            load_reference_dir(settings.reference_dir)
        except MdaError as exc:
            problems.append(f"reference data {settings.reference_dir} rejected:\n{exc.detail}")
    try:
        Thresholds.from_dict(orjson.loads(settings.thresholds_json))
    except (orjson.JSONDecodeError, ValueError) as exc:
        problems.append(f"MDA_THRESHOLDS_JSON rejected: {exc}")
    if (problem := table_store_problem(settings.table_store)) is not None:
        problems.append(problem)
    return problems


def table_store_problem(url: str) -> str | None:
    """Why Faust cannot keep its tables in ``url`` (``MDA_TABLE_STORE``), or None. Faust's
    own registry says (its driver imported too): before, a worker given ``bogus://`` or
    ``rocksdb:`` without the driver started, crashed, and ``mda run`` printed a traceback."""
    from faust.stores import by_url

    try:
        by_url(url)
    except (ImportError, ValueError) as exc:  # an unknown store, or its driver missing
        return f"MDA_TABLE_STORE {url!r} rejected: {exc}"
    return None
