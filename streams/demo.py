"""``mda demo``: the bundled real recording and the Great Lakes scenario, end to end.

Starts the embedded broker and a worker, replays both files through the pipeline, prints the
summary and the alerts, and stops everything it started.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from replay.scenarios import DATA_DIR
from streams.cli import format_alert, format_summary
from streams.runner import run_files
from streams.settings import Settings

DEMO_FILES = [DATA_DIR / "noaadata_uscg_nais_2006-07-15.ais", DATA_DIR / "great_lakes_demo.nmea"]
#: The sample ISPS reference set (real facility locations, sample register/notices/PSA).
DEMO_REFERENCE = DATA_DIR / "reference_sample"


def demo() -> int:
    settings = Settings()
    if settings.reference_dir is None:
        settings = settings.model_copy(update={"reference_dir": DEMO_REFERENCE})
    out = Path(tempfile.gettempdir()) / "mda-demo-alerts.jsonl"
    where = settings.kafka_bootstrap or "the embedded Tansu broker"
    print(f"MDA demo: replaying {len(DEMO_FILES)} files through Kafka ({where}) and Faust ...")
    summary = run_files(
        DEMO_FILES, settings, alerts_out=out, speed=None, progress=sys.stderr.isatty()
    )
    print()
    print(format_summary(summary, DEMO_FILES))
    print()
    print(f"alerts ({len(summary.alerts)}), also written to {out}:")
    for alert in summary.alerts:
        print("  " + format_alert(alert))
    return 0
