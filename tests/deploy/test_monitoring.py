"""The Grafana dashboard, scrape config and alert rules refer to metrics and services that exist."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import redis
import yaml
from prometheus_client import REGISTRY

from tests.deploy.compose import ROOT, load_compose
from tests.fixtures.environment import REDIS_URL
from worker.ops.metrics import QueueDepthCollector

DEPLOY = ROOT / "deploy"
METRIC = re.compile(r"\behpc_bridge_[a-z_]+")


@cache
def _exported() -> frozenset[str]:
    """Every sample name ehpc-bridge can expose: the default registry's families and the queue depth."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    client = redis.Redis.from_url(REDIS_URL)
    try:
        families = [*REGISTRY.collect(), *QueueDepthCollector(client=client, queues=("poll",)).collect()]
    finally:
        client.close()
    return frozenset(
        family.name + suffix
        for family in families
        if family.name.startswith("ehpc_bridge_")
        for suffix in suffixes[family.type]
    )


@cache
def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    return loaded


def test_dashboard_panels_query_only_exported_metrics() -> None:
    panels = _dashboard()["panels"]
    exprs = [target["expr"] for panel in panels for target in panel["targets"]]
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used <= _exported(), sorted(used - _exported())
    assert len({panel["id"] for panel in panels}) == len(panels)


def test_dashboard_shows_every_metric_family() -> None:
    exprs = " ".join(target["expr"] for panel in _dashboard()["panels"] for target in panel["targets"])
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in _exported()}
    assert {family for family in families if family not in exprs} == set()


def test_dashboard_poll_lag_is_computed_from_the_last_success_timestamp() -> None:
    exprs = [target["expr"] for panel in _dashboard()["panels"] for target in panel["targets"]]
    assert any(e.startswith("time() - ehpc_bridge_last_successful_poll_timestamp_seconds") for e in exprs)


def test_prometheus_scrapes_each_compose_service_on_its_metrics_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    services = load_compose()["services"]
    scraped = {}
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            for name in sd["names"]:
                scraped[name] = sd["port"]
    assert scraped == {
        name: int(services[name]["environment"]["EHPC_METRICS_PORT"])
        for name in ("worker-poll", "worker-deliver", "beat", "slack-app")
    }
    assert (DEPLOY / config["rule_files"][0]).is_file()


def test_alert_rules_use_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "ehpc-bridge-alerts.yml").read_text(encoding="utf-8"))
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used
    assert used <= _exported(), sorted(used - _exported())
