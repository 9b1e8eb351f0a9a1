"""Operations: promtool checks of the shipped Prometheus files, and a real Prometheus scraping
a real worker on the embedded broker while the bundled scenario is replayed.

promtool and prometheus come from Debian's ``prometheus`` package (.ci/run installs it). A
missing binary is a failure, never a skip: these files are only worth shipping checked.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaProducer

from replay.producer import replay_file
from replay.scenarios import DATA_DIR
from streams import metrics
from streams.broker import EmbeddedBroker, free_port
from streams.runner import stop_process
from tests.integration.workers import spawn_worker, worker_env
from tests.unit.test_compose import alert_rules, referenced_metric_names

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "docker" / "prometheus"
SCENARIO = DATA_DIR / "great_lakes_demo.nmea"

#: Referenced by the rules or the dashboard, but exposed only once there is something to
#: report. Anything else missing from a real scrape is a wrong name.
APPEAR_LATER: set[str] = set()
#: Served by ``mda ingest --metrics-port`` (job mda-ingest), not by workers; test_ingest.py
#: checks them on a real ingest process.
INGEST_ONLY = {
    sample.name for family in metrics.INGEST_REGISTRY.collect() for sample in family.samples
}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found on PATH: install Debian's `prometheus` package "
            "(apt-get install prometheus; .ci/run does it)"
        )
    return path


def run_promtool(*args: str) -> str:
    proc = subprocess.run(
        [tool("promtool"), *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    return output


def test_promtool_check_config() -> None:
    out = run_promtool("check", "config", "prometheus.yml")
    assert "SUCCESS" in out


def test_promtool_check_rules() -> None:
    out = run_promtool("check", "rules", "alerts.yml")
    assert f"SUCCESS: {len(alert_rules())} rules found" in out


def test_promtool_test_rules() -> None:
    """alerts_test.yml: each rule fires (and stays quiet) on synthetic series as intended."""
    out = run_promtool("test", "rules", "alerts_test.yml")
    assert "SUCCESS" in out
    tested = {
        t["alertname"]
        for case in yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
        for t in case["alert_rule_test"]
    }
    assert tested == {r["alert"] for r in alert_rules()}


# --- a real Prometheus scraping a real worker --------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if predicate():
                return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    return body["data"]


class Prometheus:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        return list(get_json(url)["result"])

    def value(self, promql: str) -> float:
        """Sum of the values of an instant query (NaN-free; 0 when empty)."""
        return sum(float(r["value"][1]) for r in self.query(promql))

    def metric_names(self) -> set[str]:
        return set(get_json(f"{self.base}/api/v1/label/__name__/values"))

    def rules(self) -> list[dict[str, Any]]:
        return [r for g in get_json(f"{self.base}/api/v1/rules")["groups"] for r in g["rules"]]


@pytest.fixture
def worker(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[int]:
    """A worker as compose runs it (app id ``mda``, no topic prefix): this module has its
    own broker, so the names cannot collide with other tests."""
    port = free_port()
    env = worker_env(
        broker.bootstrap,
        app_id="mda",
        prefix="",
        partitions=2,
        data_dir=tmp_path / "data",
        web_port=port,
    )
    proc = spawn_worker(env, tmp_path / "worker.log")
    try:
        yield port
    finally:
        stop_process(proc)


@pytest.fixture
def prometheus(worker: int, tmp_path: Path) -> Iterator[Prometheus]:
    """Debian's prometheus on a free loopback port, with the shipped prometheus.yml and
    alerts.yml, the worker as the only mda-worker target, and 1 s scrapes and evaluations."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / f) for f in config["rule_files"]]
    port = free_port()
    for job in config["scrape_configs"]:
        targets = [f"127.0.0.1:{worker}"] if job["job_name"] == "mda-worker" else []
        if job["job_name"] == "prometheus":
            targets = [f"127.0.0.1:{port}"]
        job["static_configs"] = [{"targets": targets}]
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    try:
        prom = Prometheus(port)
        wait_for(lambda: bool(get_json(f"{prom.base}/api/v1/status/buildinfo")), 20, "Prometheus")
        yield prom
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


def test_prometheus_scrapes_the_worker_during_a_replay(
    broker: EmbeddedBroker, worker: int, prometheus: Prometheus
) -> None:
    wait_for(lambda: prometheus.value('up{job="mda-worker"}') == 1, 60, "the worker scraped")

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    lines = replay_file(producer, "ais.raw", SCENARIO, "scenario", speed=None, batch_lines=50)
    producer.flush()
    producer.close()
    assert lines > 100

    wait_for(
        lambda: prometheus.value('mda_lines_read_total{job="mda-worker"}') == lines,
        45,
        f"Prometheus to see all {lines} lines read",
    )
    # The track stage runs after decode: its counter follows a moment later.
    wait_for(
        lambda: prometheus.value('mda_reports_tracked_total{job="mda-worker"}') > 0,
        20,
        "reports tracked",
    )

    # Every metric the rules and the dashboard use exists in a real scrape (the unit test
    # checks the definitions; this checks what a worker actually exposes).
    wait_for(
        lambda: "mda_topic_partition_offset_commited" in prometheus.metric_names(),
        20,
        "a commit (Faust's committed-offset gauge)",
    )
    missing = (
        set(referenced_metric_names()) - prometheus.metric_names() - APPEAR_LATER - INGEST_ONLY
    )
    assert not missing, f"referenced but not exposed by a real worker: {sorted(missing)}"

    # The consumer-lag expression joins Faust's two gauges one-to-one and drains to zero.
    lag = (
        'sum by (topic) (mda_topic_partition_end_offset{job="mda-worker"}'
        ' - mda_topic_partition_offset_commited{job="mda-worker"})'
    )
    wait_for(
        lambda: any(
            r["metric"]["topic"] == "ais.raw" and float(r["value"][1]) == 0
            for r in prometheus.query(lag)
        ),
        20,
        "ais.raw consumer lag to drain",
    )

    # Every alerting rule evaluates without error against the real series.
    def rules_evaluated() -> bool:
        rules = prometheus.rules()
        return len(rules) == len(alert_rules()) and all(
            r["health"] == "ok" and not r["lastEvaluation"].startswith("0001") for r in rules
        )

    wait_for(rules_evaluated, 10, "every rule evaluated with health ok")
    assert not [r for r in prometheus.rules() if r.get("lastError")]
