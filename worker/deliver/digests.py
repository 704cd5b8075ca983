"""The digest queue on Redis: finished transitions parked per Slack channel until one digest announces them.

:class:`DigestQueue` is the :class:`~integrations.base.DigestStore` handed to Slack's delivery policy; the
rule for what is parked and when it is flushed is in :mod:`integrations.slack.policy`. Parking a fingerprint
twice is harmless; a claim holds the channel's :class:`~worker.store.lease.Lease` so two flushes
never post the same transitions.
"""

from __future__ import annotations

from datetime import timedelta

import redis

from integrations.base import DigestClaim, Transition
from worker.store.keys import Keys
from worker.store.lease import Lease

__all__ = ["DIGEST_SIZE", "DigestQueue"]

DIGEST_SIZE = 200
"""Transitions per digest message: what one message lists in full within Slack's limits."""


class DigestQueue:
    """Finished transitions parked per channel until one digest message announces them."""

    def __init__(
        self, *, client: redis.Redis, keys: Keys, lock_ttl: timedelta = timedelta(minutes=2)
    ) -> None:
        self._client = client
        self._keys = keys
        self._lock_ttl = lock_ttl

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
        lease = Lease.acquire(
            client=self._client, key=self._keys.slack_digest_lock(channel=channel), ttl=self._lock_ttl
        )
        if lease is None:
            return None
        stored = self._client.hvals(self._keys.slack_digest(channel=channel))
        parked = sorted(
            (Transition.model_validate_json(value) for value in stored),
            key=lambda t: (t.observed_at, t.fingerprint),
        )[:limit]
        if not parked:
            lease.release()
            return None
        return DigestClaim(channel=channel, transitions=tuple(parked), owner=lease.token)

    def done(self, claim: DigestClaim) -> None:
        """Forget the claimed transitions (their digest was posted) and release the channel's lock."""
        fingerprints = [transition.fingerprint for transition in claim.transitions]
        self._client.hdel(self._keys.slack_digest(channel=claim.channel), *fingerprints)
        self._lease(claim).release()

    def abandon(self, claim: DigestClaim) -> None:
        """Release the lock without forgetting anything (the digest could not be posted; retry later)."""
        self._lease(claim).release()

    def _lease(self, claim: DigestClaim) -> Lease:
        """The channel's lock as held by ``claim`` (its owner token)."""
        key = self._keys.slack_digest_lock(channel=claim.channel)
        return Lease(client=self._client, key=key, token=claim.owner)
