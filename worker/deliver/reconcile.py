"""The deliveries' backstop: each scheduled (destination, task) is remembered with when its next run is due,
and one that is overdue while its log is still ahead of the destination's cursor is scheduled again.

A deliver message can vanish with its work undone: the worker holding it was SIGKILLed (the broker gives an
unacknowledged message back only after its visibility timeout), a Redis error failed the task while its
retry could not be published either, or the broker's Redis lost its queues. None of that may lose a
transition, and none does, because what must be delivered is in Redis anyway — the task's log and each
destination's cursor. :class:`worker.deliver.due.DueDeliveries` keeps ``(destination, task_key)`` → when
its next delivery run should start: :func:`worker.deliver.dispatch.dispatch` sets it when it schedules one,
the deliver task moves it when it retries after a countdown. :func:`reconcile` (beat, every 10 s) schedules
again each pair overdue by more than ``GRACE`` whose lease nobody holds, and forgets each pair with nothing
left to send. A delivery scheduled by mistake finds nothing after its cursor and does nothing, so the worst a
false alarm costs is one extra run; a pair whose delivery keeps failing is rescheduled at most once per
``GRACE``, never given up while its log lasts.

Bounded: a pair leaves once its destination is caught up, or once the task's log has expired.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from worker.deliver.dispatch import pending_destinations
from worker.runtime import Runtime

__all__ = ["GRACE", "reconcile"]

# How late a delivery may start before it counts as lost: longer than a busy queue's wait. One that holds
# its lease is alive whatever its age (looked at again later); one whose lease lapsed is dead.
GRACE = timedelta(seconds=20)


def reconcile(rt: Runtime, *, now: datetime, enqueue: Callable[[str, str], None]) -> int:
    """Schedule again every overdue pair with something left to send; returns how many were scheduled."""
    scheduled = 0
    for destination, task_key, due in rt.due.overdue(before=now - GRACE):
        if destination in rt.targets and rt.ledger.leased(destination=destination, task_key=task_key):
            rt.due.expect(destination=destination, task_key=task_key, at=now)  # alive: look again later
        elif destination in rt.targets and destination in pending_destinations(rt, task_key=task_key):
            rt.due.expect(destination=destination, task_key=task_key, at=now)
            enqueue(destination, task_key)
            scheduled += 1
        else:  # caught up, the log expired, or the target left the configuration
            rt.due.forget(destination=destination, task_key=task_key, due=due)
    return scheduled
