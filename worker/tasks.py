"""Thin Celery tasks: deserialize, call one step function (poll, dispatch, deliver), map errors to retry.

Delivery contracts (also in each decorator):

* ``ehpc.poll_cluster(cluster_id)`` — queue ``poll``; acks late; retried only on retryable API errors
  (throttling with the server's retry-after as the countdown, 5xx, timeouts) and Redis being unreachable,
  at most 3 times with jittered back-off, each retry resuming where the failed attempt stopped
  (:mod:`worker.detect.poll`) and expiring one poll interval after its own countdown (not at the first
  attempt's ``expires``, which would discard most retries); what the failed attempt recorded is dispatched
  at once. Permanent API errors are recorded and announced once per change of error, not retried.
* ``ehpc.dispatch_outbox()`` — queue ``deliver``; idempotent, run after every poll and by beat.
* ``ehpc.deliver(destination, task_key)`` — queue ``deliver``; acks late; retryable vendor errors are
  retried with Retry-After (or jittered back-off) ``EHPC_DELIVERY_ATTEMPTS`` times, then the transition is
  dead-lettered and the task's later ones carry on. Redis being unreachable is retried without counting as
  an attempt. Waiting is not an attempt: a busy task lease or the edit interval re-sends the message with a
  countdown and the same attempt count, and a Slack budget wait parks the task in its channel's backlog (no
  message at all). Each retry or re-send records when it is due, so one that never arrives is scheduled
  again by ``ehpc.reconcile_deliveries``.
* ``ehpc.reconcile_deliveries()`` — queue ``deliver``; by beat every 10 s: deliveries overdue while their log
  is ahead of the cursor are scheduled again (see :mod:`worker.deliver.reconcile`).
* ``ehpc.flush_digest(destination, cluster_id)`` — queue ``deliver``; drains the channel's backlog of
  (destination, cluster): single messages while few wait, digests while many do (see
  :mod:`integrations.slack.policy`); schedules its successor while anything waits; errors (Redis being
  unreachable too) are retried with back-off without limit (what waits is in Redis, not in this message).
  Beat's dispatcher re-schedules a drain whose message was lost.
* ``ehpc.expire_mutes()`` — queue ``deliver``; posts the summary of each mute that ended.

Every countdown is capped at :data:`worker.celery_app.MAX_COUNTDOWN`, below the broker's visibility timeout
(a longer one would be handed to a second worker before it is due). ``now`` is always Redis's clock
(:meth:`worker.runtime.Runtime.now`), never the worker's own. A Redis error in the periodic tasks
(dispatch, reconcile, mutes) is not retried: beat runs them again within seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
from datetime import timedelta
from typing import Any, NoReturn

import redis
from celery import Task as CeleryTask

from integrations.base import RetryableDeliveryError
from integrations.ehpc.errors import PermanentEhpcError, RetryableEhpcError
from worker.celery_app import DELIVER_QUEUE, MAX_COUNTDOWN, POLL_QUEUE, app
from worker.deliver.delivery import (
    channel_backlog,
    deliver,
    drain_channel,
    give_up,
    reschedule_lost_drains,
)
from worker.deliver.dispatch import dispatch
from worker.deliver.problems import announce_api_problem, clear_api_problem, post_mute_summaries
from worker.deliver.reconcile import reconcile
from worker.detect.diff import cluster_of
from worker.detect.poll import poll_cluster
from worker.runtime import Runtime, runtime

__all__ = [
    "deliver_task",
    "dispatch_outbox",
    "dispatcher_name",
    "expire_mutes",
    "flush_digest_task",
    "poll_cluster_task",
    "reconcile_deliveries",
]


logger = logging.getLogger(__name__)

MAX_BACKOFF = MAX_COUNTDOWN  # every countdown stays below the broker's visibility timeout
# Redis unreachable (a restart, a failover): retried like a vendor's 5xx.
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


def backoff(retries: int, *, base: float = 2.0, cap: float = MAX_BACKOFF) -> float:
    """Full-jitter exponential back-off: a random wait in [0, min(cap, base·2^retries)]."""
    # 2**retries stops growing at 2**30: after thousands of attempts base·2^retries is too big for a float.
    return random.uniform(0, min(cap, base * 2 ** min(retries, 30)))  # noqa: S311 - jitter, not cryptography


def countdown(seconds: float) -> float:
    """``seconds``, capped below the broker's visibility timeout (see :mod:`worker.celery_app`)."""
    return min(max(seconds, 0.0), MAX_COUNTDOWN)


def _retry(
    task: CeleryTask, error: Exception, retry_after: float | None, *, lifetime: float | None = None
) -> NoReturn:
    """Retry after the server's wish or a back-off (capped); with ``lifetime`` the retry expires that long
    after its countdown."""
    wait = _retry_countdown(task, retry_after)
    if lifetime is None:
        raise task.retry(exc=error, countdown=wait)
    raise task.retry(exc=error, countdown=wait, expires=wait + lifetime)


def _unreachable(task: CeleryTask, error: Exception) -> Exception:
    """Say that Redis could not be reached (the retry itself is published once it is back)."""
    logger.warning("%s: Redis unreachable (%s: %s); retrying", task.name, type(error).__name__, error)
    return error


def _retry_countdown(task: CeleryTask, retry_after: float | None) -> float:
    return countdown(retry_after if retry_after is not None else backoff(task.request.retries))


@app.task(bind=True, name="ehpc.poll_cluster", queue=POLL_QUEUE, acks_late=True, max_retries=3)
def poll_cluster_task(self: CeleryTask, cluster_id: str) -> dict[str, Any]:
    """Poll one cluster; see the module docstring for the delivery contract."""
    rt = runtime()
    try:
        outcome = poll_cluster(rt, cluster_id=cluster_id, now=rt.now(), owner=self.request.id)
    except RetryableEhpcError as error:
        dispatch_outbox.delay()  # what the pages before the failure showed goes out now
        _retry(self, error, error.retry_after, lifetime=rt.poll_interval(cluster_id))
    except REDIS_DOWN as error:
        _retry(self, _unreachable(self, error), None, lifetime=rt.poll_interval(cluster_id))
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
        outcome = deliver(rt, destination=destination, task_key=task_key, now=rt.now())
    except RetryableDeliveryError as error:
        if self.request.retries < rt.settings.delivery_attempts:  # Celery's own limit is off (None)
            wait = _retry_countdown(self, error.retry_after)
            _expect_delivery(rt, destination=destination, task_key=task_key, after=wait)
            raise self.retry(exc=error, countdown=wait) from error
        give_up(rt, destination=destination, task_key=task_key, error=error, now=rt.now())
        self.apply_async(args=(destination, task_key), queue=DELIVER_QUEUE)  # the later transitions
        return 0
    except REDIS_DOWN as error:  # not an attempt: the same count comes back with the re-sent message
        _unreachable(self, error)
        wait = _retry_countdown(self, None)
        _expect_delivery(rt, destination=destination, task_key=task_key, after=wait)
        self.apply_async(  # published once the broker is back (task_publish_retry_policy)
            args=(destination, task_key), countdown=wait, queue=DELIVER_QUEUE, retries=self.request.retries
        )
        return 0
    if outcome.digest_after is not None:  # parked: make sure the channel's drain is scheduled
        cluster_id = cluster_of(task_key)
        backlog = channel_backlog(rt, destination, cluster_id)
        drain_after = countdown(outcome.digest_after)
        if rt.backlog.mark_scheduled(backlog, countdown=drain_after):
            flush_digest_task.apply_async(
                args=(destination, cluster_id), countdown=drain_after, queue=DELIVER_QUEUE
            )
    if outcome.wait > 0:  # waiting is not an attempt: same count, new message
        wait = countdown(outcome.wait)
        _expect_delivery(rt, destination=destination, task_key=task_key, after=wait)
        self.apply_async(
            args=(destination, task_key),
            countdown=wait,
            queue=DELIVER_QUEUE,
            retries=self.request.retries,
        )
    return outcome.sent


def _expect_delivery(rt: Runtime, *, destination: str, task_key: str, after: float) -> None:
    """Record the retry's due time for the reconciler. With Redis down the older due time stays: the
    reconciler then looks sooner, not later."""
    with contextlib.suppress(*REDIS_DOWN):
        rt.due.expect(destination=destination, task_key=task_key, at=rt.now() + timedelta(seconds=after))


@app.task(name="ehpc.reconcile_deliveries", queue=DELIVER_QUEUE, acks_late=True)
def reconcile_deliveries() -> int:
    """Schedule again every delivery overdue while its log is ahead of its cursor."""
    rt = runtime()

    def enqueue(destination: str, task_key: str) -> None:
        deliver_task.apply_async(args=(destination, task_key), queue=DELIVER_QUEUE)

    return reconcile(rt, now=rt.now(), enqueue=enqueue)


@app.task(bind=True, name="ehpc.flush_digest", queue=DELIVER_QUEUE, acks_late=True, max_retries=None)
def flush_digest_task(self: CeleryTask, destination: str, cluster_id: str) -> None:
    """Drain the channel's backlog; schedules its successor while anything waits."""
    rt = runtime()
    try:
        wait = drain_channel(rt, destination=destination, cluster_id=cluster_id, now=rt.now())
    except RetryableDeliveryError as error:
        wait = error.retry_after if error.retry_after is not None else backoff(min(self.request.retries, 8))
        retries = self.request.retries + 1
    except REDIS_DOWN as error:
        _unreachable(self, error)
        wait = backoff(min(self.request.retries, 8))
        retries = self.request.retries + 1
    else:
        retries = 0
    if wait > 0:
        wait = countdown(wait)
        backlog = channel_backlog(rt, destination, cluster_id)
        rt.backlog.mark_scheduled(backlog, countdown=wait, force=True)
        self.apply_async(args=(destination, cluster_id), countdown=wait, queue=DELIVER_QUEUE, retries=retries)


@app.task(name="ehpc.expire_mutes", queue=DELIVER_QUEUE, acks_late=True)
def expire_mutes() -> int:
    """Post the summary of every mute that has ended."""
    rt = runtime()
    return post_mute_summaries(rt, now=rt.now())
