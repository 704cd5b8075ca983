"""The deliver step: send one task's transitions to one destination, in order, after its cursor.

:func:`deliver` holds the (destination, task) lease, asks the target's delivery policy about each transition
(hold it, wait, park it: Slack's mutes, edit coalescing, channel budget and digests; other vendors send at
once), and advances the cursor after each success; :func:`flush_digest` sends what a policy parked. Nothing
here sleeps: a function finishes, raises, or says how long to wait.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from integrations.base import PermanentDeliveryError, RetryableDeliveryError, Transition, TransitionKind
from worker.deliver import fence
from worker.ops import metrics
from worker.runtime import Runtime
from worker.store.epoch import EpochState
from worker.store.lease import Lease

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
    except fence.LeaseLost as lost:  # too slow: the worker that took the task carries on from its cursor
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
        policy = rt.policy(target_name=destination, cluster_id=transition.task.cluster_id)
        if destination not in rt.destinations(transition) or _superseded(transition, pending[index + 1 :]):
            skipped += 1
            metrics.record_dedup_suppression(target=destination)
        elif policy.hold(transition):
            skipped += 1  # kept by the policy (a muted cluster's summary)
        else:
            wait = policy.wait(transition)
            if wait > 0 and policy.park(transition, wait=wait):
                digest_after = wait
            elif wait > 0:
                metrics.record_rate_limited(service=f"{rt.targets[destination].type}-budget")
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
    """Send what ``destination``'s policy parked for ``cluster_id``; returns seconds until the next flush.

    0 means nothing is left. For Slack that is one digest message per budget token (see
    :mod:`integrations.slack.policy`); nothing parked is ever dropped.
    """
    return rt.policy(target_name=destination, cluster_id=cluster_id).flush(now=now)


def _superseded(transition: Transition, later: list[Transition]) -> bool:
    """A progress step already overtaken by a later change: the message shows the latest state anyway."""
    return transition.kind is TransitionKind.PROGRESSED and any(
        item.kind in (TransitionKind.PROGRESSED, TransitionKind.FINISHED) for item in later
    )


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
