"""The deliver step: send one task's transitions to one destination, in order, after its cursor.

:func:`deliver` holds the (destination, task) lease, applies the mute gate and Slack's edit coalescing,
and advances the cursor after each success. A Slack message that can't have a budget token now — or whose
channel already has tasks waiting — is *parked* in the channel's backlog (:mod:`worker.deliver.backlog`):
the delivery ends there, no retry is counted, and :func:`drain_channel` sends it later, on its own while
few wait, in a digest while many do (:mod:`worker.deliver.digests`). Nothing here sleeps or retries: a
function finishes, raises, or says how long to wait.

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
    PermanentDeliveryError,
    RetryableDeliveryError,
    Transition,
    TransitionKind,
)
from integrations.slack.notifier import SlackNotifier
from integrations.target import SlackTarget
from worker.deliver.backlog import Backlog
from worker.deliver.digests import DIGEST_BACKLOG, DIGEST_SIZE, DigestClaim, DigestItem
from worker.deliver.outbox import Lease
from worker.ops import metrics
from worker.runtime import Runtime

__all__ = [
    "DELIVERY_LEASE",
    "DeliveryOutcome",
    "channel_backlog",
    "deliver",
    "drain_channel",
    "give_up",
    "reschedule_lost_drains",
]

logger = logging.getLogger(__name__)

# Short, and renewed before each send: a worker killed mid-delivery blocks its task for at most this long.
DELIVERY_LEASE = timedelta(seconds=20)
DRAIN_SLICE = 20.0
"""Seconds one drain run spends on a backlog before handing over to a fresh task message."""
_DRAIN_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery run did.

    ``wait`` > 0: come back after that many seconds (a busy lease, the edit interval) — not an attempt.
    ``parked``: the task waits in that backlog; the caller makes sure a drain runs in ``drain_after`` s.
    """

    sent: int = 0
    skipped: int = 0
    wait: float = 0.0
    parked: Backlog | None = None
    drain_after: float = 0.0


def deliver(
    rt: Runtime, *, destination: str, task_key: str, now: datetime, draining: bool = False
) -> DeliveryOutcome:
    """Send ``task_key``'s transitions after ``destination``'s cursor, in order, each exactly once.

    ``draining``: called by :func:`drain_channel`, which holds the channel's first budget token for it.
    Raises :class:`RetryableDeliveryError` (the caller retries later; the cursor stays on the failed
    transition). A :class:`PermanentDeliveryError` dead-letters that transition: retrying can't help, and
    one broken message must not block the task's later ones.
    """
    lease = rt.ledger.acquire(destination=destination, task_key=task_key, ttl=DELIVERY_LEASE)
    if lease is None:
        return DeliveryOutcome(wait=1.0)  # another worker is delivering this task right now
    try:
        return _deliver_pending(
            rt, destination=destination, task_key=task_key, now=now, lease=lease, granted=draining
        )
    finally:
        lease.release()


def _deliver_pending(
    rt: Runtime, *, destination: str, task_key: str, now: datetime, lease: Lease, granted: bool
) -> DeliveryOutcome:
    cursor = rt.ledger.cursor(destination=destination, task_key=task_key)
    pending = rt.state.transitions_after(task_key=task_key, sequence=cursor)
    sent = skipped = 0
    slack = _is_slack(rt, destination)
    for index, transition in enumerate(pending):
        cluster_id = transition.task.cluster_id
        if destination not in rt.destinations(transition) or _superseded(transition, pending[index + 1 :]):
            skipped += 1
            metrics.record_dedup_suppression(target=destination)
        elif slack and rt.mutes.record_suppressed(cluster_id, transition):
            skipped += 1  # kept for the summary posted when the mute ends
        elif slack and not _has_own_message_for(rt, destination, transition):
            skipped += 1  # progress of a task only a digest announced: no message of its own to edit
        else:
            if slack:
                edit_wait = _edit_wait(rt, destination=destination, transition=transition)
                if edit_wait > 0:
                    return DeliveryOutcome(sent=sent, skipped=skipped, wait=edit_wait)
                backlog = channel_backlog(rt, destination, cluster_id)
                budget_wait = 0.0 if granted else _budget_wait(rt, backlog)
                granted = False
                if budget_wait > 0:
                    rt.backlog.park(backlog, task_key=task_key, at_ms=int(time.time() * 1000))
                    metrics.record_parked(target=destination)
                    return DeliveryOutcome(
                        sent=sent, skipped=skipped, parked=backlog, drain_after=budget_wait
                    )
            if not lease.extend(DELIVERY_LEASE):  # we were too slow and lost the task to another worker
                return DeliveryOutcome(sent=sent, skipped=skipped)
            _send(rt, destination=destination, transition=transition, now=now)
            sent += 1
        rt.ledger.advance_cursor(destination=destination, task_key=task_key, sequence=transition.sequence)
    return DeliveryOutcome(sent=sent, skipped=skipped)


def _budget_wait(rt: Runtime, backlog: Backlog) -> float:
    """Seconds until this message may be sent: a token now (0), or park behind the tasks already waiting
    (this one among them, perhaps in a digest being posted: only the drain sends for a waiting task)."""
    if rt.backlog.size(backlog):
        return 1.0 / rt.settings.slack_rate  # take nothing: the drain spends the tokens
    wait = rt.budget.acquire(backlog.channel)
    if wait > 0:
        metrics.record_rate_limited(service="slack-budget")
    return wait


def drain_channel(rt: Runtime, *, destination: str, cluster_id: str, now: datetime) -> float:
    """Spend the channel's budget on its backlog; returns seconds until the next drain (0: none needed).

    One token at a time: the open digest claim first (post it, then edit the task messages it covers,
    then release it); else, with more than ``DIGEST_BACKLOG`` tasks waiting, a new claim; else the oldest
    waiting task, delivered on its own. See :mod:`worker.deliver.digests`.
    """
    backlog = channel_backlog(rt, destination, cluster_id)
    lease = rt.backlog.lease(backlog)
    if lease is None:
        return 0.0  # another drain runs, and it schedules its own successor
    try:
        started = time.monotonic()
        while time.monotonic() - started < DRAIN_SLICE:
            claim = rt.digests.current(backlog)
            waiting = rt.backlog.size(backlog)
            if claim is None and not waiting:
                rt.backlog.mark_running(backlog)  # from now on a park schedules a new drain…
                busy = rt.backlog.size(backlog) or rt.digests.current(backlog)
                return 0.05 if busy else 0.0  # …unless one slipped in before that
            if not lease.extend(_DRAIN_LEASE):
                return 1.0
            wait = rt.budget.acquire(backlog.channel)
            if wait > 0:
                return wait
            if claim is None and waiting > DIGEST_BACKLOG:
                claim = rt.digests.claim(backlog, _digest_items(rt, backlog))
            if claim is not None:
                _advance_digest(rt, claim, now=now)
                continue
            for task_key in rt.backlog.oldest(backlog, count=1):
                outcome = deliver(rt, destination=destination, task_key=task_key, now=now, draining=True)
                if outcome.wait > 0 or outcome.parked is not None:
                    return max(outcome.wait, outcome.drain_after, 0.05)
                cursor = rt.ledger.cursor(destination=destination, task_key=task_key)
                rt.backlog.leave(backlog, delivered=[(task_key, cursor)])
        return 0.05
    finally:
        lease.release()


def reschedule_lost_drains(rt: Runtime, *, enqueue: Callable[[str, str], None]) -> int:
    """Schedule a drain for every backlog whose drain message was lost (run by beat's dispatcher)."""
    scheduled = 0
    for backlog in rt.backlog.orphans():
        if rt.backlog.mark_scheduled(backlog, countdown=0):
            enqueue(backlog.destination, backlog.cluster_id)
            scheduled += 1
    return scheduled


def _digest_items(rt: Runtime, backlog: Backlog) -> list[DigestItem]:
    """Each of the oldest waiting tasks with the latest routed transition it has pending."""
    items = []
    for task_key in rt.backlog.oldest(backlog, count=DIGEST_SIZE):
        cursor = rt.ledger.cursor(destination=backlog.destination, task_key=task_key)
        pending = rt.state.transitions_after(task_key=task_key, sequence=cursor)
        routed = [t for t in pending if backlog.destination in rt.destinations(t)]
        covered = pending[-1].sequence if pending else cursor
        shown = routed[-1] if routed else None
        items.append(DigestItem(task_key=task_key, sequence=covered, transition=shown))
    return items


def _advance_digest(rt: Runtime, claim: DigestClaim, *, now: datetime) -> None:
    """One token's worth of a digest: post it, or edit one task message it covers, or release it."""
    destination = claim.backlog.destination
    notifier = _slack_notifier(rt, claim.backlog)
    if claim.posted_ts is None:
        try:
            ts = notifier.send_digest(transitions=claim.shown, now=now, digest_id=claim.digest_id)
        except PermanentDeliveryError as error:
            for transition in claim.shown:
                _dead_letter(rt, destination=destination, transition=transition, error=error, now=now)
            ts = ""
        else:
            metrics.record_digest(target=destination)
        rt.digests.mark_posted(claim, ts=ts)
        return
    for item in claim.items:
        shown = item.transition
        if shown is None or item.task_key in claim.edited or not notifier.has_message(item.task_key):
            continue
        # The task's own message is edited to the digested state; its thread reply was the digest.
        _send(rt, destination=destination, transition=shown, now=now)
        rt.digests.mark_edited(claim, task_key=item.task_key)
        return
    for item in claim.items:
        rt.ledger.advance_cursor(destination=destination, task_key=item.task_key, sequence=item.sequence)
    rt.backlog.leave(claim.backlog, delivered=[(item.task_key, item.sequence) for item in claim.items])
    rt.digests.forget(claim)


def give_up(rt: Runtime, *, destination: str, task_key: str, error: DeliveryError, now: datetime) -> bool:
    """Dead-letter the transition a delivery keeps failing on and move past it; False if none was pending."""
    lease = rt.ledger.acquire(destination=destination, task_key=task_key, ttl=DELIVERY_LEASE)
    if lease is None:
        return False
    try:
        cursor = rt.ledger.cursor(destination=destination, task_key=task_key)
        for transition in rt.state.transitions_after(task_key=task_key, sequence=cursor):
            if destination in rt.destinations(transition):
                _dead_letter(rt, destination=destination, transition=transition, error=error, now=now)
                rt.ledger.advance_cursor(
                    destination=destination, task_key=task_key, sequence=transition.sequence
                )
                return True
        return False
    finally:
        lease.release()


def channel_backlog(rt: Runtime, destination: str, cluster_id: str) -> Backlog:
    """The backlog of the channel ``destination`` posts to for ``cluster_id``."""
    target = rt.targets[destination]
    if not isinstance(target, SlackTarget):
        raise TypeError(f"{destination} is not a Slack target")
    channel = rt.slack_channel(target=target, cluster_id=cluster_id)
    return Backlog(destination=destination, channel=channel, cluster_id=cluster_id)


def _slack_notifier(rt: Runtime, backlog: Backlog) -> SlackNotifier:
    notifier = rt.notifier(target_name=backlog.destination, cluster_id=backlog.cluster_id)
    if not isinstance(notifier, SlackNotifier):
        raise TypeError(f"{backlog.destination} is not a Slack target")
    return notifier


def _has_own_message_for(rt: Runtime, destination: str, transition: Transition) -> bool:
    """False for progress of a task that only a digest announced (it has no message of its own)."""
    if transition.kind is not TransitionKind.PROGRESSED:
        return True
    notifier = rt.notifier(target_name=destination, cluster_id=transition.task.cluster_id)
    return not isinstance(notifier, SlackNotifier) or notifier.shows_progress(transition.task_key)


def _superseded(transition: Transition, later: list[Transition]) -> bool:
    """A progress step already overtaken by a later change: the message shows the latest state anyway."""
    return transition.kind is TransitionKind.PROGRESSED and any(
        item.kind in (TransitionKind.PROGRESSED, TransitionKind.FINISHED) for item in later
    )


def _is_slack(rt: Runtime, destination: str) -> bool:
    return isinstance(rt.targets[destination], SlackTarget)


def _edit_wait(rt: Runtime, *, destination: str, transition: Transition) -> float:
    """Seconds before this progress edit may go: at most one per ``EHPC_SLACK_EDIT_INTERVAL`` per task.

    By then a newer step (or the end) may have superseded it, so a fast task costs a few edits, not one
    per step.
    """
    if transition.kind is not TransitionKind.PROGRESSED or rt.settings.slack_edit_interval <= 0:
        return 0.0
    key = rt.keys.slack_edit(destination=destination, task_key=transition.task_key)
    interval_ms = int(rt.settings.slack_edit_interval * 1000)
    if rt.redis.set(key, "1", nx=True, px=interval_ms):
        return 0.0
    return max(int(rt.redis.pttl(key)), 1) / 1000


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
