"""Check that the decoder's fast path (``mda.decode._fast_row``) changes nothing.

Runs every line of the bundled and shared recordings, and random payloads of the fast-path
types (1, 2, 3, 5, 18) at every length and fill, through :class:`mda.decode.Decoder` three
times: as is, with the fast path switched off (everything through pyais's ``decode()``), and
giving rows (``rows=True``, the decode stage's form), and compares reports (values and their
types), rejects and decoded types. Exit status 1 on any difference. Run by ``make bench``
before timing anything.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from pyais.util import compute_checksum

import mda.decode
from mda.decode import Decoder
from mda.model import RawLine, report_from_row

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "replay" / "data"
SHARED = ROOT.parent / "shared" / "data" / "ais_nmea"
_ARMOR = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"


def recorded_lines() -> Iterator[RawLine]:
    files = sorted(DATA.glob("*.nmea")) + sorted(DATA.glob("*.ais"))
    if SHARED.is_dir():
        files += sorted(p for p in SHARED.iterdir() if p.is_file())
    received_ms = int(time.time() * 1000)  # (after every recording: none is ahead of it)
    for path in files:
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            yield RawLine(path.name, i, line, received_ms + i)


def _sentence(payload: str, fill: int, frag: tuple[int, int, str] = (1, 1, "")) -> str:
    body = f"AIVDM,{frag[1]},{frag[0]},{frag[2]},A,{payload},{fill}"
    return f"!{body}*{compute_checksum('!' + body):02X}"


def random_lines(n: int, seed: int = 20240601) -> Iterator[RawLine]:
    rnd = random.Random(seed)
    for i in range(n):
        mtype = rnd.choice((0, 1, 2, 3, 5, 18, 18, 5))
        chars = rnd.choice((1, 2, 20, 27, 28, 29, 30, 39, 40, 41, 60, 70, 71, 72, 80))
        first = _ARMOR[mtype] if rnd.random() < 0.95 else rnd.choice(_ARMOR)
        if rnd.random() < 0.05:  # MMSI 0, every field 0
            payload = first + "0" * (chars - 1)
        else:
            payload = first + "".join(rnd.choice(_ARMOR) for _ in range(chars - 1))
        fill = rnd.randrange(6)
        if rnd.random() < 0.3 and chars > 2:
            cut = rnd.randrange(1, chars)
            seq = str(rnd.randrange(10))
            yield RawLine("fuzz", i, _sentence(payload[:cut], 0, (1, 2, seq)), i)
            yield RawLine("fuzz", i, _sentence(payload[cut:], fill, (2, 2, seq)), i)
        else:
            yield RawLine("fuzz", i, _sentence(payload, fill), i)


def _fingerprint(decoder: Decoder, lines: list[RawLine]) -> list[Any]:
    out: list[Any] = []
    for raw in lines:
        try:
            r = decoder.feed(raw)
        except Exception as exc:
            out.append(repr(exc))
            continue
        out.append(
            (
                [
                    (rep, [type(getattr(rep, f)).__name__ for f in mda.decode.REPORT_FIELDS])
                    # A decoder made with rows=True gives rows: the same reports, as rows.
                    for rep in [*r.reports, *map(report_from_row, r.rows)]
                ],
                r.rejects,
                r.decoded_types,
            )
        )
    out.append(decoder.flush_all())
    return out


def compare(lines: list[RawLine], label: str, log: Callable[[str], None] = print) -> bool:
    fast = _fingerprint(Decoder(), lines)
    with mock.patch.object(mda.decode, "_fast_row", lambda *a, **k: None):
        slow = _fingerprint(Decoder(), lines)
    # The decode stage's form: rows, fast and slow path.
    rows = _fingerprint(Decoder(rows=True), lines)
    bad = [i for i, (a, b, c) in enumerate(zip(fast, slow, rows, strict=True)) if not a == b == c]
    reports = sum(len(x[0]) for x in fast[:-1])
    log(f"verify {label}: {len(lines)} lines, {reports} reports, {len(bad)} differences")
    for i in bad[:5]:
        log(f"  line {i}: {lines[i].text if i < len(lines) else 'flush'}")
        log(f"    fast {fast[i]}\n    slow {slow[i]}\n    rows {rows[i]}")
    return not bad


def main() -> int:
    ok = compare(list(recorded_lines()), "recordings")
    ok &= compare(list(random_lines(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)), "fuzz")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
