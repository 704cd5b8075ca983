"""The one lease: a Redis lock with an owner token and a TTL, fenced by its token.

Only the owner extends or releases it (both compare the token inside one Lua script, run by EVALSHA), and a
crashed owner's lease simply expires. Polls (per cluster), deliveries (per destination and task) and digest
flushes (per channel) all hold one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import redis

from worker.store.scripts import EXTEND_LEASE, RELEASE_LEASE

__all__ = ["Lease"]


@dataclass(frozen=True)
class Lease:
    """A lock held by one owner until it releases it or ``ttl`` runs out (SET NX PX)."""

    client: redis.Redis
    key: str
    token: str

    @classmethod
    def acquire(cls, *, client: redis.Redis, key: str, ttl: timedelta) -> Lease | None:
        """Take the lock at ``key``, or None when someone else holds it."""
        token = secrets.token_hex(16)
        if client.set(key, token, nx=True, px=_ms(ttl)):
            return cls(client=client, key=key, token=token)
        return None

    def extend(self, ttl: timedelta) -> bool:
        """Keep holding the lock for ``ttl`` from now; False if it had expired meanwhile."""
        extend = self.client.register_script(EXTEND_LEASE)
        return bool(extend(keys=[self.key], args=[self.token, _ms(ttl)]))

    def release(self) -> bool:
        """Give the lock back; False if it had expired (and perhaps been taken by someone else)."""
        release = self.client.register_script(RELEASE_LEASE)
        return bool(release(keys=[self.key], args=[self.token]))


def _ms(ttl: timedelta) -> int:
    return int(ttl.total_seconds() * 1000)
