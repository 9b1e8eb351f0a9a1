"""``mda worker``: a long-running Faust worker (decode + track agents, ``/metrics``).

Several workers with the same ``MDA_APP_ID`` share the partitions. Without
``MDA_KAFKA_BOOTSTRAP`` it starts the embedded broker for itself (a laptop without Kafka).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

from streams.admin import ensure_topics, seal_changelogs
from streams.broker import start_broker
from streams.settings import get_settings
from streams.topics import topic_specs

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
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
    changelogs = [f"{settings.app_id}-tracks-changelog", f"{settings.app_id}-alert_state-changelog"]
    seal_changelogs(settings.kafka_bootstrap, changelogs, settings.partitions)

    from streams import agents  # noqa: F401  (registers the agents on the app)
    from streams.app import app

    sys.argv = ["mda worker", "worker", "--loglevel", settings.log_level, *(argv or [])]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1:])
