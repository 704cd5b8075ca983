"""The outbox, cursors and leases against the real Redis: nothing lost, nothing delivered twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from integrations.ehpc.task import Task, TaskStatus, TaskType
from worker.deliver.outbox import DeliveryLedger, Outbox
from worker.detect.diff import ClusterRef, Source, TaskState, task_key_of
from worker.store.keys import Keys
from worker.store.lease import Lease

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CLUSTER = ClusterRef(cluster_id="ehpc-hz-test", name="test cluster")
MINUTE = timedelta(minutes=1)


def _task(task_id: str, *, step: int = 1, status: TaskStatus = TaskStatus.PROCESSING) -> Task:
    return Task(
        task_id=task_id,
        cluster_id=CLUSTER.cluster_id,
        task_type=TaskType.STOP_CLUSTER,
        raw_task_type="StopCluster",
        status=status,
        raw_status=status.value,
        current_step=step,
        total_steps=5,
    )


@pytest.fixture
def keys(redis_prefix: str) -> Keys:
    return Keys(prefix=redis_prefix)


@pytest.fixture
def state(redis_client: redis.Redis, keys: Keys) -> TaskState:
    state = TaskState(client=redis_client, keys=keys)
    state.mark_baseline(cluster_id=CLUSTER.cluster_id)
    return state


@pytest.fixture
def outbox(redis_client: redis.Redis, keys: Keys) -> Outbox:
    outbox = Outbox(client=redis_client, keys=keys)
    outbox.ensure_group()
    return outbox


@pytest.fixture
def ledger(redis_client: redis.Redis, keys: Keys) -> DeliveryLedger:
    return DeliveryLedger(client=redis_client, keys=keys)


def _observe(state: TaskState, tasks: list[Task]) -> None:
    state.observe_page(cluster=CLUSTER, tasks=tasks, now=T0, source=Source.RUNNING)


def test_each_page_that_changed_something_adds_one_outbox_entry(state: TaskState, outbox: Outbox) -> None:
    _observe(state, [_task("t1"), _task("t2")])
    _observe(state, [_task("t1"), _task("t2", step=2)])
    _observe(state, [_task("t1"), _task("t2", step=2)])
    entries = outbox.read(consumer="a")
    assert [entry.task_keys for entry in entries] == [
        ("ehpc-hz-test/t1", "ehpc-hz-test/t2"),
        ("ehpc-hz-test/t2",),
    ]


def test_ack_removes_entries(state: TaskState, outbox: Outbox, redis_client: redis.Redis, keys: Keys) -> None:
    _observe(state, [_task("t1")])
    outbox.ack(entry_ids=[entry.entry_id for entry in outbox.read(consumer="a")])
    assert redis_client.xlen(keys.outbox()) == 0
    assert outbox.reclaim(consumer="b", min_idle=timedelta(0)) == []


def test_entries_of_a_crashed_dispatcher_are_reclaimed(state: TaskState, outbox: Outbox) -> None:
    _observe(state, [_task("t1")])
    _observe(state, [_task("t2")])
    crashed = outbox.read(consumer="a")  # read, never acked: the dispatcher died here
    assert outbox.read(consumer="b") == []
    assert outbox.reclaim(consumer="b", min_idle=timedelta(hours=1)) == []
    assert outbox.reclaim(consumer="b", min_idle=timedelta(0)) == crashed


def test_reading_before_the_group_exists_sees_earlier_entries(
    state: TaskState, redis_client: redis.Redis, keys: Keys
) -> None:
    _observe(state, [_task("t1")])
    outbox = Outbox(client=redis_client, keys=keys, group="late")
    outbox.ensure_group()
    outbox.ensure_group()
    assert [entry.task_keys for entry in outbox.read(consumer="a")] == [("ehpc-hz-test/t1",)]


def test_cursor_only_moves_forward(ledger: DeliveryLedger) -> None:
    assert ledger.cursor(destination="slack", task_key="c/t") == 0
    assert ledger.advance_cursor(destination="slack", task_key="c/t", sequence=3) == 3
    assert ledger.advance_cursor(destination="slack", task_key="c/t", sequence=2) == 3
    assert ledger.cursor(destination="slack", task_key="c/t") == 3
    assert ledger.cursor(destination="jira", task_key="c/t") == 0


def test_delivery_resumes_after_the_cursor(state: TaskState, ledger: DeliveryLedger) -> None:
    _observe(state, [_task("t1")])
    _observe(state, [_task("t1", step=2)])
    task_key = task_key_of(cluster_id=CLUSTER.cluster_id, task_id="t1")
    [first, _second] = state.transitions_after(task_key=task_key, sequence=0)
    ledger.advance_cursor(destination="slack", task_key=task_key, sequence=first.sequence)
    _observe(state, [_task("t1", step=5, status=TaskStatus.SUCCESS)])  # meanwhile the task ended
    cursor = ledger.cursor(destination="slack", task_key=task_key)
    pending = state.transitions_after(task_key=task_key, sequence=cursor)
    assert [(t.sequence, t.kind.value) for t in pending] == [(2, "progressed"), (3, "finished")]


def test_delivery_lease_has_one_owner(ledger: DeliveryLedger, redis_client: redis.Redis) -> None:
    lease = ledger.acquire(destination="slack", task_key="c/t", ttl=MINUTE)
    assert lease is not None
    assert ledger.acquire(destination="slack", task_key="c/t", ttl=MINUTE) is None
    assert ledger.acquire(destination="jira", task_key="c/t", ttl=MINUTE) is not None
    assert not Lease(client=redis_client, key=lease.key, token="someone else").release()
    assert lease.release()
    assert not lease.release()
    assert ledger.acquire(destination="slack", task_key="c/t", ttl=MINUTE) is not None


def test_lease_expires_with_its_owner(ledger: DeliveryLedger, redis_client: redis.Redis) -> None:
    lease = ledger.acquire(destination="slack", task_key="c/t", ttl=MINUTE)
    assert lease is not None
    assert 0 < redis_client.pttl(lease.key) <= 60_000


def test_only_the_owner_can_extend_a_lease(
    ledger: DeliveryLedger, redis_client: redis.Redis, keys: Keys
) -> None:
    lease = ledger.acquire(destination="slack", task_key="c/t", ttl=timedelta(seconds=5))
    assert lease is not None
    key = keys.delivery_lease(destination="slack", task_key="c/t")
    impostor = Lease(client=redis_client, key=key, token="not-the-owner")

    assert lease.extend(timedelta(seconds=60))
    assert not impostor.extend(timedelta(seconds=600))
    assert 5_000 < redis_client.pttl(key) <= 60_000
