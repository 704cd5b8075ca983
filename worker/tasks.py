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
  retried with Retry-After (or jittered back-off) for a day; a busy task lease or a Slack budget wait
  becomes a countdown, never a sleep.
* ``ehpc.flush_digest(destination, cluster_id)`` — queue ``deliver``; one digest per budget token for a
  channel over its Slack budget (see :mod:`worker.deliver.digests`); reschedules itself until none is parked.
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
from worker.deliver.delivery import deliver, flush_digest
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
MAX_DELIVERY_ATTEMPTS = 500  # with back-off capped at 5 minutes: about a day of trying


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
    """Turn outbox entries into deliveries."""

    def enqueue(destination: str, task_key: str) -> None:
        deliver_task.apply_async(args=(destination, task_key), queue=DELIVER_QUEUE)

    return dispatch(runtime(), consumer=dispatcher_name(self.request.hostname), enqueue=enqueue)


@app.task(
    bind=True, name="ehpc.deliver", queue=DELIVER_QUEUE, acks_late=True, max_retries=MAX_DELIVERY_ATTEMPTS
)
def deliver_task(self: CeleryTask, destination: str, task_key: str) -> int:
    """Deliver one task's pending transitions to one destination."""
    try:
        outcome = deliver(runtime(), destination=destination, task_key=task_key, now=datetime.now(UTC))
    except (
        RetryableDeliveryError
    ) as error:  # past MAX_DELIVERY_ATTEMPTS Celery re-raises it: logged, given up
        _retry(self, error, error.retry_after)
    if outcome.digest_after is not None:
        cluster_id = cluster_of(task_key)
        flush_digest_task.apply_async(args=(destination, cluster_id), countdown=outcome.digest_after)
    if outcome.wait > 0:
        raise self.retry(countdown=outcome.wait, max_retries=None)
    return outcome.sent


@app.task(bind=True, name="ehpc.flush_digest", queue=DELIVER_QUEUE, acks_late=True, max_retries=None)
def flush_digest_task(self: CeleryTask, destination: str, cluster_id: str) -> None:
    """Post the channel's digest of parked finished tasks; reschedules itself while any are left."""
    try:
        wait = flush_digest(runtime(), destination=destination, cluster_id=cluster_id, now=datetime.now(UTC))
    except RetryableDeliveryError as error:
        _retry(self, error, error.retry_after)
    if wait > 0:
        raise self.retry(countdown=wait)


@app.task(name="ehpc.expire_mutes", queue=DELIVER_QUEUE, acks_late=True)
def expire_mutes() -> int:
    """Post the summary of every mute that has ended."""
    return post_mute_summaries(runtime(), now=datetime.now(UTC))
