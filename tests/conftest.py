"""Fixtures every test may use: a real Redis, isolated by a key prefix per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.fixtures.environment import REDIS_URL

# Never let the credential chain ask an ECS metadata service: no such address exists for tests.
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
# Processes the tests start serve no /metrics unless a test gives them a port: the defaults (9808-9810) are
# one per host, and several test processes (or test runs) share this host.
os.environ["EHPC_METRICS_PORT"] = "0"

pytest_plugins = [
    "tests.fixtures.simulator",
    "tests.fixtures.slack",
    "tests.fixtures.pipeline",
    "tests.fixtures.vendor_stub",
    "tests.fixtures.prism",
    "tests.fixtures.servicenow",
    "tests.fixtures.vendor_standins",
    "tests.fixtures.processes",
    "tests.fixtures.slack_app",
    "tests.fixtures.browser",
    "tests.fixtures.redis_server",
]


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A real Redis connection (DB 15 unless EHPC_TEST_REDIS_URL says otherwise)."""
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards, other tests' are untouched."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in redis_client.scan_iter(match=f"{prefix}:*", count=1000):
        redis_client.delete(key)
