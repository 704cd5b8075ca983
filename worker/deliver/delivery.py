"""The deliver step: send one task's transitions to one destination, in order, after its cursor.

:func:`deliver` holds the (destination, task) lease, applies Slack's edit coalescing, channel budget, mute
gate and digest parking, and advances the cursor after each success; :func:`flush_digest` posts a channel's
parked transitions as one digest. Nothing here sleeps: a function finishes, raises, or says how long to wait.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from integrations.base import PermanentDeliveryError, RetryableDeliveryError, Transition, TransitionKind
from integrations.slack.notifier import SlackNotifier
from integrations.target import SlackTarget
from worker.deliver import fence
from worker.deliver.digests import wants_digest
from worker.deliver.outbox import Lease
from worker.ops import metrics
from worker.runtime import Runtime
from worker.store.epoch import EpochState

__all__ = ["DeliveryOutcome", "deliver", "flush_digest"]

logger = logging.getLogger(__name__)


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


def deliver(rt: Runtime, *, destination: str, task_key: str, now: datetime) -> DeliveryOutcome:
    """Send ``task_key``'s transitions after ``destination``'s cursor, in order, each exactly once.

    Raises :class:`RetryableDeliveryError` (the caller retries later; the cursor stays on the failed
    transition). A :class:`PermanentDeliveryError` skips that transition after logging it: retrying can't
    help, and one broken message must not block the task's later ones.
    """
    if rt.epoch.check(now=now) is EpochState.LOST:
        return DeliveryOutcome(wait=5.0)  # the state is being rebuilt (worker.detect.recovery): come back
    ttl = rt.delivery_lease_ttl(destination)
    lease = rt.ledger.acquire(destination=destination, task_key=task_key, ttl=ttl)
    if lease is None:
        return DeliveryOutcome(wait=1.0)  # another worker is delivering this task right now
    try:
        with fence.holding(lease, ttl=ttl):
            return _deliver_pending(rt, destination=destination, task_key=task_key, now=now, lease=lease)
    except (
        fence.LeaseLost
    ) as lost:  # too slow: another worker has the task now and carries on from its cursor
        logger.warning("%s; leaving the task to the worker that holds it", lost)
        return DeliveryOutcome()
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
            else:
                fence.renew()  # LeaseLost when another worker took the task meanwhile
                _send(rt, destination=destination, transition=transition, now=now)
                sent += 1
        rt.ledger.advance_cursor(
            destination=destination, task_key=task_key, sequence=transition.sequence, lease=lease
        )
    return DeliveryOutcome(sent=sent, skipped=skipped, digest_after=digest_after)


def flush_digest(rt: Runtime, *, destination: str, cluster_id: str, now: datetime) -> float:
    """Post one digest of the transitions parked for the channel; returns seconds until the next flush.

    0 means nothing is left. See :mod:`worker.deliver.digests` for the rule; nothing parked is ever dropped.
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
