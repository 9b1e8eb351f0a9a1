"""``mda worker``: a long-running Faust worker (decode + track agents, ``/metrics``).

Several workers with the same ``MDA_APP_ID`` share the partitions. Without
``MDA_KAFKA_BOOTSTRAP`` it starts the embedded broker for itself (a laptop without Kafka).
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import signal
import sys
import threading
from typing import Any

from streams.admin import ensure_topics, seal_changelogs
from streams.broker import start_broker
from streams.proximity import PAIRS_TABLE
from streams.settings import get_settings
from streams.topics import topic_specs

log = logging.getLogger(__name__)


#: After SIGTERM/SIGINT, a worker that has not stopped within this many seconds exits anyway.
#: A clean stop takes ~2 s; one whose broker has disappeared hangs leaving its group.
STOP_GRACE_S = 15.0


def _install_stop_deadline(grace_s: float) -> None:
    """Give the worker's own shutdown ``grace_s`` seconds, then exit the process.

    mode's Worker schedules a graceful stop on the first signal; wrap that to also start a
    daemon timer. Offsets not committed by then are reprocessed by the next worker
    (at-least-once), which is what a SIGKILL would cost anyway.
    """
    import mode.worker

    original = mode.worker.Worker._schedule_shutdown

    def schedule(self: Any, sig: signal.Signals) -> None:
        if not self._signal_stop_time:

            def give_up() -> None:
                log.error("worker did not stop within %.0f s of %s: exiting", grace_s, sig.name)
                os._exit(1)

            timer = threading.Timer(grace_s, give_up)
            timer.daemon = True
            timer.start()
        original(self, sig)

    mode.worker.Worker._schedule_shutdown = schedule  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    from streams.preflight import configuration_problems

    problems = configuration_problems(settings)
    if problems:
        # Before a broker or Faust starts: agents that cannot start would leave a worker up
        # that does nothing.
        for problem in problems:
            print(f"mda worker: {problem}", file=sys.stderr)
        sys.exit(2)
    if not settings.kafka_bootstrap:
        broker = start_broker()
        atexit.register(broker.stop)
        os.environ["MDA_KAFKA_BOOTSTRAP"] = broker.bootstrap
        get_settings.cache_clear()
        settings = get_settings()
        print(f"embedded broker on {broker.bootstrap} (pid {broker.pid})", flush=True)
    assert settings.kafka_bootstrap is not None
    # A long-running worker waits for its broker as long as it takes (no crash loop).
    ensure_topics(settings.kafka_bootstrap, topic_specs(settings), timeout_s=None)
    changelogs = [
        f"{settings.app_id}-{table}-changelog" for table in ("tracks", "alert_state", PAIRS_TABLE)
    ]
    seal_changelogs(settings.kafka_bootstrap, changelogs, settings.partitions)

    gc.set_threshold(*settings.gc_threshold)
    from streams import agents  # noqa: F401  (registers the agents on the app)
    from streams.app import app

    _install_stop_deadline(STOP_GRACE_S)
    sys.argv = ["mda worker", "worker", "--loglevel", settings.log_level, *(argv or [])]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1:])
