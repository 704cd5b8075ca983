"""Fenced delivery leases on the real Redis: a delivery that lost its lease can't write; long sends renew."""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial

import pytest
import redis

from integrations.base import TransitionKind
from integrations.ehpc.task import TaskStatus
from integrations.slack.notifier import MessageRef, SlackNotifier
from integrations.slack.standin import SlackStandIn
from tests.fixtures.slack import make_transition
from worker.deliver import fence
from worker.deliver.message_refs import RedisMessageRefs
from worker.deliver.outbox import DeliveryLedger
from worker.store.keys import Keys

TASK = "ehpc-hz-1/task-1"
SHORT = timedelta(seconds=1)


@pytest.fixture
def keys(redis_prefix: str) -> Keys:
    return Keys(prefix=redis_prefix)


@pytest.fixture
def ledger(redis_client: redis.Redis, keys: Keys) -> DeliveryLedger:
    return DeliveryLedger(client=redis_client, keys=keys)


@pytest.fixture
def refs(redis_client: redis.Redis, keys: Keys) -> RedisMessageRefs:
    return RedisMessageRefs(client=redis_client, key_for=partial(keys.slack_message, destination="slack"))


def take_over(redis_client: redis.Redis, keys: Keys) -> None:
    """What a second worker does once the first one's lease expired: the lease is now someone else's."""
    redis_client.set(keys.delivery_lease(destination="slack", task_key=TASK), "the-other-worker")


def test_a_delivery_that_lost_its_lease_cannot_advance_the_cursor(
    ledger: DeliveryLedger, redis_client: redis.Redis, keys: Keys
) -> None:
    lease = ledger.acquire(destination="slack", task_key=TASK, ttl=SHORT)
    assert lease is not None
    assert ledger.advance_cursor(destination="slack", task_key=TASK, sequence=1, lease=lease) == 1
    take_over(redis_client, keys)

    with pytest.raises(fence.LeaseLost):
        ledger.advance_cursor(destination="slack", task_key=TASK, sequence=2, lease=lease)

    assert ledger.cursor(destination="slack", task_key=TASK) == 1


def test_a_message_ref_never_goes_back_to_an_older_sequence(refs: RedisMessageRefs) -> None:
    refs.put(TASK, MessageRef(channel="C1", ts="1.000001", sequence=3))
    refs.put(TASK, MessageRef(channel="C1", ts="1.000001", sequence=1))  # a late writer

    assert refs.get(TASK) == MessageRef(channel="C1", ts="1.000001", sequence=3)


def test_a_delivery_that_lost_its_lease_cannot_record_a_message_or_a_reply(
    ledger: DeliveryLedger, refs: RedisMessageRefs, redis_client: redis.Redis, keys: Keys
) -> None:
    lease = ledger.acquire(destination="slack", task_key=TASK, ttl=SHORT)
    assert lease is not None
    take_over(redis_client, keys)

    with fence.holding(lease, ttl=SHORT):
        with pytest.raises(fence.LeaseLost):
            refs.put(TASK, MessageRef(channel="C1", ts="1.000001", sequence=1))
        with pytest.raises(fence.LeaseLost):
            refs.put_reply(TASK, "fp", "1.000002")
        with pytest.raises(fence.LeaseLost):
            fence.renew()

    assert refs.get(TASK) is None
    assert refs.reply(TASK, "fp") is None


def test_a_send_of_several_slow_calls_renews_its_lease_before_each_so_no_one_else_takes_the_task(
    slack_standin: SlackStandIn, ledger: DeliveryLedger, refs: RedisMessageRefs
) -> None:
    notifier = SlackNotifier(
        token="xoxb-fence-test",
        channel="C1",
        refs=refs,
        base_url=slack_standin.base_url,
        before_call=fence.renew,
    )
    lease = ledger.acquire(destination="slack", task_key=TASK, ttl=SHORT)
    assert lease is not None
    notifier.send(make_transition(TransitionKind.STARTED, sequence=1))
    slack_standin.answer_slowly(seconds=0.7, count=2)  # the update and the reply: 1.4 s > the 1 s lease
    finished = make_transition(TransitionKind.FINISHED, sequence=2, status=TaskStatus.FAIL, current_step=10)
    rivals: list[bool] = []
    sending = threading.Event()
    # The reply is stored 1.4 s into the send, past the lease's first TTL.
    slack_standin.on_stored(lambda message: sending.set() if message.thread_ts else None)

    def rival() -> None:  # another worker trying to take the task while the send is slow
        sending.wait(timeout=10)
        rivals.append(ledger.acquire(destination="slack", task_key=TASK, ttl=SHORT) is None)

    thread = threading.Thread(target=rival)
    thread.start()
    with fence.holding(lease, ttl=SHORT):
        notifier.send(finished)
    thread.join(timeout=10)

    assert rivals == [True]
    assert lease.release(), "the lease was still ours when the send ended"
