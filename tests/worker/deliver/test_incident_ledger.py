"""The incident ledger on real Redis: a success recovers only failures that ended before it began."""

from __future__ import annotations

from datetime import timedelta

import redis

from integrations.base import Transition, TransitionKind
from integrations.ehpc.task import TaskStatus
from integrations.incident import IncidentOrder
from tests.fixtures.slack import FIRST_SEEN, make_transition
from worker.deliver.target_state import RedisIncidentLedger
from worker.store.keys import Keys


def _order(redis_client: redis.Redis, prefix: str) -> IncidentOrder:
    return IncidentOrder(RedisIncidentLedger(client=redis_client, keys=Keys(prefix=prefix), target="pd"))


def _failure(task_id: str, *, ended_minutes: int) -> Transition:
    # make_transition's observed_at is first_seen + sequence minutes: the failure ends then.
    return make_transition(
        TransitionKind.FINISHED, sequence=ended_minutes, task_id=task_id, status=TaskStatus.FAIL
    )


def _success(task_id: str, *, began_minutes: int) -> Transition:
    return make_transition(
        TransitionKind.FINISHED,
        sequence=1,
        first_seen=FIRST_SEEN + timedelta(minutes=began_minutes),
        task_id=task_id,
        status=TaskStatus.SUCCESS,
    )


def test_a_success_recovers_only_the_failures_that_ended_before_it_began(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    order = _order(redis_client, redis_prefix)
    assert order.failure(_failure("x", ended_minutes=10)) is None
    assert order.failure(_failure("z", ended_minutes=30)) is None

    recovery = order.success(_success("y", began_minutes=15))

    assert recovery.recovered == frozenset({"ehpc-hz-1/x"})
    assert recovery.still_open, "z ended after y began: the shared incident stays open"
    assert order.success(_success("y", began_minutes=15)) == recovery, "a redelivery answers the same"
    assert not order.success(_success("w", began_minutes=40)).still_open


def test_a_failure_delivered_after_the_success_that_recovers_it_is_not_open(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    order = _order(redis_client, redis_prefix)
    success = _success("y", began_minutes=15)
    order.success(success)

    assert order.failure(_failure("x", ended_minutes=10)) == success
    assert order.failure(_failure("z", ended_minutes=20)) is None, "ended after y began: open"
    assert order.pager_acts(_failure("z", ended_minutes=20))
    assert not order.pager_acts(success), "z stays open, so the shared incident is not resolved"
