"""The watch-floor page in a real headless Chromium (Debian's, driven by playwright-core).

A worker on the embedded broker processes the Great Lakes scenario; the page must list every
alert of the scenario's ground truth (live, through its own requests), open one, and
acknowledge it through its button; the acknowledgement must then be in Kafka (the lifecycle's
state on ``mda.alert-state``), and the page must show it. Also: the page's HTTP API refuses
bad actions clearly, the event stream speaks SSE, and a worker with an open event stream still
stops on SIGTERM within seconds.

Needs ``/usr/bin/chromium`` (Debian package ``chromium``) and ``tests/browser/node_modules``
(``npm ci`` there; ``make test`` does it). ``.ci/run`` installs both.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from mda.alerts import alert_id
from replay.producer import replay_file
from replay.scenarios import great_lakes_demo
from streams.admin import ensure_topics
from streams.alert_topics import AlertTopicNames
from streams.alerts_cli import current_state
from streams.broker import EmbeddedBroker, free_port
from streams.runner import stop_process
from streams.settings import Settings
from streams.topics import TopicNames, topic_specs
from tests.integration.workers import spawn_worker, worker_env

BROWSER_DIR = Path(__file__).parents[1] / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
PARTITIONS = 2
OFFICER = "OOW Tremblay"


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, orjson.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, orjson.loads(e.read())


def _post(url: str, body: bytes) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, orjson.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, orjson.loads(e.read())


def _wait_for_alerts(base: str, ids: set[str], log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    listed: set[str] = set()
    while time.monotonic() < deadline:
        try:
            status, body = _get(f"{base}/watch/alerts")
            if status == 200:
                listed = {a["alert_id"] for a in body["alerts"]}
                if ids <= listed:
                    return
        except (OSError, http.client.HTTPException):
            pass  # the worker's web server is not up yet
        time.sleep(1)
    raise AssertionError(f"page lists {listed}, expected {ids}\n{log.read_text()[-3000:]}")


def test_watch_page_in_chromium(broker: EmbeddedBroker, tmp_path: Path) -> None:
    assert CHROMIUM.exists(), f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)"
    node = shutil.which("node")
    assert node, "node missing: apt-get install nodejs npm (.ci/run does)"
    assert (BROWSER_DIR / "node_modules" / "playwright-core").exists(), (
        "playwright-core missing: cd tests/browser && npm ci (make test does)"
    )
    prefix = f"watch{free_port()}."
    settings = Settings(topic_prefix=prefix, partitions=PARTITIONS)
    ensure_topics(broker.bootstrap, topic_specs(settings))
    names, alert_names = TopicNames.from_settings(settings), AlertTopicNames.from_settings(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = worker_env(
        broker.bootstrap,
        app_id=f"watch-{prefix}",
        prefix=prefix,
        partitions=PARTITIONS,
        data_dir=tmp_path / "data",
        web_port=port,
    )
    log = tmp_path / "worker.log"
    worker = spawn_worker(env, log)
    try:
        scenario = great_lakes_demo()
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
        replay_file(
            producer, names.raw, scenario.path, "watch/great_lakes", speed=None, batch_lines=200
        )
        producer.flush()
        producer.close()
        # The ground truth's alert ids (stable ids: rule, vessel, opening event time).
        by_rule = {
            e.rule: alert_id(e.rule, e.mmsi, None, e.event_ms)
            for e in scenario.expected
            if e.status == "open"
        }
        ids = set(by_rule.values())
        assert len(ids) == 3
        _wait_for_alerts(base, ids, log)
        crossing, jump = by_rule["BORDER_CROSSING"], by_rule["POSITION_JUMP"]

        # The browser: the page lists the alerts, and acknowledging one goes round Kafka.
        shot = tmp_path / "watch-floor.png"
        proc = subprocess.run(
            [
                node,
                "watch_floor.mjs",
                f"{base}/watch/",
                orjson.dumps(sorted(ids)).decode(),
                crossing,
                OFFICER,
                str(shot),
            ],
            cwd=BROWSER_DIR,
            capture_output=True,
            timeout=120,
            env={**os.environ, "CHROMIUM": str(CHROMIUM)},
        )
        assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()[-4000:]
        seen = orjson.loads(proc.stdout.splitlines()[-1])
        assert seen["errors"] == [] and seen["console_errors"] == [], seen
        assert ids <= set(seen["rows"])
        assert seen["connection"] == "live"
        assert seen["ack_before"] == "no"
        assert seen["ack_text"].startswith(f"Acknowledged by {OFFICER}")
        assert seen["row_badge"] == f"ack {OFFICER}"
        assert seen["action_message"] == "ack applied"
        assert (
            int(seen["counts_after"]["unacknowledged"]) == int(seen["counts"]["unacknowledged"]) - 1
        )
        assert "from_side" in seen["evidence_keys"] or "to_side" in seen["evidence_keys"], seen
        # An MMSI as its nine digits, as the command-line tables and the summaries show it.
        assert seen["mmsi_text"] == ["000000001", "000572329", "316012345", None]
        crossing_mmsi = next(e.mmsi for e in scenario.expected if e.rule == "BORDER_CROSSING")
        assert seen["detail_fields"]["MMSI"] == f"{crossing_mmsi:09d}"
        assert shot.stat().st_size > 20_000
        if os.environ.get("MDA_SCREENSHOT_OUT"):
            shutil.copy(shot, os.environ["MDA_SCREENSHOT_OUT"])

        # In Kafka: the lifecycle's state of the alert says who acknowledged it.
        state = current_state(broker.bootstrap, alert_names, crossing)
        assert state is not None
        assert state["acknowledged_by"] == OFFICER
        assert [(a["by"], a["action"]) for a in state["audit"]][-1] == (OFFICER, "ack")

        # The evidence track of the jump: the position before and after it.
        status, detail = _get(f"{base}/watch/alerts/{jump}")
        assert status == 200
        positions = {(round(p["lat"], 3), round(p["lon"], 3)) for p in detail["track"]}
        assert len(positions) >= 2, detail["track"]

        # Bad actions: refused with a reason; nothing is sent for them.
        assert _post(f"{base}/watch/alerts/{jump}/actions", b'{"action":"ack"}')[0] == 400
        assert _post(f"{base}/watch/alerts/{jump}/actions", b'{"action":"fly","by":"x"}')[0] == 400
        assert _post(f"{base}/watch/alerts/{jump}/actions", b"not json")[0] == 400
        status, body = _post(
            f"{base}/watch/alerts/00000000-0000-5000-8000-000000000000/actions",
            b'{"action":"ack","by":"x"}',
        )
        assert status == 404 and "unknown alert" in body["error"]

        # The event stream, left open while the worker is stopped.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/watch/events")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")
        assert resp.readline() == b"event: hello\n"
        assert orjson.loads(resp.readline().removeprefix(b"data: "))["counts"]["open"] >= 3
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
        assert time.monotonic() - started < 10, log.read_text()[-3000:]
        conn.close()
    finally:
        stop_process(worker)
