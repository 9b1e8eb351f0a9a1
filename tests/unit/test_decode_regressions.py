"""Inputs that once broke the decoder (each found by a benchmark or a fuzz run)."""

from __future__ import annotations

from mda.decode import Decoder
from mda.model import RawLine


def test_type_24_too_short_for_its_part_number_does_not_raise() -> None:
    """pyais decodes it as part A with partno None; reading a part B field raised, and in an
    agent that would have lost the whole batch around it."""
    line = "!AIVDM,1,1,,A,H5M2oP,0*1B"
    result = Decoder().feed(RawLine("s", 1, line, 0))
    assert result.decoded_types == [24] or result.rejects
    for report in result.reports:
        assert report.callsign is None
