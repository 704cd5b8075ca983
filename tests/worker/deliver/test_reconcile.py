"""The reconciler on real Redis: a delivery whose message was lost is scheduled again once overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.fixtures.pipeline import CHANNEL, Stack
from worker.deliver.delivery import deliver
from worker.deliver.dispatch import dispatch
from worker.deliver.reconcile import GRACE, reconcile
from worker.detect.poll import poll_cluster

CLUSTER = "ehpc-hz-pipe0001"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATE = GRACE + timedelta(seconds=1)


def lost_deliveries(stack: Stack) -> list[tuple[str, str]]:
    """A task starts; its delivery is dispatched, and the message is then lost (nobody runs it)."""
    rt = stack.runtime
    poll_cluster(rt, cluster_id=CLUSTER, now=T0)  # baseline
    stack.simulator.simulator.start_task(CLUSTER, "AddComputes", total_steps=2, outcome="Success")
    poll_cluster(rt, cluster_id=CLUSTER, now=T0 + timedelta(minutes=1))
    scheduled: list[tuple[str, str]] = []
    dispatch(rt, consumer="test", enqueue=lambda destination, key: scheduled.append((destination, key)))
    assert len(scheduled) == 1
    return scheduled


def test_a_lost_delivery_is_scheduled_again_once_overdue_and_forgotten_once_done(stack: Stack) -> None:
    rt = stack.runtime
    lost = lost_deliveries(stack)
    now = rt.now()
    again: list[tuple[str, str]] = []

    assert reconcile(rt, now=now, enqueue=lambda d, k: again.append((d, k))) == 0, "not overdue yet"
    assert reconcile(rt, now=now + LATE, enqueue=lambda d, k: again.append((d, k))) == 1
    assert again == lost
    [(destination, task_key)] = again
    deliver(rt, destination=destination, task_key=task_key, now=T0 + timedelta(minutes=1))
    assert len(stack.slack.messages(CHANNEL)) == 1

    assert reconcile(rt, now=now + 3 * LATE, enqueue=lambda d, k: again.append((d, k))) == 0
    assert len(rt.due) == 0, "a caught-up delivery is forgotten"


def test_a_delivery_holding_its_lease_is_left_alone(stack: Stack) -> None:
    rt = stack.runtime
    [(destination, task_key)] = lost_deliveries(stack)
    lease = rt.ledger.acquire(
        destination=destination, task_key=task_key, ttl=rt.delivery_lease_ttl(destination)
    )
    assert lease is not None
    again: list[tuple[str, str]] = []

    assert reconcile(rt, now=rt.now() + LATE, enqueue=lambda d, k: again.append((d, k))) == 0
    assert again == []
    assert len(rt.due) == 1, "still watched: looked at again later"


def test_a_retry_due_later_is_not_scheduled_twice(stack: Stack) -> None:
    rt = stack.runtime
    [(destination, task_key)] = lost_deliveries(stack)
    now = rt.now()
    rt.due.expect(destination=destination, task_key=task_key, at=now + timedelta(seconds=25))
    again: list[tuple[str, str]] = []

    def enqueue(destination: str, task_key: str) -> None:
        again.append((destination, task_key))

    assert reconcile(rt, now=now + LATE, enqueue=enqueue) == 0
    assert reconcile(rt, now=now + timedelta(seconds=25) + LATE, enqueue=enqueue) == 1


def test_forgetting_keeps_a_pair_whose_due_time_moved_meanwhile(stack: Stack) -> None:
    rt = stack.runtime
    [(destination, task_key)] = lost_deliveries(stack)
    [(_, _, due)] = rt.due.overdue(before=rt.now() + LATE)
    rt.due.expect(destination=destination, task_key=task_key, at=rt.now() + timedelta(seconds=5))

    assert not rt.due.forget(destination=destination, task_key=task_key, due=due)
    assert len(rt.due) == 1
    [(_, _, moved)] = rt.due.overdue(before=rt.now() + LATE)
    assert rt.due.forget(destination=destination, task_key=task_key, due=moved)
    assert len(rt.due) == 0
