"""The record_* functions, read back through the /metrics exposition a Prometheus scrape would see."""

from __future__ import annotations

import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.environment import REDIS_URL
from worker.ops import metrics
from worker.ops.health import serve_health


def _scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with (
        serve_health(port=0, host="127.0.0.1", redis_url=REDIS_URL, broker_url=REDIS_URL) as server,
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as response,
    ):
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_every_record_function_shows_in_the_exposition() -> None:
    # The default registry is process-wide: unique label values keep this test's samples its own.
    cluster, target = f"ehpc-{uuid.uuid4().hex[:8]}", f"slack-{uuid.uuid4().hex[:8]}"
    metrics.record_poll(cluster_id=cluster, result="ok", duration=0.3, now=1_800_000_000.0)
    metrics.record_poll(cluster_id=cluster, result="ok", duration=0.2, now=1_800_000_030.0)
    metrics.record_poll(cluster_id=cluster, result="error")
    metrics.record_poll(cluster_id=cluster, result="skipped")
    metrics.record_api_error(cluster_id=cluster, code="Throttling.User")
    metrics.record_transition(cluster_id=cluster, kind="started")
    metrics.record_transition(cluster_id=cluster, kind="finished")
    metrics.record_delivery(target=target, result="ok")
    metrics.record_delivery(target=target, result="retry")
    metrics.record_dedup_suppression(target=target)
    metrics.record_rate_limited(service=target)
    metrics.record_slack_command(command=target, result="ok")

    seen = _scrape()

    def value(name: str, **labels: str) -> float:
        return seen[(name, tuple(sorted(labels.items())))]

    assert value("ehpc_bridge_polls_total", cluster=cluster, result="ok") == 2
    assert value("ehpc_bridge_polls_total", cluster=cluster, result="error") == 1
    assert value("ehpc_bridge_polls_total", cluster=cluster, result="skipped") == 1
    assert value("ehpc_bridge_last_successful_poll_timestamp_seconds", cluster=cluster) == 1_800_000_030.0
    assert value("ehpc_bridge_poll_duration_seconds_count", cluster=cluster) == 2
    assert value("ehpc_bridge_poll_duration_seconds_sum", cluster=cluster) == 0.5
    assert value("ehpc_bridge_api_errors_total", cluster=cluster, code="Throttling.User") == 1
    assert value("ehpc_bridge_transitions_total", cluster=cluster, kind="started") == 1
    assert value("ehpc_bridge_transitions_total", cluster=cluster, kind="finished") == 1
    assert value("ehpc_bridge_deliveries_total", target=target, result="ok") == 1
    assert value("ehpc_bridge_deliveries_total", target=target, result="retry") == 1
    assert value("ehpc_bridge_dedup_suppressions_total", target=target) == 1
    assert value("ehpc_bridge_rate_limited_total", service=target) == 1
    assert value("ehpc_bridge_slack_commands_total", command=target, result="ok") == 1


def test_a_failed_poll_leaves_the_last_success_timestamp_alone() -> None:
    cluster = f"ehpc-{uuid.uuid4().hex[:8]}"
    metrics.record_poll(cluster_id=cluster, result="ok", now=1_800_000_000.0)
    metrics.record_poll(cluster_id=cluster, result="error", now=1_800_000_060.0)
    seen = _scrape()
    key = ("ehpc_bridge_last_successful_poll_timestamp_seconds", (("cluster", cluster),))
    assert seen[key] == 1_800_000_000.0
