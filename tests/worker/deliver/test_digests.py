"""The digest queue and its rule, on a real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from integrations.base import TransitionKind
from integrations.slack.policy import DIGEST_AFTER, wants_digest
from tests.fixtures.slack import make_transition
from worker.deliver.digests import DigestQueue
from worker.store.keys import Keys


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
