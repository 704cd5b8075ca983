"""The :class:`integrations.target.StateStore` that notifiers keep small facts in, on Redis.

A Jira issue key per task, a chat robot's "already posted" marks: each target gets its own namespace
(``Keys.target_state``), so two targets of one vendor never see each other's entries.
"""

from __future__ import annotations

import redis

from worker.store.keys import Keys

__all__ = ["RedisTargetState"]


class RedisTargetState:
    """One target's durable strings."""

    def __init__(self, *, client: redis.Redis, keys: Keys, target: str) -> None:
        self._client = client
        self._keys = keys
        self._target = target

    def get(self, name: str) -> str | None:
        """The value stored under ``name``, or None."""
        value = self._client.get(self._keys.target_state(target=self._target, name=name))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def set(self, name: str, value: str, *, ttl_seconds: int | None = None) -> None:
        """Store ``value`` under ``name``, optionally expiring."""
        self._client.set(self._keys.target_state(target=self._target, name=name), value, ex=ttl_seconds)
