"""The digest for floods: finished transitions parked per Slack channel, announced by one message.

The digest rule (when a burst exceeds the budget, e.g. 500 node tasks finishing at once):

1. A FINISHED transition whose channel would make it wait more than ``DIGEST_AFTER`` seconds
   (:func:`wants_digest`) is parked with :meth:`DigestQueue.park` instead of being retried on its own, and
   the caller schedules one ``flush`` of that channel with the countdown the budget gave.
2. The flush takes a token (``acquire`` → 0), then :meth:`DigestQueue.claim` hands it up to
   ``DIGEST_SIZE`` parked transitions under a per-channel lock; the notifier posts ONE digest message for
   them (``SlackNotifier.send_digest``), and :meth:`DigestQueue.done` removes exactly those. If more are
   parked, the flush reschedules itself for the next token.
3. Afterwards each parked transition still goes through the notifier's ordinary ``send``: a task that has a
   parent message gets it edited in place (``chat.update``, not a post), and its thread reply is skipped
   because the digest delivered it; a task without one is done.

Nothing is dropped: parked transitions stay in Redis until a digest containing them was posted. A worker
dying between posting and ``done`` leaves them parked; the next flush claims the same set (same order), so
the notifier finds its digest by metadata and does not post it twice. STARTED/PROGRESSED transitions are
never parked: they edit their own message and are merely delayed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import redis

from integrations.base import Transition, TransitionKind
from worker.store.keys import Keys

__all__ = ["DIGEST_AFTER", "DIGEST_SIZE", "DigestClaim", "DigestQueue", "wants_digest"]

DIGEST_AFTER = 20.0
"""Seconds of wait beyond which a finished task goes into the channel's digest instead of its own post."""
DIGEST_SIZE = 200
"""Transitions per digest message: what one message lists in full within Slack's limits."""

# KEYS: 1 lock. ARGV: 1 owner token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def wants_digest(*, transition: Transition, wait: float, threshold: float = DIGEST_AFTER) -> bool:
    """True when ``transition`` should be parked for its channel's digest rather than retried alone."""
    return transition.kind is TransitionKind.FINISHED and wait > threshold


@dataclass(frozen=True)
class DigestClaim:
    """Parked transitions handed to one flush, with the lock that keeps other flushes away."""

    channel: str
    transitions: tuple[Transition, ...]
    owner: str


class DigestQueue:
    """Finished transitions parked per channel until one digest message announces them."""

    def __init__(
        self, *, client: redis.Redis, keys: Keys, lock_ttl: timedelta = timedelta(minutes=2)
    ) -> None:
        self._client = client
        self._keys = keys
        self._lock_ms = int(lock_ttl.total_seconds() * 1000)
        self._release = client.register_script(_RELEASE)

    def park(self, *, channel: str, transition: Transition) -> None:
        """Keep ``transition`` for the channel's next digest (parking a fingerprint twice is harmless)."""
        self._client.hset(
            self._keys.slack_digest(channel=channel), transition.fingerprint, transition.model_dump_json()
        )

    def pending(self, *, channel: str) -> int:
        """How many transitions wait for the channel's digest."""
        return int(self._client.hlen(self._keys.slack_digest(channel=channel)))

    def claim(self, *, channel: str, limit: int = DIGEST_SIZE) -> DigestClaim | None:
        """The oldest ``limit`` parked transitions, under the channel's lock; None if locked or empty."""
        owner = secrets.token_hex(16)
        lock = self._keys.slack_digest_lock(channel=channel)
        if not self._client.set(lock, owner, nx=True, px=self._lock_ms):
            return None
        stored = self._client.hvals(self._keys.slack_digest(channel=channel))
        parked = sorted(
            (Transition.model_validate_json(value) for value in stored),
            key=lambda t: (t.observed_at, t.fingerprint),
        )[:limit]
        if not parked:
            self._release(keys=[lock], args=[owner])
            return None
        return DigestClaim(channel=channel, transitions=tuple(parked), owner=owner)

    def done(self, claim: DigestClaim) -> None:
        """Forget the claimed transitions (their digest was posted) and release the channel's lock."""
        fingerprints = [transition.fingerprint for transition in claim.transitions]
        self._client.hdel(self._keys.slack_digest(channel=claim.channel), *fingerprints)
        self._release(keys=[self._keys.slack_digest_lock(channel=claim.channel)], args=[claim.owner])

    def abandon(self, claim: DigestClaim) -> None:
        """Release the lock without forgetting anything (the digest could not be posted; retry later)."""
        self._release(keys=[self._keys.slack_digest_lock(channel=claim.channel)], args=[claim.owner])
