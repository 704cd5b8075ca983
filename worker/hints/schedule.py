"""Turning an accepted event into at most one early poll: deduplicated by event, paced per cluster.

Two Redis facts, both with a TTL (bounded however many events arrive):

* **seen** — ``SET NX`` of a digest of the event's ``source`` and ``id`` (CloudEvents' identity), kept a
  day: EventBridge redelivers for up to a day, and a redelivery must not cost another poll.
* **slot** — :data:`~worker.store.scripts.SCHEDULE_HINT`: a cluster's hinted polls are ``interval``
  apart at least; an event inside the interval defers one poll to the slot's start (later events ride on
  it), so every event is followed by a poll within ``interval`` and a burst of events costs two polls.

What the poll announces is only what ListTasks shows: a forged, replayed or out-of-order event can make a
poll come sooner, never change what it finds.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import redis

from worker.store.keys import Keys
from worker.store.scripts import SCHEDULE_HINT

__all__ = ["SEEN_TTL_SECONDS", "EnqueuePoll", "HintResult", "PollHints"]

SEEN_TTL_SECONDS = 24 * 3600

# enqueue(cluster_id, countdown seconds): queue one ehpc.poll_cluster; raises if the broker refused it.
EnqueuePoll = Callable[[str, float], None]


class HintResult(enum.StrEnum):
    """What became of one event (also the ``result`` label of ``ehpc_bridge_eventbridge_events``)."""

    POLL_QUEUED = "poll_queued"
    POLL_DEFERRED = "poll_deferred"
    PACED = "paced"  # a deferred poll was already queued for this cluster
    DUPLICATE = "duplicate"
    UNKNOWN_CLUSTER = "unknown_cluster"
    NOT_EHPC = "not_ehpc"
    REFUSED = "refused"
    MALFORMED = "malformed"
    UNAVAILABLE = "unavailable"  # Redis or the broker failed: 503, EventBridge retries


@dataclass(frozen=True)
class Hinted:
    """The outcome for an event of a watched cluster, and the countdown of its poll (if one was queued)."""

    result: HintResult
    countdown: float = 0.0


class PollHints:
    """Deduplicates events and paces the polls they ask for; ``enqueue`` queues the actual poll."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        keys: Keys,
        interval: float,
        enqueue: EnqueuePoll,
        now_ms: Callable[[], int],
    ) -> None:
        self._client = client
        self._keys = keys
        self._interval_ms = int(interval * 1000)
        self._enqueue = enqueue
        self._now_ms = now_ms
        self._schedule = client.register_script(SCHEDULE_HINT)

    def offer(self, *, source: str, event_id: str, cluster_id: str) -> Hinted:
        """Take one event about ``cluster_id``; redis and broker errors propagate (the caller answers 503)."""
        seen = self._keys.hint_seen(event_digest=_digest(source, event_id))
        if not self._client.set(seen, "1", nx=True, ex=SEEN_TTL_SECONDS):
            return Hinted(HintResult.DUPLICATE)
        try:
            wait_ms = int(
                self._schedule(
                    keys=[
                        self._keys.hint_slot(cluster_id=cluster_id),
                        self._keys.hint_deferred(cluster_id=cluster_id),
                    ],
                    args=[self._now_ms(), self._interval_ms],
                )
            )
            if wait_ms < 0:
                return Hinted(HintResult.PACED)
            countdown = wait_ms / 1000
            self._enqueue(cluster_id, countdown)
        except Exception:
            self._client.delete(seen)  # not taken: EventBridge's retry of this event must count
            raise
        return Hinted(HintResult.POLL_QUEUED if wait_ms == 0 else HintResult.POLL_DEFERRED, countdown)


def _digest(source: str, event_id: str) -> str:
    """A fixed-length key part for any id (ids are the sender's text: bounded, never spliced raw)."""
    return hashlib.sha256(f"{source}\n{event_id}".encode()).hexdigest()[:32]
