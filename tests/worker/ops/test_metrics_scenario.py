"""/metrics scraped after a pipeline scenario (simulator over HTTP, real Redis, Slack stand-in)."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integrations.ehpc.errors import PermanentEhpcError
from integrations.ehpc.simulator import Fault
from tests.fixtures.environment import REDIS_URL
from tests.fixtures.pipeline import Stack
from worker.deliver.delivery import deliver
from worker.deliver.dispatch import dispatch
from worker.detect.poll import poll_cluster
from worker.ops.health import serve_health

CLUSTER = "ehpc-hz-pipe0001"  # the cluster the `stack` fixture watches
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
Sample = tuple[str, frozenset[tuple[str, str]]]


def _scrape() -> dict[Sample, float]:
    with (
        serve_health(port=0, host="127.0.0.1", redis_url=REDIS_URL, broker_url=REDIS_URL) as server,
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as response,
    ):
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _tick(stack: Stack, *, at: datetime) -> None:
    """What beat and the workers do in one interval: poll, then deliver everything dispatched."""
    poll_cluster(stack.runtime, cluster_id=CLUSTER, now=at)
    due: list[tuple[str, str]] = []
    dispatch(stack.runtime, consumer="metrics-test", enqueue=lambda target, key: due.append((target, key)))
    for target, task_key in due:
        deliver(stack.runtime, destination=target, task_key=task_key, now=at)


def test_counters_after_a_lifecycle_and_a_refused_poll(stack: Stack) -> None:
    # The registry is process-wide and other tests use the same cluster: compare before and after.
    before = _scrape()
    sim = stack.simulator.simulator
    _tick(stack, at=T0)
    sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=10, outcome="Success", nodes=1)
    for minute in range(1, 4):
        _tick(stack, at=T0 + timedelta(minutes=minute))
        sim.advance(30)
    sim.inject(Fault.error("NotAuthorized"))
    with pytest.raises(PermanentEhpcError):
        poll_cluster(stack.runtime, cluster_id=CLUSTER, now=T0 + timedelta(minutes=5))
    after = _scrape()

    def delta(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("ehpc_bridge_polls_total", cluster=CLUSTER, result="ok") == 4
    assert delta("ehpc_bridge_polls_total", cluster=CLUSTER, result="error") == 1
    assert delta("ehpc_bridge_api_errors_total", cluster=CLUSTER, code="NotAuthorized") == 1
    assert delta("ehpc_bridge_transitions_total", cluster=CLUSTER, kind="started") == 1
    assert delta("ehpc_bridge_transitions_total", cluster=CLUSTER, kind="finished") == 1
    assert delta("ehpc_bridge_deliveries_total", target="slack", result="ok") >= 2
    assert delta("ehpc_bridge_deliveries_total", target="slack", result="failed") == 0
    assert delta("ehpc_bridge_last_successful_poll_timestamp_seconds", cluster=CLUSTER) > 0
