"""The deliver step: send one task's transitions to one destination, in order, after its cursor.

:func:`deliver` holds the (destination, task) lease, asks the target's delivery policy about each transition
(hold it, wait, park it: Slack's mutes, edit coalescing, channel budget and backlog; other vendors send at
once), and advances the cursor after each success. A task the policy parks waits in its channel's backlog
(:mod:`worker.deliver.backlog`): the delivery ends there, no retry is counted, and :func:`drain_channel`
steps the policy's ``flush`` until the backlog is empty — single messages while few wait, digests while many
do (:mod:`integrations.slack.policy`). Nothing here sleeps or retries: a function finishes, raises, or says
how long to wait.

Waiting (a busy lease, the edit interval, the budget) is never a failed attempt. A transition that keeps
failing past the caller's limit, or that its destination refuses for good, is dead-lettered
(:mod:`worker.deliver.dead_letters`) and the task's later transitions carry on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from integrations.base import (
    DeliveryError,
    DigestClaim,
    DigestItem,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Transition,
    TransitionKind,
)
from worker.deliver import fence
from worker.deliver.backlog import Backlog
from worker.ops import metrics
from worker.runtime import Runtime
from worker.store.epoch import EpochState
from worker.store.lease import Lease

__all__ = [
    "DeliveryOutcome",
    "channel_backlog",
    "deliver",
    "drain_channel",
    "give_up",
    "reschedule_lost_drains",
]

logger = logging.getLogger(__name__)

DRAIN_SLICE = 20.0
"""Seconds one drain run spends on a backlog before handing over to a fresh task message."""
_DRAIN_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery run did.

    ``wait`` > 0: come back after that many seconds (a busy lease, the edit interval) — not an attempt.
    ``digest_after`` set: the task waits in its channel's backlog; the caller makes sure
    :func:`drain_channel` runs for (destination, cluster) in that many seconds.
    """

    sent: int = 0
    skipped: int = 0
    wait: float = 0.0
    digest_after: float | None = None


def deliver(rt: Runtime, *, destination: str, task_key: str, now: datetime) -> DeliveryOutcome:
    """Send ``task_key``'s transitions after ``destination``'s cursor, in order, each exactly once.

    Raises :class:`RetryableDeliveryError` (the caller retries later; the cursor stays on the failed
    transition). A :class:`PermanentDeliveryError` dead-letters that transition: retrying can't help, and
    one broken message must not block the task's later ones.
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
    for index, transition in enumerate(pending):
        policy = rt.policy(target_name=destination, cluster_id=transition.task.cluster_id)
        if destination not in rt.destinations(transition) or _superseded(transition, pending[index + 1 :]):
            skipped += 1
            metrics.record_dedup_suppression(target=destination)
        elif policy.hold(transition):
            skipped += 1  # kept by the policy (a muted cluster's summary, progress only a digest told)
        else:
            wait = policy.wait(transition)
            if wait > 0 and policy.park(transition, wait=wait):
                metrics.record_parked(target=destination)
                return DeliveryOutcome(sent=sent, skipped=skipped, digest_after=wait)
            if wait > 0:
                metrics.record_rate_limited(service=f"{rt.targets[destination].type}-budget")
                return DeliveryOutcome(sent=sent, skipped=skipped, wait=wait)
            fence.renew()  # LeaseLost when another worker took the task meanwhile
            _send(rt, destination=destination, transition=transition, now=now)
            sent += 1
        rt.ledger.advance_cursor(
            destination=destination, task_key=task_key, sequence=transition.sequence, lease=lease
        )
    return DeliveryOutcome(sent=sent, skipped=skipped)


def drain_channel(rt: Runtime, *, destination: str, cluster_id: str, now: datetime) -> float:
    """Step the policy's ``flush`` over the channel's backlog; returns seconds until the next drain (0: none).

    One drain per backlog at a time (a lease); after ``DRAIN_SLICE`` seconds it hands over to a fresh
    task message. A digest the destination refuses for good is dead-lettered, transition by transition.
    """
    backlog = channel_backlog(rt, destination, cluster_id)
    lease = rt.backlog.lease(backlog)
    if lease is None:
        return 0.0  # another drain runs, and it schedules its own successor
    drain = _Drain(rt, backlog=backlog, now=now)
    policy = rt.policy(target_name=destination, cluster_id=cluster_id)
    try:
        started = time.monotonic()
        while time.monotonic() - started < DRAIN_SLICE:
            if not drain.waiting() and drain.open_claim() is None:
                rt.backlog.mark_running(backlog)  # from now on a park schedules a new drain…
                busy = drain.waiting() or drain.open_claim() is not None
                return 0.05 if busy else 0.0  # …unless one slipped in before that
            if not lease.extend(_DRAIN_LEASE):
                return 1.0
            try:
                wait = policy.flush(now=now, drain=drain)
            except PermanentDeliveryError as error:
                drain.give_up_claim(error)
                continue
            if wait > 0:
                return wait
        return 0.05
    finally:
        lease.release()


class _Drain:
    """:class:`~integrations.base.ChannelDrain` of one backlog: the worker's cursors, logs and claims."""

    def __init__(self, rt: Runtime, *, backlog: Backlog, now: datetime) -> None:
        self._rt = rt
        self._backlog = backlog
        self._now = now

    def waiting(self) -> int:
        """How many tasks wait."""
        return self._rt.backlog.size(self._backlog)

    def open_claim(self) -> DigestClaim | None:
        """The digest claimed and not yet released, if any."""
        return self._rt.digests.current(self._backlog)

    def claim(self, *, limit: int) -> DigestClaim:
        """Claim the oldest ``limit`` waiting tasks, each with the latest routed transition it has pending."""
        rt, destination = self._rt, self._backlog.destination
        items = []
        for task_key in rt.backlog.oldest(self._backlog, count=limit):
            cursor = rt.ledger.cursor(destination=destination, task_key=task_key)
            pending = rt.state.transitions_after(task_key=task_key, sequence=cursor)
            routed = [t for t in pending if destination in rt.destinations(t)]
            covered = pending[-1].sequence if pending else cursor
            shown = routed[-1] if routed else None
            items.append(DigestItem(task_key=task_key, sequence=covered, transition=shown))
        return rt.digests.claim(self._backlog, items)

    def deliver_oldest(self) -> float:
        """Deliver the task that waited longest; it leaves the backlog unless it logged more meanwhile."""
        rt, destination = self._rt, self._backlog.destination
        for task_key in rt.backlog.oldest(self._backlog, count=1):
            outcome = deliver(rt, destination=destination, task_key=task_key, now=self._now)
            if outcome.wait > 0 or outcome.digest_after is not None:
                return max(outcome.wait, outcome.digest_after or 0.0, 0.05)
            cursor = rt.ledger.cursor(destination=destination, task_key=task_key)
            rt.backlog.leave(self._backlog, delivered=[(task_key, cursor)])
        return 0.0

    def mark_posted(self, claim: DigestClaim, *, ts: str) -> None:
        """The digest message is in the channel."""
        self._rt.digests.mark_posted(self._backlog, ts=ts)
        metrics.record_digest(target=self._backlog.destination)

    def mark_edited(self, claim: DigestClaim, *, task_key: str) -> None:
        """The task's own message now shows what the digest announced."""
        self._rt.digests.mark_edited(self._backlog, task_key=task_key)

    def release(self, claim: DigestClaim) -> None:
        """Move each claimed task's cursor past the digest, take it out of the backlog, forget the claim."""
        rt, destination = self._rt, self._backlog.destination
        for item in claim.items:
            rt.ledger.advance_cursor(destination=destination, task_key=item.task_key, sequence=item.sequence)
        rt.backlog.leave(self._backlog, delivered=[(item.task_key, item.sequence) for item in claim.items])
        rt.digests.forget(self._backlog)

    def give_up_claim(self, error: DeliveryError) -> None:
        """The destination refuses the open digest for good: dead-letter what it shows, release it."""
        claim = self.open_claim()
        if claim is None:
            raise error
        for transition in claim.shown:
            _dead_letter(
                self._rt,
                destination=self._backlog.destination,
                transition=transition,
                error=error,
                now=self._now,
            )
        self.release(claim)


def reschedule_lost_drains(rt: Runtime, *, enqueue: Callable[[str, str], None]) -> int:
    """Schedule a drain for every backlog whose drain message was lost (run by beat's dispatcher)."""
    scheduled = 0
    for backlog in rt.backlog.orphans():
        if rt.backlog.mark_scheduled(backlog, countdown=0):
            enqueue(backlog.destination, backlog.cluster_id)
            scheduled += 1
    return scheduled


def give_up(rt: Runtime, *, destination: str, task_key: str, error: DeliveryError, now: datetime) -> bool:
    """Dead-letter the transition a delivery keeps failing on and move past it; False if none was pending."""
    lease = rt.ledger.acquire(
        destination=destination, task_key=task_key, ttl=rt.delivery_lease_ttl(destination)
    )
    if lease is None:
        return False
    try:
        cursor = rt.ledger.cursor(destination=destination, task_key=task_key)
        for transition in rt.state.transitions_after(task_key=task_key, sequence=cursor):
            if destination in rt.destinations(transition):
                _dead_letter(rt, destination=destination, transition=transition, error=error, now=now)
                rt.ledger.advance_cursor(
                    destination=destination, task_key=task_key, sequence=transition.sequence, lease=lease
                )
                return True
        return False
    finally:
        lease.release()


def channel_backlog(rt: Runtime, destination: str, cluster_id: str) -> Backlog:
    """The backlog of the channel (the target's scope) ``destination`` serves for ``cluster_id``."""
    channel = rt.scope(target_name=destination, cluster_id=cluster_id)
    return Backlog(destination=destination, channel=channel, cluster_id=cluster_id)


def _superseded(transition: Transition, later: list[Transition]) -> bool:
    """A progress step already overtaken by a later change: the message shows the latest state anyway."""
    return transition.kind is TransitionKind.PROGRESSED and any(
        item.kind in (TransitionKind.PROGRESSED, TransitionKind.FINISHED, TransitionKind.LOST)
        for item in later
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
        _dead_letter(rt, destination=destination, transition=transition, error=error, now=now)
        return
    metrics.record_delivery(target=destination, result="ok")
    logger.info("delivered %s to %s", transition.fingerprint, destination, extra=extra)


def _dead_letter(
    rt: Runtime, *, destination: str, transition: Transition, error: DeliveryError, now: datetime
) -> None:
    entry_id = rt.dead_letters.add(destination=destination, transition=transition, error=str(error), now=now)
    logger.error(
        "gave up on %s for %s (dead letter %s): %s",
        transition.fingerprint,
        destination,
        entry_id,
        error,
        extra={
            "cluster": transition.task.cluster_id,
            "task_id": transition.task.task_id,
            "fingerprint": transition.fingerprint,
        },
    )
