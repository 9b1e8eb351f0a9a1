"""The alert table of ``mda alerts tail``, ``mda run --show-alerts`` and ``mda demo``.

Before, ``mda demo`` printed rows without a header and with a 16-character rule column, so
the rows of ISPS_NO_PREARRIVAL, ISPS_SECURITY_LEVEL, … were pushed out of line, and the
placeholder MMSI 000000001 was printed as ``1``; ``mda alerts tail`` cut its rule column at
22 characters, one short of ISPS_LAST_PORT_MISMATCH.
"""

from __future__ import annotations

from typing import Any

import pytest

from mda.alerts import RULES, SEVERITIES
from streams import demo
from streams.alert_table import HEADER, format_row, mmsi_text
from streams.runner import RunSummary
from tests.unit.test_lifecycle import alert

COLUMNS = ("severity", "status", "rule", "mmsi", "vessel", "jur", "facility/zone", "alert id")


def _starts(header: str) -> dict[str, int]:
    return {name: header.index(name) for name in (*COLUMNS, "summary")}


def _cells(row: str) -> dict[str, str]:
    """The cells of a row, cut where the header's columns start."""
    starts = _starts(HEADER)
    bounds = [0, *starts.values(), len(row)]
    names = ["event time", *starts]
    return {n: row[a:b].strip() for n, a, b in zip(names, bounds, bounds[1:], strict=False)}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_lines_up_under_the_header(rule: str) -> None:
    for severity in SEVERITIES:
        a: dict[str, Any] = {
            **alert(),
            "rule": rule,
            "severity": severity,
            "vessel_name": "A NAME LONGER THAN TWENTY",
            "zone_id": "a-zone-id-longer-than-20",
        }
        cells = _cells(format_row(a))
        assert cells["rule"] == rule
        assert cells["severity"] == severity
        assert cells["mmsi"] == f"{a['mmsi']:09d}"
        assert cells["vessel"] == "A NAME LONGER THAN T"  # cut at 20
        assert cells["facility/zone"] == "a-zone-id-longer-tha"  # cut at 20
        assert cells["jur"] == a["jurisdiction"]
        assert cells["alert id"] == a["alert_id"][:8]
        assert cells["summary"] == a["summary"]


def test_an_mmsi_is_shown_as_its_nine_digits() -> None:
    assert mmsi_text(1) == "000000001"
    assert mmsi_text(572329) == "000572329"
    assert mmsi_text(316012345) == "316012345"
    assert mmsi_text(None) == ""
    row = format_row({**alert(), "mmsi": 1})
    assert _cells(row)["mmsi"] == "000000001"


def test_an_isps_alert_shows_its_facility() -> None:
    isps = {**alert(), "zone_id": "facility-USSEA-0001", "facility_id": "USSEA-0001"}
    assert _cells(format_row(isps))["facility/zone"] == "USSEA-0001"
    assert _cells(format_row({**alert(), "zone_id": None}))["facility/zone"] == "-"


def test_the_demo_prints_a_header_and_aligned_rows(capsys: pytest.CaptureFixture[str]) -> None:
    alerts = [
        {**alert(), "rule": r, "alert_id": f"{i:032x}", "mmsi": i}
        for i, r in enumerate(sorted(RULES))
    ]
    demo._print(RunSummary(alerts=alerts), demo.DEMO_FILES[0])
    out = capsys.readouterr().out.splitlines()
    at = out.index(HEADER)
    rows = out[at + 1 :]
    assert len(rows) == len(RULES)
    assert [_cells(r)["rule"] for r in rows] == sorted(RULES)
    assert [_cells(r)["mmsi"] for r in rows] == [f"{i:09d}" for i in range(len(RULES))]
