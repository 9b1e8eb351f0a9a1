"""Build ``mda/data/mid.csv``: the ITU MID table with an ISO 3166-1 alpha-2 column.

Reproducibility script, not a runtime dependency: it needs ``pycountry`` (``pip install
pycountry``), which ``mda`` never imports. Input is the copied ITU table
(``../shared/data/reference/itu_mid_table.csv``, columns ``MID,Allocated_to``); output keeps
every row and column unchanged and appends ``iso2``.

How a name becomes a code, first hit wins:

1. ``OVERRIDES``: an explicit table for the ITU names that pycountry gets wrong or cannot know
   (a US state such as Alaska is the US; Azores/Madeira are Portugal; the French southern
   islands are ``TF``; Ascension is part of ``SH``; ...).
2. For "Country - Territory" rows, the territory alone (Gibraltar -> GI, Bermuda -> BM).
3. The name with its "(Republic of)" style suffix removed, by exact pycountry lookup, then
   pycountry's fuzzy search.

The script fails if any row is left without a code or if the pinned checks below disagree.

Usage: python scripts/build_mid_iso2.py SRC_CSV OUT_CSV
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import pycountry

# Names (full ITU text, or the territory part after " - ") -> ISO2, where lookup is wrong or
# impossible. Every entry was checked by hand against ISO 3166-1.
OVERRIDES: dict[str, str] = {
    "Alaska (State of)": "US",
    "Azores": "PT",
    "Madeira": "PT",
    "Adelie Land": "TF",
    "Crozet Archipelago": "TF",
    "Kerguelen Islands": "TF",
    "Saint Paul and Amsterdam Islands": "TF",
    "Ascension Island": "SH",
    "Saint Helena": "SH",
    "Taiwan (Province of China)": "TW",
    "Hong Kong (Special Administrative Region of China)": "HK",
    "Macao (Special Administrative Region of China)": "MO",
    "Guiana (French Department of)": "GF",
    "Reunion (French Department of)": "RE",
    "Guadeloupe (French Department of)": "GP",
    "Martinique (French Department of)": "MQ",
    "Saint Pierre and Miquelon (Territorial Collectivity of)": "PM",
    "Northern Mariana Islands (Commonwealth of the)": "MP",
    "United States Virgin Islands": "VI",
    "British Virgin Islands": "VG",
    "Bonaire, Sint Eustatius and Saba": "BQ",
    "Sint Maarten (Dutch part)": "SX",
    "Falkland Islands (Malvinas)": "FK",
    "Pitcairn Island": "PN",
    "Cocos (Keeling) Islands": "CC",
    "Christmas Island (Indian Ocean)": "CX",
    "Wallis and Futuna Islands": "WF",
    "Vatican City State": "VA",
    "Republic of Türkiye": "TR",
    "Korea (Republic of)": "KR",
    "Democratic People's Republic of Korea": "KP",
    "Congo (Republic of the)": "CG",
    "Democratic Republic of the Congo": "CD",
    "Slovak Republic": "SK",
    "Kyrgyz Republic": "KG",
    "Gabonese Republic": "GA",
    "Togolese Republic": "TG",
    "Argentine Republic": "AR",
    "State of Palestine (In accordance with Resolution 99 Rev. Dubai, 2018)": "PS",
    "Niger (Republic of the)": "NE",
    "Guinea (Republic of)": "GN",
    "Dominica (Commonwealth of)": "DM",
    "Dominican Republic": "DO",
    "Sudan (Republic of the)": "SD",
    "South Sudan (Republic of)": "SS",
    "Lao People's Democratic Republic": "LA",
    "Micronesia (Federated States of)": "FM",
    "Czech Republic": "CZ",
    "Central African Republic": "CF",
    "Equatorial Guinea (Republic of)": "GQ",
    "Guinea-Bissau (Republic of)": "GW",
}

# Facts the output must satisfy (from the brief and ITU-R M.585): a wrong fuzzy match on any
# of these would mislabel the flag of most traffic on the watch floor.
PINNED: dict[str, str] = {
    "316": "CA",
    "303": "US",
    "338": "US",
    "366": "US",
    "367": "US",
    "368": "US",
    "369": "US",
    "358": "PR",
    "379": "VI",
    "204": "PT",
    "255": "PT",
    "263": "PT",
    "232": "GB",
    "236": "GI",
    "310": "BM",
    "331": "GL",
    "361": "PM",
    "351": "PA",
    "636": "LR",
    "538": "MH",
    "345": "MX",
}

_SUFFIX = re.compile(r"\s*\(.*\)\s*$")


def _lookup(name: str) -> str | None:
    if name in OVERRIDES:
        return OVERRIDES[name]
    bare = _SUFFIX.sub("", name).strip()
    for candidate in (name, bare):
        try:
            return str(pycountry.countries.lookup(candidate).alpha_2)
        except LookupError:
            pass
    try:
        hits = pycountry.countries.search_fuzzy(bare)
    except LookupError:
        return None
    return str(hits[0].alpha_2) if hits else None


def iso2_of(allocated_to: str) -> str:
    """ISO2 of one ``Allocated_to`` text; raises ``ValueError`` when nothing matches."""
    if allocated_to in OVERRIDES:
        return OVERRIDES[allocated_to]
    if " - " in allocated_to:
        _, territory = allocated_to.split(" - ", 1)
        code = _lookup(territory)
        if code:
            return code
    code = _lookup(allocated_to)
    if code is None:
        raise ValueError(f"no ISO2 for {allocated_to!r}: add it to OVERRIDES")
    return code


def main(argv: list[str]) -> int:
    src, out = Path(argv[1]), Path(argv[2])
    with src.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["iso2"] = iso2_of(row["Allocated_to"])
    by_mid = {}
    for row in rows:
        by_mid.setdefault(row["MID"], row["iso2"])
    wrong = {
        mid: (by_mid.get(mid), want) for mid, want in PINNED.items() if by_mid.get(mid) != want
    }
    if wrong:
        raise SystemExit(f"pinned MIDs disagree (got, want): {wrong}")
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["MID", "Allocated_to", "iso2"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    sys.stderr.write(f"wrote {len(rows)} rows to {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
