"""What notifiers keep on Redis per target: small facts (:class:`RedisTargetState`, a
:class:`integrations.target.StateStore`) and incident ledgers (:class:`RedisIncidentLedger`).

A Jira issue key per task, a chat robot's "already posted" marks: each target gets its own namespace
(``Keys.target_state``), so two targets of one vendor never see each other's entries. An incident ledger
(``Keys.incident``, one hash per target and incident key) orders failures and successes by the tasks'
times (:mod:`integrations.incident`); each call is one Lua script, so concurrent deliveries of a Fail and
a Success can't interleave. It keeps each failure's end until it is a week older than the latest success
(a redelivered success still finds what it recovered) and expires 30 days after its last write.
"""

from __future__ import annotations

from typing import Any, cast

import redis

from worker.store.keys import Keys
from worker.store.scripts import INCIDENT_FAILED, INCIDENT_SUCCEEDED, reply_text

__all__ = ["RedisIncidentLedger", "RedisTargetState"]

_LEDGER_TTL_MS = 30 * 24 * 3600 * 1000
_FORGET_AFTER_MS = 7 * 24 * 3600 * 1000


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


class RedisIncidentLedger:
    """One target's :class:`integrations.incident.IncidentLedger`, one Redis hash per incident key."""

    def __init__(self, *, client: redis.Redis, keys: Keys, target: str) -> None:
        self._client = client
        self._keys = keys
        self._target = target
        self._failed = client.register_script(INCIDENT_FAILED)
        self._succeeded = client.register_script(INCIDENT_SUCCEEDED)

    def failed(self, key: str, *, task_key: str, ended_ms: int) -> str | None:
        """Note the failure; the JSON of a recorded success that began after it ended, or None (open)."""
        found = self._failed(keys=[self._key(key)], args=[task_key, ended_ms, _LEDGER_TTL_MS])
        return None if found is None else reply_text(cast("bytes | str", found))

    def succeeded(self, key: str, *, began_ms: int, success_json: str) -> tuple[list[str], bool]:
        """Note the success; (task keys of failures that ended before it began, whether any stays open)."""
        reply = cast(
            "list[Any]",
            self._succeeded(
                keys=[self._key(key)], args=[began_ms, success_json, _LEDGER_TTL_MS, _FORGET_AFTER_MS]
            ),
        )
        still_open, *recovered = reply
        return [reply_text(item) for item in recovered], bool(int(still_open))

    def _key(self, incident_key: str) -> str:
        return self._keys.incident(target=self._target, incident_key=incident_key)
