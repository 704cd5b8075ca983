"""The dispatch step: turn outbox entries into ``(destination, task_key)`` deliveries, by the routing
rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from integrations.base import TransitionKind
from worker.runtime import Runtime

__all__ = ["OUTBOX_RECLAIM_IDLE", "dispatch"]

OUTBOX_RECLAIM_IDLE = timedelta(seconds=60)
_ENDS = frozenset({TransitionKind.FINISHED, TransitionKind.LOST})
_MAX_BATCHES = 100  # of 100 entries: one run dispatches up to 10,000 pages' worth, then beat's next run


def dispatch(rt: Runtime, *, consumer: str, enqueue: Callable[[str, str], None]) -> int:
    """Schedule a delivery for every (destination, task) with news; returns how many were scheduled.

    Entries left pending by a dispatcher that died are reclaimed first. An entry is acked only after its
    deliveries are enqueued, so a crash here schedules twice at worst — harmless, cursors dedupe.
    """
    rt.outbox.ensure_group()
    entries = rt.outbox.reclaim(consumer=consumer, min_idle=OUTBOX_RECLAIM_IDLE)
    scheduled = 0
    for _ in range(_MAX_BATCHES):  # a burst of lookups logs one entry per task: read them all now
        entries += rt.outbox.read(consumer=consumer)
        if not entries:
            break
        task_keys = dict.fromkeys(task_key for entry in entries for task_key in entry.task_keys)
        for task_key in task_keys:
            for destination in _pending_destinations(rt, task_key=task_key):
                enqueue(destination, task_key)
                scheduled += 1
        rt.outbox.ack(entry_ids=[entry.entry_id for entry in entries])
        entries = []
    return scheduled


def _pending_destinations(rt: Runtime, *, task_key: str) -> list[str]:
    """Targets with a routed transition after their cursor (the task's log is read once for all).

    Once the task has ended, a target with nothing routed left has its cursor moved to the end here: no
    delivery will ever run for it, and the cursor then expires with the log instead of lasting for ever.
    """
    cursors = {name: rt.ledger.cursor(destination=name, task_key=task_key) for name in rt.targets}
    log = rt.state.transitions_after(task_key=task_key, sequence=min(cursors.values(), default=0))
    pending: dict[str, None] = {}
    for transition in log:
        for name in rt.destinations(transition):
            if transition.sequence > cursors[name]:
                pending[name] = None
    if log and log[-1].kind in _ENDS:
        for name, cursor in cursors.items():
            if name not in pending and cursor < log[-1].sequence:
                rt.ledger.advance_cursor(destination=name, task_key=task_key, sequence=log[-1].sequence)
    return list(pending)
