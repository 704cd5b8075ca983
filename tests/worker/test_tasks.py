"""Each Celery task's delivery contract and error mapping: what is retried, with which countdown, or dropped.

The tasks run in this process as a worker would run them (``push_request`` with ``is_eager``: Celery then
raises its ``Retry`` with the countdown instead of re-sending the message), against the simulator, the
Slack stand-in and the real Redis, through the process-wide runtime built from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from celery import Task as CeleryTask
from celery.exceptions import Retry

from integrations.base import RetryableDeliveryError
from integrations.ehpc.errors import RetryableEhpcError
from integrations.ehpc.simulator import SimulatorServer
from integrations.ehpc.simulator.faults import Fault
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from worker.celery_app import DELIVER_QUEUE, POLL_QUEUE
from worker.deliver.delivery import channel_backlog, deliver
from worker.detect.poll import poll_cluster
from worker.runtime import Runtime, runtime
from worker.tasks import (
    MAX_BACKOFF,
    deliver_task,
    dispatch_outbox,
    dispatcher_name,
    expire_mutes,
    flush_digest_task,
    poll_cluster_task,
)

CLUSTER = "ehpc-hz-task0001"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@contextmanager
def in_worker(task: CeleryTask, *, retries: int = 0, hostname: str = "celery@test") -> Iterator[None]:
    """Run ``task`` as a worker would (not ``called_directly``), without a broker to re-send through."""
    task.push_request(is_eager=True, called_directly=False, retries=retries, hostname=hostname)
    try:
        yield
    finally:
        task.pop_request()


def _install(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """Make ``stack``'s configuration the process environment the tasks' runtime is built from."""
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    runtime.cache_clear()
    return runtime()


@pytest.fixture
def make_rt(
    simulator: SimulatorServer,
    slack_standin: SlackStandIn,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[object]:
    def build(**overrides: object) -> Runtime:
        stack = make_stack(
            simulator=simulator, slack=slack_standin, prefix=redis_prefix, clusters=(CLUSTER,), **overrides
        )
        return _install(stack, monkeypatch)

    yield build
    runtime.cache_clear()


def _one_pending_task(rt: Runtime, simulator: SimulatorServer) -> str:
    """A running task recorded by a poll: its task key, with a STARTED transition waiting for Slack."""
    poll_cluster(rt, cluster_id=CLUSTER, now=NOW)  # baseline
    simulator.simulator.start_task(CLUSTER, "AddComputes")
    [transition] = poll_cluster(rt, cluster_id=CLUSTER, now=NOW).transitions
    return transition.task_key


@pytest.mark.parametrize(
    ("task", "name", "queue", "max_retries"),
    [
        (poll_cluster_task, "ehpc.poll_cluster", POLL_QUEUE, 3),
        (dispatch_outbox, "ehpc.dispatch_outbox", DELIVER_QUEUE, 3),
        (deliver_task, "ehpc.deliver", DELIVER_QUEUE, None),  # its own limit: EHPC_DELIVERY_ATTEMPTS
        (flush_digest_task, "ehpc.flush_digest", DELIVER_QUEUE, None),
        (expire_mutes, "ehpc.expire_mutes", DELIVER_QUEUE, 3),
    ],
)
def test_each_task_declares_its_delivery_contract(
    task: CeleryTask, name: str, queue: str, max_retries: int | None
) -> None:
    assert (task.name, task.queue, task.acks_late, task.max_retries) == (name, queue, True, max_retries)


def test_poll_throttled_with_retry_after_is_retried_after_that_wait(
    make_rt: object, simulator: SimulatorServer
) -> None:
    make_rt()  # type: ignore[operator]
    simulator.simulator.inject(Fault.error("Throttling.User", retry_after_ms=7000))
    with in_worker(poll_cluster_task), pytest.raises(Retry) as retry:
        poll_cluster_task.run(CLUSTER)
    assert retry.value.when == 7.0
    assert isinstance(retry.value.exc, RetryableEhpcError)


def test_poll_unavailable_without_retry_after_backs_off_with_jitter(
    make_rt: object, simulator: SimulatorServer
) -> None:
    make_rt()  # type: ignore[operator]
    simulator.simulator.inject(Fault.error("ServiceUnavailable"))
    with in_worker(poll_cluster_task, retries=2), pytest.raises(Retry) as retry:
        poll_cluster_task.run(CLUSTER)
    assert isinstance(retry.value.when, float)
    assert 0 <= retry.value.when <= 2.0 * 2**2


def test_poll_permanent_error_is_not_retried_but_announced_once(
    make_rt: object, simulator: SimulatorServer, slack_standin: SlackStandIn
) -> None:
    make_rt()  # type: ignore[operator]
    simulator.simulator.inject(Fault.error("NotAuthorized"), times=2)
    with in_worker(poll_cluster_task):
        assert poll_cluster_task.run(CLUSTER) == {"error": "NotAuthorized"}
        assert poll_cluster_task.run(CLUSTER) == {"error": "NotAuthorized"}
    [message] = slack_standin.messages(CHANNEL)
    assert "NotAuthorized" in message.text


def test_poll_gives_up_after_its_retries(make_rt: object, simulator: SimulatorServer) -> None:
    make_rt()  # type: ignore[operator]
    simulator.simulator.inject(Fault.error("ServiceUnavailable"))
    with in_worker(poll_cluster_task, retries=3), pytest.raises(RetryableEhpcError):
        poll_cluster_task.run(CLUSTER)


def test_deliver_rate_limited_by_slack_waits_its_retry_after(
    make_rt: object, simulator: SimulatorServer, slack_standin: SlackStandIn
) -> None:
    task_key = _one_pending_task(make_rt(), simulator)  # type: ignore[operator]
    slack_standin.fail_next(status=429, retry_after=9)
    with in_worker(deliver_task), pytest.raises(Retry) as retry:
        deliver_task.run("slack", task_key)
    assert retry.value.when == 9.0
    assert isinstance(retry.value.exc, RetryableDeliveryError)


def test_deliver_refused_for_good_is_dropped_not_retried(
    make_rt: object, simulator: SimulatorServer, slack_standin: SlackStandIn
) -> None:
    rt = make_rt()  # type: ignore[operator]
    task_key = _one_pending_task(rt, simulator)
    slack_standin.fail_next(status=200, error="channel_not_found")
    with in_worker(deliver_task):
        deliver_task.run("slack", task_key)  # no Retry raised: the transition is dead-lettered
    assert rt.dead_letters.size() == 1
    assert rt.ledger.cursor(destination="slack", task_key=task_key) == 1  # later ones are not blocked


def _drain_scheduled_in(rt: Runtime) -> float:
    """Seconds until the channel's scheduled drain runs, from its marker (its TTL is that plus 60 s)."""
    marker = rt.keys.slack_drain_scheduled(destination="slack", channel=CHANNEL)
    return max(int(rt.redis.pttl(marker)), 0) / 1000 - 60


def test_deliver_over_the_channel_budget_parks_the_task_without_a_retry(
    make_rt: object, simulator: SimulatorServer
) -> None:
    rt = make_rt(EHPC_SLACK_RATE=0.01, EHPC_SLACK_BURST=1)  # type: ignore[operator]
    task_key = _one_pending_task(rt, simulator)
    assert rt.budget.acquire(CHANNEL) == 0.0  # the channel's one token, taken by someone else
    with in_worker(deliver_task):
        assert deliver_task.run("slack", task_key) == 0  # no Retry: waiting is not an attempt
    backlog = channel_backlog(rt, "slack", CLUSTER)
    assert rt.backlog.oldest(backlog, count=5) == [task_key]
    assert 90 < _drain_scheduled_in(rt) <= 100, "one drain, when the next token is free"


def test_deliver_gives_up_after_its_attempts_into_a_dead_letter(
    make_rt: object, simulator: SimulatorServer, slack_standin: SlackStandIn
) -> None:
    rt = make_rt(EHPC_DELIVERY_ATTEMPTS=3)  # type: ignore[operator]
    task_key = _one_pending_task(rt, simulator)
    slack_standin.fail_next(status=503, error="service_unavailable")
    with in_worker(deliver_task, retries=2), pytest.raises(Retry):
        deliver_task.run("slack", task_key)  # the third attempt: still retried
    slack_standin.fail_next(status=503, error="service_unavailable")
    with in_worker(deliver_task, retries=3):
        deliver_task.run("slack", task_key)  # past its limit: dead-lettered, not raised, not lost
    [letter] = rt.dead_letters.list()
    assert letter.transition.task_key == task_key
    assert rt.ledger.cursor(destination="slack", task_key=task_key) == 1


def test_flush_digest_waits_for_slack_then_for_the_budget_and_drops_nothing(
    make_rt: object, simulator: SimulatorServer, slack_standin: SlackStandIn
) -> None:
    rt = make_rt(EHPC_SLACK_RATE=0.01, EHPC_SLACK_BURST=1)  # type: ignore[operator]
    task_key = _one_pending_task(rt, simulator)
    backlog = channel_backlog(rt, "slack", CLUSTER)
    rt.backlog.park(backlog, task_key=task_key, at_ms=1)
    slack_standin.fail_next(status=429, retry_after=4)
    with in_worker(flush_digest_task):
        flush_digest_task.run("slack", CLUSTER)  # Slack said 429: the drain comes back after 4 s
    slack_said = _drain_scheduled_in(rt)
    with in_worker(flush_digest_task):
        flush_digest_task.run("slack", CLUSTER)  # the bucket is empty now: back when it refills
    budget_said = _drain_scheduled_in(rt)
    assert 3 < slack_said <= 4
    assert 90 < budget_said <= 100
    assert rt.backlog.oldest(backlog, count=5) == [task_key], "nothing parked was dropped"


def test_dispatchers_are_separate_consumers_named_by_worker_and_process(
    make_rt: object, simulator: SimulatorServer
) -> None:
    rt = make_rt()  # type: ignore[operator]
    task_key = _one_pending_task(rt, simulator)
    deliver(rt, destination="slack", task_key=task_key, now=NOW)  # so the dispatch has nothing to enqueue
    with in_worker(dispatch_outbox, hostname="celery@poll-1"):
        assert dispatch_outbox.run() == 0
    consumers = rt.redis.xinfo_consumers(rt.keys.outbox(), "dispatch")
    assert [consumer["name"] for consumer in consumers] == [f"celery@poll-1/{os.getpid()}".encode()]
    assert dispatcher_name("celery@poll-2") != dispatcher_name("celery@poll-1")


def test_backoff_is_capped() -> None:
    from worker.tasks import backoff

    assert all(0 <= backoff(retries) <= MAX_BACKOFF for retries in range(40))
