"""The health server over real HTTP: /healthz against the real Redis and a dead port, /metrics, 404."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.environment import REDIS_URL
from worker.ops.health import Server, serve_health


def _get(server: Server, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _dead_redis_url() -> str:
    """A URL whose port nothing listens on (bound, then released), carrying a password to keep secret."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://:hunter2-secret@127.0.0.1:{port}/0"


@pytest.fixture
def healthy() -> Iterator[Server]:
    with serve_health(port=0, host="127.0.0.1", redis_url=REDIS_URL, broker_url=REDIS_URL) as server:
        yield server


def test_healthz_is_200_when_redis_and_broker_answer(healthy: Server) -> None:
    status, body = _get(healthy, "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "checks": {"redis": "ok", "broker": "ok"}}


def test_healthz_is_503_with_reason_when_broker_is_down_and_hides_password() -> None:
    with serve_health(port=0, host="127.0.0.1", redis_url=REDIS_URL, broker_url=_dead_redis_url()) as server:
        status, body = _get(server, "/healthz")
    answer = json.loads(body)
    assert status == 503
    assert answer["status"] == "unavailable"
    assert answer["checks"]["redis"] == "ok"
    assert answer["checks"]["broker"].startswith("ConnectionError")
    assert answer["reason"].startswith("broker: ConnectionError")
    assert "hunter2-secret" not in body


def test_metrics_exposes_queue_depth_from_the_broker(redis_client: redis.Redis, redis_prefix: str) -> None:
    redis_client.rpush(f"{redis_prefix}:poll", "a", "b")
    redis_client.rpush(f"{redis_prefix}:poll\x06\x169", "c")  # a priority-9 message counts too
    with serve_health(
        port=0,
        host="127.0.0.1",
        redis_url=REDIS_URL,
        broker_url=REDIS_URL,
        queues=("poll", "deliver"),
        queue_key_prefix=f"{redis_prefix}:",
    ) as server:
        status, body = _get(server, "/metrics")
    assert status == 200
    depth = {
        sample.labels["queue"]: sample.value
        for family in text_string_to_metric_families(body)
        if family.name == "ehpc_bridge_queue_depth"
        for sample in family.samples
    }
    assert depth == {"poll": 3.0, "deliver": 0.0}


def test_unknown_path_is_404(healthy: Server) -> None:
    assert _get(healthy, "/")[0] == 404
