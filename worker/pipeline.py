"""The product's data flow as plain functions: poll → diff → dispatch → deliver.

The Celery tasks in :mod:`worker.tasks` are thin wrappers around these; tests and ``poll-once`` call them
directly. Nothing here sleeps or retries: a function either finishes, or raises, or says how long to wait.

* :func:`poll_cluster` reads every running page (one Redis round trip per page), looks up each task that
  vanished from the running list, sweeps the first archived pages at a lower cadence, and records the
  transitions in Redis — with the outbox entry in the same atomic step.
* :func:`dispatch` turns outbox entries into ``(destination, task_key)`` deliveries.
* :func:`deliver` sends the transitions of one task to one destination, in order, after its cursor.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from integrations.base import (
    PermanentDeliveryError,
    RetryableDeliveryError,
    Transition,
    TransitionKind,
)
from integrations.ehpc.client import EhpcClient
from integrations.ehpc.errors import EhpcError
from integrations.ehpc.task import Task
from integrations.slack.notifier import SlackNotifier
from integrations.target import SlackTarget
from worker import metrics
from worker.outbox import Lease
from worker.ratelimit import wants_digest
from worker.runtime import Runtime
from worker.state import ClusterRef, Source, TaskState

__all__ = [
    "DeliveryOutcome",
    "PollOutcome",
    "deliver",
    "dispatch",
    "flush_digest",
    "poll_cluster",
    "preview_poll",
]

logger = logging.getLogger(__name__)

# Short, and renewed before each send: a worker killed mid-delivery blocks its task for at most this long.
DELIVERY_LEASE = timedelta(seconds=20)
OUTBOX_RECLAIM_IDLE = timedelta(seconds=60)


@dataclass
class PollOutcome:
    """What one poll did."""

    skipped: bool = False
    transitions: list[Transition] = field(default_factory=list)
    api_calls: int = 0
    unresolved: list[str] = field(default_factory=list)  # vanished tasks whose lookup failed


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery run did; ``wait`` > 0 asks the caller to come back after that many seconds.

    ``digest_after`` set: transitions were parked for the channel's digest, and the caller schedules
    :func:`flush_digest` for (destination, cluster) after that many seconds.
    """

    sent: int = 0
    skipped: int = 0
    wait: float = 0.0
    digest_after: float | None = None


def poll_cluster(rt: Runtime, *, cluster_id: str, now: datetime) -> PollOutcome:
    """Poll one cluster under its lock and record what changed; a held lock means another poll runs."""
    lease = rt.state.acquire_poll_lease(cluster_id=cluster_id, ttl=rt.poll_lease_ttl)
    if lease is None:
        metrics.record_poll(cluster_id=cluster_id, result="skipped")
        return PollOutcome(skipped=True)
    started = time.monotonic()
    try:
        outcome = observe_cluster(
            client=rt.ehpc(cluster_id),
            state=rt.state,
            cluster=rt.ref(cluster_id),
            now=now,
            sweep=_sweep_due(rt, cluster_id=cluster_id),
            archive_pages=rt.settings.archive_pages,
        )
    except EhpcError as error:  # recorded for /ehpc clusters and metrics; the caller retries or announces
        rt.lookup.record_poll(cluster_id=cluster_id, at=now, error=f"{error.code}: {error.message}")
        metrics.record_poll(cluster_id=cluster_id, result="error", duration=time.monotonic() - started)
        metrics.record_api_error(cluster_id=cluster_id, code=error.code)
        if error.throttled:
            metrics.record_rate_limited(service="ehpc")
        raise
    finally:
        lease.release()
    rt.lookup.record_poll(cluster_id=cluster_id, at=now, error=None)
    metrics.record_poll(cluster_id=cluster_id, result="ok", duration=time.monotonic() - started)
    for transition in outcome.transitions:
        metrics.record_transition(cluster_id=cluster_id, kind=transition.kind.value)
    return outcome


def observe_cluster(
    *,
    client: EhpcClient,
    state: TaskState,
    cluster: ClusterRef,
    now: datetime,
    sweep: bool,
    archive_pages: int,
) -> PollOutcome:
    """Read ListTasks for ``cluster`` and feed every page to ``state``; the lock is the caller's."""
    calls_before = client.api_calls
    outcome = PollOutcome()
    first = not state.has_baseline(cluster_id=cluster.cluster_id)

    def observe(tasks: list[Task], source: Source) -> None:
        outcome.transitions += state.observe_page(cluster=cluster, tasks=tasks, now=now, source=source)

    if first or sweep:
        observe(client.list_archived(cluster.cluster_id, max_pages=archive_pages), Source.ARCHIVE)
    seen: set[str] = set()
    for page in client.iter_running_pages(cluster.cluster_id):
        observe(page, Source.RUNNING)
        seen.update(task.task_id for task in page)
    for task_id in sorted(state.running_task_ids(cluster_id=cluster.cluster_id) - seen):
        found = _look_up(client, cluster_id=cluster.cluster_id, task_id=task_id)
        if found is None:
            outcome.unresolved.append(task_id)
        else:
            observe([found], Source.LOOKUP)
    if first:
        state.mark_baseline(cluster_id=cluster.cluster_id)
    outcome.api_calls = client.api_calls - calls_before
    return outcome


def _look_up(client: EhpcClient, *, cluster_id: str, task_id: str) -> Task | None:
    """How a task that left the running list ended; None (retry next poll) when the API can't say."""
    try:
        task = client.get_task(cluster_id, task_id)
    except EhpcError as error:  # any API failure here only postpones this one lookup to the next poll
        logger.warning("lookup of vanished task %s/%s failed: %s", cluster_id, task_id, error)
        return None
    if task is None:
        logger.warning("vanished task %s/%s is unknown to ListTasks; will ask again", cluster_id, task_id)
    return task


def _sweep_due(rt: Runtime, *, cluster_id: str) -> bool:
    """True at most once per ``EHPC_ARCHIVE_INTERVAL`` per cluster, across all workers."""
    interval = int(rt.settings.archive_interval * 1000)
    return bool(rt.redis.set(rt.keys.archive_sweep(cluster_id=cluster_id), "1", nx=True, px=interval))


def preview_poll(rt: Runtime, *, cluster_id: str, now: datetime) -> list[Transition]:
    """The transitions a poll would announce now, computed in a scratch copy of the state (``poll-once``)."""
    scratch = rt.keys.scratch(token=secrets.token_hex(8))
    state = TaskState(client=rt.redis, keys=scratch)
    try:
        outcome = observe_cluster(
            client=rt.ehpc(cluster_id),
            state=state,
            cluster=rt.ref(cluster_id),
            now=now,
            sweep=True,
            archive_pages=rt.settings.archive_pages,
        )
    finally:
        for key in rt.redis.scan_iter(match=f"{scratch.prefix}:*", count=1000):
            rt.redis.delete(key)
    return outcome.transitions


def dispatch(rt: Runtime, *, consumer: str, enqueue: Callable[[str, str], None]) -> int:
    """Schedule a delivery for every (destination, task) with news; returns how many were scheduled.

    Entries left pending by a dispatcher that died are reclaimed first. An entry is acked only after its
    deliveries are enqueued, so a crash here schedules twice at worst — harmless, cursors dedupe.
    """
    rt.outbox.ensure_group()
    entries = rt.outbox.reclaim(consumer=consumer, min_idle=OUTBOX_RECLAIM_IDLE)
    entries += rt.outbox.read(consumer=consumer)
    scheduled = 0
    task_keys = dict.fromkeys(task_key for entry in entries for task_key in entry.task_keys)
    for task_key in task_keys:
        for destination in _pending_destinations(rt, task_key=task_key):
            enqueue(destination, task_key)
            scheduled += 1
    rt.outbox.ack(entry_ids=[entry.entry_id for entry in entries])
    return scheduled


def _pending_destinations(rt: Runtime, *, task_key: str) -> list[str]:
    """Targets with a routed transition after their cursor (the task's log is read once for all)."""
    cursors = {name: rt.ledger.cursor(destination=name, task_key=task_key) for name in rt.targets}
    log = rt.state.transitions_after(task_key=task_key, sequence=min(cursors.values(), default=0))
    pending: dict[str, None] = {}
    for transition in log:
        for name in rt.destinations(transition):
            if transition.sequence > cursors[name]:
                pending[name] = None
    return list(pending)


def deliver(rt: Runtime, *, destination: str, task_key: str, now: datetime) -> DeliveryOutcome:
    """Send ``task_key``'s transitions after ``destination``'s cursor, in order, each exactly once.

    Raises :class:`RetryableDeliveryError` (the caller retries later; the cursor stays on the failed
    transition). A :class:`PermanentDeliveryError` skips that transition after logging it: retrying can't
    help, and one broken message must not block the task's later ones.
    """
    lease = rt.ledger.acquire(destination=destination, task_key=task_key, ttl=DELIVERY_LEASE)
    if lease is None:
        return DeliveryOutcome(wait=1.0)  # another worker is delivering this task right now
    try:
        return _deliver_pending(rt, destination=destination, task_key=task_key, now=now, lease=lease)
    finally:
        lease.release()


def _deliver_pending(
    rt: Runtime, *, destination: str, task_key: str, now: datetime, lease: Lease
) -> DeliveryOutcome:
    cursor = rt.ledger.cursor(destination=destination, task_key=task_key)
    pending = rt.state.transitions_after(task_key=task_key, sequence=cursor)
    sent = skipped = 0
    digest_after: float | None = None
    for index, transition in enumerate(pending):
        cluster_id = transition.task.cluster_id
        if destination not in rt.destinations(transition) or _superseded(transition, pending[index + 1 :]):
            skipped += 1
            metrics.record_dedup_suppression(target=destination)
        elif _is_slack(rt, destination) and rt.mutes.record_suppressed(cluster_id, transition):
            skipped += 1  # kept for the summary posted when the mute ends
        else:
            wait = _slack_wait(rt, destination=destination, transition=transition)
            if wait > 0 and wants_digest(transition=transition, wait=wait):
                rt.digests.park(channel=_channel(rt, destination, cluster_id), transition=transition)
                digest_after = wait
            elif wait > 0:
                metrics.record_rate_limited(service="slack-budget")
                return DeliveryOutcome(sent=sent, skipped=skipped, wait=wait, digest_after=digest_after)
            elif lease.extend(DELIVERY_LEASE):
                _send(rt, destination=destination, transition=transition, now=now)
                sent += 1
            else:  # we were too slow and lost the task to another worker: let it carry on
                return DeliveryOutcome(sent=sent, skipped=skipped, digest_after=digest_after)
        rt.ledger.advance_cursor(destination=destination, task_key=task_key, sequence=transition.sequence)
    return DeliveryOutcome(sent=sent, skipped=skipped, digest_after=digest_after)


def flush_digest(rt: Runtime, *, destination: str, cluster_id: str, now: datetime) -> float:
    """Post one digest of the transitions parked for the channel; returns seconds until the next flush.

    0 means nothing is left. See :mod:`worker.ratelimit` for the rule; nothing parked is ever dropped.
    """
    channel = _channel(rt, destination, cluster_id)
    wait = rt.budget.acquire(channel)
    if wait > 0:
        return wait
    claim = rt.digests.claim(channel=channel)
    if claim is None:
        return 1.0 if rt.digests.pending(channel=channel) else 0.0  # another flush holds the lock
    notifier = rt.notifier(target_name=destination, cluster_id=cluster_id)
    try:
        if not isinstance(notifier, SlackNotifier):
            raise TypeError(f"{destination} is not a Slack target")
        notifier.send_digest(transitions=claim.transitions, now=now)
        for transition in claim.transitions:
            notifier.send(transition)  # edits the task's own message in place; its reply was the digest
    except BaseException:
        rt.digests.abandon(claim)
        raise
    rt.digests.done(claim)
    return 1.0 if rt.digests.pending(channel=channel) else 0.0


def _channel(rt: Runtime, destination: str, cluster_id: str) -> str:
    target = rt.targets[destination]
    if not isinstance(target, SlackTarget):
        raise TypeError(f"{destination} is not a Slack target")
    return rt.slack_channel(target=target, cluster_id=cluster_id)


def _superseded(transition: Transition, later: list[Transition]) -> bool:
    """A progress step already overtaken by a later change: the message shows the latest state anyway."""
    return transition.kind is TransitionKind.PROGRESSED and any(
        item.kind in (TransitionKind.PROGRESSED, TransitionKind.FINISHED) for item in later
    )


def _is_slack(rt: Runtime, destination: str) -> bool:
    return isinstance(rt.targets[destination], SlackTarget)


def _slack_wait(rt: Runtime, *, destination: str, transition: Transition) -> float:
    """Seconds to wait before this Slack message: edit coalescing per task, then the channel's budget.

    A progress edit waits until ``EHPC_SLACK_EDIT_INTERVAL`` has passed since the task's last edit; by then
    a newer step (or the end) may have superseded it, so a fast task costs a few edits, not one per step.
    """
    target = rt.targets[destination]
    if not isinstance(target, SlackTarget):
        return 0.0
    if transition.kind is TransitionKind.PROGRESSED and rt.settings.slack_edit_interval > 0:
        key = rt.keys.slack_edit(destination=destination, task_key=transition.task_key)
        interval_ms = int(rt.settings.slack_edit_interval * 1000)
        if not rt.redis.set(key, "1", nx=True, px=interval_ms):
            return max(int(rt.redis.pttl(key)), 1) / 1000
    return rt.budget.acquire(_channel(rt, destination, transition.task.cluster_id))


def _send(rt: Runtime, *, destination: str, transition: Transition, now: datetime) -> None:
    notifier = rt.notifier(target_name=destination, cluster_id=transition.task.cluster_id)
    extra = {"cluster": transition.task.cluster_id, "task_id": transition.task.task_id}
    try:
        notifier.send(transition)
    except RetryableDeliveryError as error:
        metrics.record_delivery(target=destination, result="retry")
        if error.status == 429:
            metrics.record_rate_limited(service=destination)
        raise
    except PermanentDeliveryError as error:
        metrics.record_delivery(target=destination, result="failed")
        logger.error(
            "dropping %s for %s after a permanent error: %s",
            transition.fingerprint,
            destination,
            error,
            extra={**extra, "fingerprint": transition.fingerprint},
        )
        record = {"destination": destination, "at": now.isoformat(), "error": str(error)}
        rt.redis.lpush(
            rt.keys.dead_letters(), json.dumps({**record, "transition": transition.model_dump(mode="json")})
        )
        return
    metrics.record_delivery(target=destination, result="ok")
    logger.info("delivered %s to %s", transition.fingerprint, destination, extra=extra)
