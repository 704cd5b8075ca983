"""The per-channel Slack budget (a token bucket shared through Redis), on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.fixtures.environment import REDIS_URL
from worker.deliver.budget import ChannelBudget
from worker.store.keys import Keys

SLOW = 0.01  # one token per 100 s: a test never sees a refill by accident


@pytest.fixture
def other_client() -> Iterator[redis.Redis]:
    """A second connection, as a second worker would have."""
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


def test_burst_is_granted_then_refused_with_the_wait(redis_client: redis.Redis, redis_prefix: str) -> None:
    budget = ChannelBudget(client=redis_client, keys=Keys(redis_prefix), rate=SLOW, burst=3)

    granted = [budget.acquire("C1") for _ in range(3)]
    wait = budget.acquire("C1")

    assert granted == [0.0, 0.0, 0.0]
    assert 99.0 < wait <= 100.0


def test_a_refusal_takes_nothing(redis_client: redis.Redis, redis_prefix: str) -> None:
    budget = ChannelBudget(client=redis_client, keys=Keys(redis_prefix), rate=SLOW, burst=1)
    budget.acquire("C1")

    first, second = budget.acquire("C1"), budget.acquire("C1")

    assert second == pytest.approx(first, abs=0.5)


def test_the_budget_is_shared_between_two_workers(
    redis_client: redis.Redis, other_client: redis.Redis, redis_prefix: str
) -> None:
    one = ChannelBudget(client=redis_client, keys=Keys(redis_prefix), rate=SLOW, burst=4)
    two = ChannelBudget(client=other_client, keys=Keys(redis_prefix), rate=SLOW, burst=4)

    waits = [budget.acquire("C1") for budget in (one, two, one, two, one, two)]

    assert waits[:4] == [0.0] * 4
    assert all(wait > 0 for wait in waits[4:])


def test_channels_have_separate_budgets(redis_client: redis.Redis, redis_prefix: str) -> None:
    budget = ChannelBudget(client=redis_client, keys=Keys(redis_prefix), rate=SLOW, burst=1)

    assert budget.acquire("C1") == 0.0
    assert budget.acquire("C2") == 0.0
    assert budget.acquire("C1") > 0


def test_tokens_come_back_as_time_passes(redis_client: redis.Redis, redis_prefix: str) -> None:
    keys = Keys(redis_prefix)
    budget = ChannelBudget(client=redis_client, keys=keys, rate=1.0, burst=2)
    budget.acquire("C1")
    budget.acquire("C1")
    bucket = keys.slack_budget(channel="C1")
    stamp = float(redis_client.hget(bucket, "at") or 0)
    redis_client.hset(bucket, "at", f"{stamp - 5:.6f}")  # five seconds ago, without sleeping

    assert [budget.acquire("C1") for _ in range(2)] == [0.0, 0.0]
