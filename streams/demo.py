"""``mda demo``: the bundled real recording and the Great Lakes scenario, end to end.

Starts the embedded broker and a worker, replays both files through the pipeline, prints the
summary and the alerts, and stops everything it started. ``mda demo --watch`` then keeps the
worker up and serves the watch-floor page (``/watch/``) until Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

from replay.scenarios import DATA_DIR
from streams.alert_table import HEADER, format_row
from streams.cli import format_summary
from streams.runner import RunSummary, run_files
from streams.settings import Settings

DEMO_FILES = [DATA_DIR / "noaadata_uscg_nais_2006-07-15.ais", DATA_DIR / "great_lakes_demo.nmea"]
#: The sample ISPS reference set (real facility locations, sample register/notices/PSA).
DEMO_REFERENCE = DATA_DIR / "reference_sample"


def _print(summary: RunSummary, out: Path) -> None:
    alerts = sorted(summary.alerts, key=lambda a: (a["event_time"], a["alert_id"], a["status"]))
    print()
    print(format_summary(summary, DEMO_FILES))
    print()
    print(f"alerts ({len(alerts)}), also written to {out}:")
    print(HEADER)
    colour = sys.stdout.isatty()
    for alert in alerts:
        print(format_row(alert, colour))


def _serve_until_stopped(url: str) -> None:
    """Keep the broker and the worker up for the watch-floor page until Ctrl-C or SIGTERM."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"\nwatch floor: {url}  (Ctrl-C stops the worker and the broker)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping ...", flush=True)


def demo(watch_port: int | None = None) -> int:
    """The demo; with ``watch_port``, then serve the watch-floor page on that port."""
    settings = Settings()
    if settings.reference_dir is None:
        settings = settings.model_copy(update={"reference_dir": DEMO_REFERENCE})
    out = Path(tempfile.gettempdir()) / "mda-demo-alerts.jsonl"
    where = settings.kafka_bootstrap or "the embedded Tansu broker"
    print(f"MDA demo: replaying {len(DEMO_FILES)} files through Kafka ({where}) and Faust ...")

    def after_run(summary: RunSummary) -> None:
        if watch_port is not None:
            _print(summary, out)
            _serve_until_stopped(f"http://{settings.web_host}:{watch_port}/watch/")

    try:
        summary = run_files(
            DEMO_FILES,
            settings,
            alerts_out=out,
            speed=None,
            progress=sys.stderr.isatty(),
            watch_port=watch_port,
            after_run=after_run,
        )
    except (RuntimeError, TimeoutError) as exc:  # a worker that died, a run that stalled
        print(f"mda demo: {exc}", file=sys.stderr)
        return 1
    if watch_port is None:
        _print(summary, out)
    return 0
