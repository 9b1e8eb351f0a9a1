"""Build mda/data/wpi_harbours.csv: the US and Canadian ports of the NGA World Port Index.

Used by the land mask as a harbour allowance: Natural Earth 10m shorelines leave out harbour
basins, ship canals, slips and marinas, so a moored vessel at a real berth can sit kilometres
"inland" on the mask. Source: ../shared/data/reference/wpi_us_canada_ports.csv (derived from
NGA Pub 150, US Government). Columns kept: index number, name, UN/LOCODE, harbour size, lat,
lon.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "reference" / "wpi_us_canada_ports.csv"
TARGET = REPO / "mda" / "data" / "wpi_harbours.csv"


def main() -> None:
    with open(SOURCE, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(TARGET, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["wpi_index", "name", "locode", "harbor_size", "lat", "lon"])
        for r in sorted(rows, key=lambda r: int(r["World Port Index Number"])):
            out.writerow(
                [
                    r["World Port Index Number"],
                    r["Main Port Name"].strip(),
                    r["unlocode_compact"].strip(),
                    r["Harbor Size"].strip() or "Unknown",
                    r["Latitude"],
                    r["Longitude"],
                ]
            )
    print(f"wrote {TARGET} ({len(rows)} ports)", file=sys.stderr)


if __name__ == "__main__":
    main()
