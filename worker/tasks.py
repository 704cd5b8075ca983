"""Thin Celery tasks: deserialize, call one step function (poll, dispatch, deliver), map errors to retry.

Delivery contracts (also in each decorator):

* ``ehpc.poll_cluster(cluster_id)`` — queue ``poll``; acks late; retried only on retryable API errors
  (throttling with the server's retry-after as the countdown, 5xx, timeouts), at most 3 times with jittered
  back-off, each retry resuming where the failed attempt stopped (:mod:`worker.detect.poll`) and expiring
  one poll interval after its own countdown (not at the first attempt's ``expires``, which would discard
  most retries); what the failed attempt recorded is dispatched at once. Permanent API errors are recorded
  and announced once per change of error, not retried.
* ``ehpc.dispatch_outbox()`` — queue ``deliver``; idempotent, run after every poll and by beat.
* ``ehpc.deliver(destination, task_key)`` — queue ``deliver``; acks late; retryable vendor errors are
  retried with Retry-After (or jittered back-off) ``EHPC_DELIVERY_ATTEMPTS`` times (500: about a day), then
  the transition is dead-lettered and the task's later ones carry on. Waiting is not an attempt: a busy task
  lease or the edit interval re-sends the message with a countdown and the same attempt count, and a Slack
  budget wait parks the task in its channel's backlog (no message at all).
* ``ehpc.flush_digest(destination, cluster_id)`` — queue ``deliver``; drains the channel's backlog of
  (destination, cluster): single messages while few wait, digests while many do (see
  :mod:`integrations.slack.policy`); schedules its successor while anything waits; errors are retried with
  back-off without limit (what waits is in Redis, not in this message). Beat's dispatcher re-schedules a
  drain whose message was lost.
* ``ehpc.expire_mutes()`` — queue ``deliver``; posts the summary of each mute that ended.
"""

from __future__ import annotations

import os
import random
import socket
from datetime import UTC, datetime
from typing import Any, NoReturn

from celery import Task as CeleryTask

from integrations.base import RetryableDeliveryError
from integrations.ehpc.errors import PermanentEhpcError, RetryableEhpcError
from worker.celery_app import DELIVER_QUEUE, POLL_QUEUE, app
from worker.deliver.delivery import (
    channel_backlog,
    deliver,
    drain_channel,
    give_up,
    reschedule_lost_drains,
)
from worker.deliver.dispatch import dispatch
from worker.deliver.problems import announce_api_problem, clear_api_problem, post_mute_summaries
from worker.detect.diff import cluster_of
from worker.detect.poll import poll_cluster
from worker.runtime import runtime

__all__ = [
    "deliver_task",
    "dispatch_outbox",
    "dispatcher_name",
    "expire_mutes",
    "flush_digest_task",
    "poll_cluster_task",
]


MAX_BACKOFF = 300.0


def backoff(retries: int, *, base: float = 2.0, cap: float = MAX_BACKOFF) -> float:
    """Full-jitter exponential back-off: a random wait in [0, min(cap, base·2^retries)]."""
    return random.uniform(0, min(cap, base * 2**retries))  # noqa: S311 - jitter, not cryptography


def _retry(
    task: CeleryTask, error: Exception, retry_after: float | None, *, lifetime: float | None = None
) -> NoReturn:
    """Retry after the server's wish or a back-off; with ``lifetime`` the retry expires that long after."""
    countdown = retry_after if retry_after is not None else backoff(task.request.retries)
    if lifetime is None:
        raise task.retry(exc=error, countdown=countdown)
    raise task.retry(exc=error, countdown=countdown, expires=countdown + lifetime)


@app.task(bind=True, name="ehpc.poll_cluster", queue=POLL_QUEUE, acks_late=True, max_retries=3)
def poll_cluster_task(self: CeleryTask, cluster_id: str) -> dict[str, Any]:
    """Poll one cluster; see the module docstring for the delivery contract."""
    rt = runtime()
    try:
        outcome = poll_cluster(rt, cluster_id=cluster_id, now=datetime.now(UTC))
    except RetryableEhpcError as error:
        dispatch_outbox.delay()  # what the pages before the failure showed goes out now
        _retry(self, error, error.retry_after, lifetime=rt.poll_interval(cluster_id))
    except PermanentEhpcError as error:
        dispatch_outbox.delay()
        announce_api_problem(rt, cluster_id=cluster_id, error=error)
        return {"error": error.code}
    clear_api_problem(rt, cluster_id=cluster_id)
    if outcome.transitions or outcome.rechecked:
        dispatch_outbox.delay()
    return {
        "transitions": len(outcome.transitions),
        "skipped": outcome.skipped,
        "calls": outcome.api_calls,
        "complete": outcome.complete,
    }


def dispatcher_name(hostname: str | None) -> str:
    """This process's consumer name in the outbox group: the worker's node name and the process id.

    Each dispatcher must be its own consumer: entries pending for a dead one are reclaimed by the others,
    which only works when the living ones are not the same consumer as the dead.
    """
    return f"{hostname or socket.gethostname()}/{os.getpid()}"


@app.task(bind=True, name="ehpc.dispatch_outbox", queue=DELIVER_QUEUE, acks_late=True)
def dispatch_outbox(self: CeleryTask) -> int:
    """Turn outbox entries into deliveries; re-schedule any channel drain whose message was lost."""

    def enqueue(destination: str, task_key: str) -> None:
        deliver_task.apply_async(args=(destination, task_key), queue=DELIVER_QUEUE)

    def drain(destination: str, cluster_id: str) -> None:
        flush_digest_task.apply_async(args=(destination, cluster_id), queue=DELIVER_QUEUE)

    rt = runtime()
    scheduled = dispatch(rt, consumer=dispatcher_name(self.request.hostname), enqueue=enqueue)
    return scheduled + reschedule_lost_drains(rt, enqueue=drain)


@app.task(bind=True, name="ehpc.deliver", queue=DELIVER_QUEUE, acks_late=True, max_retries=None)
def deliver_task(self: CeleryTask, destination: str, task_key: str) -> int:
    """Deliver one task's pending transitions to one destination."""
    rt = runtime()
    try:
        outcome = deliver(rt, destination=destination, task_key=task_key, now=datetime.now(UTC))
    except RetryableDeliveryError as error:
        if self.request.retries < rt.settings.delivery_attempts:  # Celery's own limit is off (None)
            _retry(self, error, error.retry_after)
        give_up(rt, destination=destination, task_key=task_key, error=error, now=datetime.now(UTC))
        self.apply_async(args=(destination, task_key), queue=DELIVER_QUEUE)  # the later transitions
        return 0
    if outcome.digest_after is not None:  # parked: make sure the channel's drain is scheduled
        cluster_id = cluster_of(task_key)
        backlog = channel_backlog(rt, destination, cluster_id)
        if rt.backlog.mark_scheduled(backlog, countdown=outcome.digest_after):
            flush_digest_task.apply_async(
                args=(destination, cluster_id), countdown=outcome.digest_after, queue=DELIVER_QUEUE
            )
    if outcome.wait > 0:  # waiting is not an attempt: same count, new message
        self.apply_async(
            args=(destination, task_key),
            countdown=outcome.wait,
            queue=DELIVER_QUEUE,
            retries=self.request.retries,
        )
    return outcome.sent


@app.task(bind=True, name="ehpc.flush_digest", queue=DELIVER_QUEUE, acks_late=True, max_retries=None)
def flush_digest_task(self: CeleryTask, destination: str, cluster_id: str) -> None:
    """Drain the channel's backlog; schedules its successor while anything waits."""
    rt = runtime()
    try:
        wait = drain_channel(rt, destination=destination, cluster_id=cluster_id, now=datetime.now(UTC))
    except RetryableDeliveryError as error:
        wait = error.retry_after if error.retry_after is not None else backoff(min(self.request.retries, 8))
        retries = self.request.retries + 1
    else:
        retries = 0
    if wait > 0:
        backlog = channel_backlog(rt, destination, cluster_id)
        rt.backlog.mark_scheduled(backlog, countdown=wait, force=True)
        self.apply_async(args=(destination, cluster_id), countdown=wait, queue=DELIVER_QUEUE, retries=retries)


@app.task(name="ehpc.expire_mutes", queue=DELIVER_QUEUE, acks_late=True)
def expire_mutes() -> int:
    """Post the summary of every mute that has ended."""
    return post_mute_summaries(runtime(), now=datetime.now(UTC))
