"""Round trip: reports encoded with pyais's encoder, wrapped in each envelope, decoded by us.

Values must come back within AIS resolution (lat/lon 1/600000°, SOG 0.1 kn, COG 0.1°) and
with the event time and time source of the envelope.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pyais.constants import ShipType
from pyais.encode import encode_dict
from pyais.messages import TagBlock

from mda import invalid_values as iv
from mda.decode import Decoder
from mda.model import RawLine, Report

INGEST_MS = 1_700_000_000_123
POS_RES_DEG = 1 / 600000
SIXBIT = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

mmsis = st.integers(min_value=1, max_value=999_999_999)
# Positions in AIS units, so that the expected value is exactly representable; (0, 0) is
# excluded because it is normalised to None on purpose.
lats = st.integers(min_value=-90 * 600000, max_value=90 * 600000).map(lambda u: u / 600000)
lons = st.integers(min_value=-180 * 600000, max_value=180 * 600000).map(lambda u: u / 600000)
sogs = st.integers(min_value=0, max_value=1022).map(lambda u: u / 10)
cogs = st.integers(min_value=0, max_value=3599).map(lambda u: u / 10)
headings = st.integers(min_value=0, max_value=359)
statuses = st.integers(min_value=0, max_value=14)


# Text without leading/trailing blanks and without '@' (the padding character).
def texts(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=SIXBIT + " ", min_size=1, max_size=max_size).map(str.strip).filter(bool)


#: 2000 … the line's receipt (a time ahead of it by a day or more is refused: test_decode.py).
epochs_s = st.integers(min_value=946_684_800, max_value=INGEST_MS // 1000)


@st.composite
def position_messages(draw: st.DrawFn) -> dict[str, Any]:
    msg_type = draw(st.sampled_from([1, 2, 3, 18]))
    d: dict[str, Any] = {
        "type": msg_type,
        "msg_type": msg_type,  # pyais's encoder takes the type field from here for 2 and 3
        "mmsi": draw(mmsis),
        "lat": draw(lats),
        "lon": draw(lons),
        "speed": draw(sogs),
        "course": draw(cogs),
        "heading": draw(headings),
    }
    if msg_type != 18:
        d["status"] = draw(statuses)
    if d["lat"] == 0 and d["lon"] == 0:
        d["lat"] = 1.0
    return d


@st.composite
def static_messages(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["5", "24A", "24B"]))
    mmsi = draw(mmsis)
    if kind == "5":
        return {
            "type": 5,
            "mmsi": mmsi,
            "shipname": draw(texts(20)),
            "callsign": draw(texts(7)),
            "imo": draw(st.integers(min_value=1, max_value=2**30 - 1)),
            "ship_type": draw(st.integers(min_value=20, max_value=99)),  # 1-19 reserved
        }
    if kind == "24A":
        return {"type": 24, "mmsi": mmsi, "partno": 0, "shipname": draw(texts(20))}
    return {
        "type": 24,
        "mmsi": mmsi,
        "mothership_mmsi": 316000001,  # needed by pyais when mmsi is an auxiliary craft (98…)
        "partno": 1,
        "callsign": draw(texts(7)),
        "ship_type": draw(st.integers(min_value=20, max_value=99)),  # 1-19 reserved
    }


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[str, int | None, str]:
    """(kind, epoch in the envelope in ms or None, station) for wrapping sentences."""
    kind = draw(st.sampled_from(["plain", "tagblock_s", "tagblock_ms", "uscg", "epoch", "iso"]))
    epoch_ms = None if kind == "plain" else draw(epochs_s) * 1000
    if kind in ("tagblock_ms", "epoch"):
        assert epoch_ms is not None
        epoch_ms += draw(st.integers(min_value=0, max_value=999))
    # USCG station fields start with r or b; tag-block s: can be anything.
    stations = ["r003669945", "b2003669950"] + (["42809", "rMT6214"] if kind != "uscg" else [])
    return kind, epoch_ms, draw(st.sampled_from(stations))


def wrap(sentences: list[str], kind: str, epoch_ms: int | None, station: str) -> list[str]:
    """Put the sentences of one message on lines, in the envelope ``kind``."""
    if kind == "plain":
        return sentences
    assert epoch_ms is not None
    if kind.startswith("tagblock"):
        c = epoch_ms // 1000 if kind == "tagblock_s" else epoch_ms
        out = []
        for i, s in enumerate(sentences, start=1):
            fields: dict[str, Any] = {"source_station": station}
            if i == 1:
                fields["receiver_timestamp"] = c  # later fragments carry no c: (aisdb style)
            if len(sentences) > 1:
                fields["group"] = f"{i}-{len(sentences)}-77"
            out.append(f"\\{TagBlock.create_str(**fields)}\\{s}")
        return out
    if kind == "uscg":
        return [f"{s},{station},{epoch_ms // 1000}" for s in sentences]
    if kind == "epoch":
        return [f"{epoch_ms} {s}" for s in sentences]
    from datetime import UTC, datetime

    iso = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [f"{iso} {s}" for s in sentences]


def expected_time(kind: str, epoch_ms: int | None) -> tuple[int, str]:
    if kind == "plain" or epoch_ms is None:
        return INGEST_MS, "ingest"
    if kind == "tagblock_s":
        return epoch_ms // 1000 * 1000, "tagblock"
    if kind == "tagblock_ms":
        return epoch_ms, "tagblock"
    if kind == "uscg":
        return epoch_ms // 1000 * 1000, "uscg"
    if kind == "iso":
        return epoch_ms // 1000 * 1000, "line"
    return epoch_ms, "line"


def decode_lines(lines: list[str]) -> Report:
    d = Decoder()
    reports: list[Report] = []
    for i, line in enumerate(lines, start=1):
        result = d.feed(RawLine("rt", i, line, INGEST_MS))
        assert result.rejects == [], (line, result.rejects)
        reports += result.reports
    assert d.flush("rt") == []
    (report,) = reports
    return report


def check_time_and_station(r: Report, kind: str, epoch_ms: int | None, station: str) -> None:
    assert (r.event_ms, r.time_source) == expected_time(kind, epoch_ms)
    if kind.startswith("tagblock") or kind == "uscg":
        assert r.station == station
    else:
        assert r.station is None


@settings(max_examples=200, deadline=None)
@given(position_messages(), envelopes())
def test_position_round_trip(msg: dict[str, Any], env: tuple[str, int | None, str]) -> None:
    kind, epoch_ms, station = env
    sentences = encode_dict(msg, talker_id="AI", sentence_type="VDM")
    r = decode_lines(wrap(sentences, kind, epoch_ms, station))
    assert (r.mmsi, r.msg_type) == (msg["mmsi"], msg["type"])
    assert r.ais_class == ("B" if msg["type"] == 18 else "A")
    assert r.lat is not None and r.lon is not None
    assert abs(r.lat - msg["lat"]) <= POS_RES_DEG / 2
    assert abs(r.lon - msg["lon"]) <= POS_RES_DEG / 2
    assert r.sog_kn is not None and abs(r.sog_kn - msg["speed"]) < 0.05
    assert r.cog_deg is not None and abs(r.cog_deg - msg["course"]) < 0.05
    assert r.heading_deg == msg["heading"]
    assert r.nav_status == msg.get("status")
    check_time_and_station(r, kind, epoch_ms, station)


@settings(max_examples=200, deadline=None)
@given(static_messages(), envelopes(), st.integers(min_value=0, max_value=9))
def test_static_round_trip(
    msg: dict[str, Any], env: tuple[str, int | None, str], seq_id: int
) -> None:
    kind, epoch_ms, station = env
    sentences = encode_dict(msg, talker_id="AI", sentence_type="VDM", seq_id=seq_id)
    r = decode_lines(wrap(sentences, kind, epoch_ms, station))
    assert (r.mmsi, r.msg_type) == (msg["mmsi"], msg["type"])
    assert r.name == msg.get("shipname")
    assert r.callsign == msg.get("callsign")
    assert r.imo == msg.get("imo")
    # pyais maps reserved ship-type codes of type 5 onto a "reserved" member (46 → 45) or
    # onto 0 = not available (38 → 0), see ShipType._missing_; type 24 part B keeps the code.
    ship_type = msg.get("ship_type")
    if ship_type is not None and msg["type"] == 5:
        ship_type = iv.ship_type_or_none(int(ShipType.from_value(ship_type)))  # type: ignore[arg-type]
    assert r.ship_type == ship_type
    assert r.lat is None and r.sog_kn is None
    assert r.ais_class == ("A" if msg["type"] == 5 else "B")
    check_time_and_station(r, kind, epoch_ms, station)


@settings(max_examples=100, deadline=None)
@given(position_messages())
def test_vdo_and_other_talkers(msg: dict[str, Any]) -> None:
    for talker, sentence_type in (("AI", "VDO"), ("BS", "VDM"), ("AB", "VDM")):
        sentences = encode_dict(msg, talker_id=talker, sentence_type=sentence_type)
        assert decode_lines(sentences).mmsi == msg["mmsi"]
