"""The per-channel Slack budget and the digest queue, on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from integrations.base import TransitionKind
from tests.conftest import REDIS_URL
from tests.fixtures.slack import make_transition
from worker.keys import Keys
from worker.ratelimit import DIGEST_AFTER, ChannelBudget, DigestQueue, wants_digest

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


@pytest.mark.parametrize(
    ("kind", "wait", "expected"),
    [
        (TransitionKind.FINISHED, DIGEST_AFTER + 1, True),
        (TransitionKind.FINISHED, DIGEST_AFTER, False),
        (TransitionKind.PROGRESSED, DIGEST_AFTER + 100, False),
    ],
)
def test_only_finished_tasks_facing_a_long_wait_go_to_the_digest(
    kind: TransitionKind, wait: float, expected: bool
) -> None:
    assert wants_digest(transition=make_transition(kind, sequence=2), wait=wait) is expected


def test_digest_queue_claims_in_order_under_a_lock_and_forgets_only_what_was_posted(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    queue = DigestQueue(client=redis_client, keys=Keys(redis_prefix), lock_ttl=timedelta(seconds=30))
    parked = [
        make_transition(TransitionKind.FINISHED, sequence=2, task_id=f"task-{n}", first_seen=start)
        for n, start in enumerate([make_transition().first_seen + timedelta(seconds=s) for s in (30, 10, 20)])
    ]
    for transition in [*parked, parked[0]]:
        queue.park(channel="C1", transition=transition)

    claim = queue.claim(channel="C1", limit=2)
    assert claim is not None
    assert queue.claim(channel="C1") is None  # another flush is at work
    queue.done(claim)

    assert [t.task.task_id for t in claim.transitions] == ["task-1", "task-2"]
    assert queue.pending(channel="C1") == 1
    rest = queue.claim(channel="C1")
    assert rest is not None
    assert [t.task.task_id for t in rest.transitions] == ["task-0"]


def test_abandoned_claim_keeps_everything_for_the_next_flush(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    queue = DigestQueue(client=redis_client, keys=Keys(redis_prefix))
    queue.park(channel="C1", transition=make_transition(TransitionKind.FINISHED, sequence=2))
    claim = queue.claim(channel="C1")
    assert claim is not None

    queue.abandon(claim)

    again = queue.claim(channel="C1")
    assert again is not None
    assert again.transitions == claim.transitions
