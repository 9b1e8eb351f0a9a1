"""The compose deployment, Prometheus rules and Grafana dashboard agree with the code.

Pure and fast: parses docker-compose.yml, docker/Dockerfile, docker/prometheus/*.yml and the
dashboard JSON, and compares them with streams.settings, streams.topics, streams.cli and the
metrics actually defined (streams.metrics and Faust's Prometheus sensor). No Docker needed.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from streams import metrics
from streams.cli import build_parser
from streams.settings import Settings
from streams.topics import topic_specs

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKER = REPO / "docker"
PROMETHEUS_YML = DOCKER / "prometheus" / "prometheus.yml"
ALERTS_YML = DOCKER / "prometheus" / "alerts.yml"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "mda.json"
DATASOURCES = DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = DOCKER / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"

ISPS_TOPICS = {"isps.facilities", "isps.vessels", "isps.notices", "isps.advisory"}
METRIC_NAME = re.compile(r"\bmda_[a-z0-9_]+\b")
INTERPOLATION = re.compile(r"\$\{(\w+):-([^}]*)\}")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(load_yaml(COMPOSE))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def interpolate(value: object, env: dict[str, str] | None = None) -> str:
    """Compose's ``${VAR:-default}`` with ``env`` (default: nothing set) and ``$$`` → ``$``."""
    env = env or {}
    text = INTERPOLATION.sub(lambda m: env.get(m[1], m[2]), str(value))
    return text.replace("$$", "$")


def mda_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Services running the project's image (built from docker/Dockerfile)."""
    return {name: s for name, s in services.items() if "build" in s}


def worker_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        n: s
        for n, s in mda_services(services).items()
        if s.get("command", ["worker"])[0] == "worker"
    }


def exposition_names(collector: MetricWrapperBase) -> set[str]:
    """The sample names a collector exposes (``_total`` for counters, buckets ...)."""
    names: set[str] = set()
    for family in collector.describe():
        suffixes = {
            "counter": ["_total", "_created"],
            "histogram": ["_bucket", "_sum", "_count", "_created"],
            "summary": ["", "_sum", "_count", "_created"],
        }.get(family.type, [""])
        names |= {family.name + s for s in suffixes}
    return names


def defined_metric_names(app_id: str) -> set[str]:
    """Every ``mda_*`` metric: streams.metrics plus Faust's sensor with the app id as prefix."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            names |= exposition_names(value)
    prefix = app_id.replace("-", "_").replace(".", "_")
    for collector in FaustMetrics.create(CollectorRegistry(), prefix):
        names |= exposition_names(collector)
    return names


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS_YML)["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def referenced_metric_names() -> dict[str, set[str]]:
    """``mda_*`` identifiers in every alert expression and dashboard query, by origin."""
    found: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in METRIC_NAME.findall(rule["expr"]):
            found.setdefault(name, set()).add(f"alerts.yml {rule['alert']}")
    for panel in dashboard_panels():
        for target in panel["targets"]:
            for name in METRIC_NAME.findall(target["expr"]):
                found.setdefault(name, set()).add(f"mda.json {panel['title']!r}")
    return found


# --- services and image --------------------------------------------------------------------


def test_expected_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {
        "kafka",
        "topics",
        "worker-1",
        "worker-2",
        "replay",
        "ingest",
        "prometheus",
        "grafana",
    }
    assert set(worker_services(services)) == {"worker-1", "worker-2"}


def test_every_service_has_an_image_or_an_existing_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            context = REPO / service["build"]["context"]
            assert context.is_dir(), name
            assert (context / service["build"]["dockerfile"]).is_file(), name
        else:
            # Pinned: a tag that is not "latest".
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", service["image"]), name
            assert not service["image"].endswith(":latest"), name


def test_dockerfile_shape() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line and line[0].isupper()]
    by_kind: dict[str, list[str]] = {}
    for kind, *rest in instructions:
        by_kind.setdefault(kind, []).append(rest[0] if rest else "")
    assert by_kind["FROM"][-1] == "python:3.11-slim"
    assert by_kind["USER"][-1] not in ("root", "0")
    assert json.loads(by_kind["ENTRYPOINT"][-1]) == ["mda"]
    assert json.loads(by_kind["CMD"][-1]) == ["worker"]
    assert by_kind["EXPOSE"] == [str(Settings.model_fields["web_port"].default)]
    assert "urllib" in text and "/metrics" in text and "HEALTHCHECK" in text


def test_table_store_dependency_is_installed_by_the_image(
    services: dict[str, dict[str, Any]],
) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    prod = pyproject["project"]["optional-dependencies"]["prod"]
    for name, service in worker_services(services).items():
        if service["environment"].get("MDA_TABLE_STORE", "").startswith("rocksdb"):
            assert any(dep.startswith("rocksdict") for dep in prod), name
    assert "optional-dependencies']['prod']" in (DOCKER / "Dockerfile").read_text()


def test_mda_environment_names_are_settings_fields(services: dict[str, dict[str, Any]]) -> None:
    fields = set(Settings.model_fields)
    for name, service in mda_services(services).items():
        env = {k: interpolate(v) for k, v in service["environment"].items()}
        names = {k.removeprefix("MDA_").lower() for k in env if k.startswith("MDA_")}
        assert names, name
        assert names <= fields, f"{name}: not settings fields: {sorted(names - fields)}"
        # The values are valid for their fields, too.
        Settings(**{k.removeprefix("MDA_").lower(): v for k, v in env.items()})


def test_mda_commands_are_real_cli_commands(services: dict[str, dict[str, Any]]) -> None:
    """Default services run commands the CLI parses; anything else waits in a profile."""
    parser = build_parser()
    for name, service in mda_services(services).items():
        argv = service.get("command", ["worker"])
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            assert service.get("profiles"), f"{name}: {argv} is not a command and not profiled"
            continue
        for path in getattr(args, "files", []):
            # docker/Dockerfile copies replay/data to /app/replay/data.
            assert str(path).startswith("/app/replay/data/"), name
            assert (REPO / Path(path).relative_to("/app")).is_file(), name


# --- topics --------------------------------------------------------------------------------


def created_topics(
    services: dict[str, dict[str, Any]], tmp_path: Path, partitions: str | None
) -> set[tuple[str, int, bool]]:
    """Run the topic initialiser's script with kafka-topics.sh replaced by a recorder."""
    service = services["topics"]
    assert service["image"] == services["kafka"]["image"]
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
    shell, flag, script = service["command"]
    record = tmp_path / "kafka-topics.sh"
    calls = tmp_path / "calls.txt"
    record.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n')
    record.chmod(0o755)
    compose_env = {"MDA_PARTITIONS": partitions} if partitions else {}
    env = {k: interpolate(v, compose_env) for k, v in service["environment"].items()}
    script = interpolate(script).replace("/opt/kafka/bin/kafka-topics.sh", str(record))
    subprocess.run([shell, flag, script], env=env, check=True, timeout=10)
    topics = set()
    for line in calls.read_text().splitlines():
        args = shlex.split(line)
        if "--create" not in args:
            continue
        opts = dict(pairwise(args))  # each flag -> the word after it
        assert opts["--replication-factor"] == "1"
        compacted = opts.get("--config") == "cleanup.policy=compact"
        topics.add((opts["--topic"], int(opts["--partitions"]), compacted))
    return topics


@pytest.mark.parametrize("partitions", [None, "7"])
def test_topic_initialiser_creates_the_pipeline_topics(
    services: dict[str, dict[str, Any]], tmp_path: Path, partitions: str | None
) -> None:
    default = Settings.model_fields["partitions"].default
    settings = Settings(partitions=int(partitions or default), topic_prefix="")
    expected = {(s.name, s.partitions, s.compacted) for s in topic_specs(settings)}
    expected |= {(name, 1, True) for name in ISPS_TOPICS}
    assert created_topics(services, tmp_path, partitions) == expected


def test_partitions_default_is_the_same_everywhere(services: dict[str, dict[str, Any]]) -> None:
    default = str(Settings.model_fields["partitions"].default)
    for name in ("topics", *mda_services(services)):
        assert interpolate(services[name]["environment"]["MDA_PARTITIONS"]) == default, name


def test_workers_wait_for_the_topics(services: dict[str, dict[str, Any]]) -> None:
    for name, service in worker_services(services).items():
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert service["environment"]["MDA_KAFKA_BOOTSTRAP"] == "kafka:9092", name


# --- Prometheus and Grafana ----------------------------------------------------------------


def test_scrape_targets_are_the_workers(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(PROMETHEUS_YML)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "mda-worker"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    expected = set()
    for name, service in worker_services(services).items():
        port = int(service["environment"].get("MDA_WEB_PORT", Settings().web_port))
        assert service["environment"]["MDA_WEB_HOST"] == "0.0.0.0", name
        assert any(str(p).endswith(f":{port}") for p in service["ports"]), name
        expected.add(f"{name}:{port}")
    assert targets == expected
    assert config["rule_files"] == [ALERTS_YML.name]


def test_ingest_serves_metrics_where_prometheus_scrapes(
    services: dict[str, dict[str, Any]],
) -> None:
    service = services["ingest"]
    args = build_parser().parse_args(service["command"])
    port = args.metrics_port
    assert port is not None
    env = {k: interpolate(v) for k, v in service["environment"].items()}
    assert env["MDA_WEB_HOST"] == "0.0.0.0"  # reachable from the Prometheus container
    # The image's HEALTHCHECK probes MDA_WEB_PORT: the same port.
    assert int(env["MDA_WEB_PORT"]) == port
    assert "healthcheck" not in service
    assert f"{port}:{port}" in service["ports"]
    config = load_yaml(PROMETHEUS_YML)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "mda-ingest"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert {t for sc in job["static_configs"] for t in sc["targets"]} == {f"ingest:{port}"}


def test_ingest_metrics_are_served_by_ingest_only() -> None:
    """Workers serve the default registry, ``mda ingest`` its own: no ingest series (a
    misleading ``mda_ingest_connected 0``) on a worker, no worker series on the ingest."""
    on_worker = generate_latest(REGISTRY).decode()
    on_ingest = generate_latest(metrics.INGEST_REGISTRY).decode()
    assert "mda_lines_read_total" in on_worker and "mda_ingest_" not in on_worker
    assert "mda_ingest_connected" in on_ingest and "mda_lines_read_total" not in on_ingest


def test_prometheus_and_grafana_mount_these_files(services: dict[str, dict[str, Any]]) -> None:
    prom = services["prometheus"]
    assert "./docker/prometheus:/etc/prometheus:ro" in prom["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    grafana_mounts = {v.split(":")[0]: v.split(":")[1] for v in services["grafana"]["volumes"]}
    provider = load_yaml(PROVIDERS)["providers"][0]
    assert grafana_mounts["./docker/grafana/dashboards"] == provider["options"]["path"]
    assert grafana_mounts["./docker/grafana/provisioning"] == "/etc/grafana/provisioning"
    datasource = load_yaml(DATASOURCES)["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    assert "9090:9090" in prom["ports"]


def test_dashboard_is_valid_and_uses_the_provisioned_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    uid = load_yaml(DATASOURCES)["datasources"][0]["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    panels = dashboard_panels()
    assert len(panels) >= 10
    for panel in panels:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_every_referenced_metric_is_defined(services: dict[str, dict[str, Any]]) -> None:
    """Names in alert rules and dashboard queries exist in streams.metrics or Faust's sensor."""
    app_ids = {s["environment"]["MDA_APP_ID"] for s in worker_services(services).values()}
    assert len(app_ids) == 1  # one consumer group; Faust's metric prefix is the app id
    defined = defined_metric_names(app_ids.pop())
    referenced = referenced_metric_names()
    unknown = {name: sorted(where) for name, where in referenced.items() if name not in defined}
    assert not unknown, f"undefined metrics: {unknown}"
    # The regex did find the metrics of both sources.
    assert {"mda_lines_read_total", "mda_topic_partition_end_offset"} <= set(referenced)


def test_dashboard_covers_every_mda_metric() -> None:
    """Each metric of streams.metrics is on the dashboard (a new one needs a panel)."""
    on_dashboard = {
        name
        for panel in dashboard_panels()
        for target in panel["targets"]
        for name in METRIC_NAME.findall(target["expr"])
    }
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            assert exposition_names(value) & on_dashboard, value.describe()[0].name


def test_alert_rules_carry_severity_and_explanations() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {
        "MdaInputStalled",
        "MdaRejectRatioHigh",
        "MdaEventTimeLagHigh",
        "MdaStationSilent",
        "MdaConsumerLagGrowing",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
