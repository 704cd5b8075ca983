"""Slack's per-channel message budget, shared by all workers through Redis, and the digest for floods.

:class:`ChannelBudget` is a token bucket per channel (about one message per second with a small burst,
Slack's own guidance for ``chat.postMessage``), refilled by Redis ``TIME`` inside one Lua call, so all
workers share one clock and one count. ``acquire`` never sleeps: it returns 0 (send now; a token was taken)
or the seconds until a token will be free (nothing was taken; the delivery task retries with that
countdown and asks again).

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
from worker.keys import Keys
from worker.scripts import reply_text

__all__ = ["DIGEST_AFTER", "DIGEST_SIZE", "ChannelBudget", "DigestClaim", "DigestQueue", "wants_digest"]

DIGEST_AFTER = 20.0
"""Seconds of wait beyond which a finished task goes into the channel's digest instead of its own post."""
DIGEST_SIZE = 200
"""Transitions per digest message: what one message lists in full within Slack's limits."""

# KEYS: 1 bucket hash. ARGV: 1 rate (tokens/second), 2 burst (tokens).
# Returns the wait in seconds as a string (Lua numbers would be truncated to integers on the way out).
_ACQUIRE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.6f', wait)
"""

# KEYS: 1 lock. ARGV: 1 owner token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class ChannelBudget:
    """A token bucket per Slack channel in Redis: ``rate`` messages per second, bursts of ``burst``."""

    def __init__(self, *, client: redis.Redis, keys: Keys, rate: float = 1.0, burst: int = 3) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._client = client
        self._keys = keys
        self._rate = rate
        self._burst = burst
        self._acquire = client.register_script(_ACQUIRE)

    def acquire(self, channel: str) -> float:
        """Take one message's worth for ``channel``: 0.0 if granted, else seconds to wait (none taken)."""
        reply = self._acquire(keys=[self._keys.slack_budget(channel=channel)], args=[self._rate, self._burst])
        return float(reply_text(reply))


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
