"""When each scheduled (destination, task) delivery run is due: the record :mod:`worker.deliver.reconcile`
checks to find deliveries whose message was lost."""

from __future__ import annotations

import json
from datetime import datetime
from typing import cast

import redis

from worker.store.keys import Keys
from worker.store.scripts import FORGET_IF_DUE

__all__ = ["DueDeliveries"]

_BATCH = 500


class DueDeliveries:
    """A sorted set of ``[destination, task_key]`` members scored by when the pair's next run is due."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.due_deliveries()
        self._forget = client.register_script(FORGET_IF_DUE)

    def expect(self, *, destination: str, task_key: str, at: datetime) -> None:
        """Record that a delivery run for the pair should start at ``at`` (a later call moves it)."""
        self._client.zadd(self._key, {_member(destination, task_key): at.timestamp()})

    def overdue(self, *, before: datetime, count: int = _BATCH) -> list[tuple[str, str, float]]:
        """Up to ``count`` pairs due before ``before``, most overdue first, with the due time they had."""
        found = cast(
            "list[tuple[bytes | str, float]]",
            self._client.zrangebyscore(
                self._key, "-inf", before.timestamp(), start=0, num=count, withscores=True
            ),
        )
        return [(*_pair(member), score) for member, score in found]

    def forget(self, *, destination: str, task_key: str, due: float) -> bool:
        """Drop the pair unless someone moved its due time since it was read as ``due``."""
        return bool(self._forget(keys=[self._key], args=[_member(destination, task_key), repr(due)]))

    def __len__(self) -> int:
        return int(self._client.zcard(self._key))


def _member(destination: str, task_key: str) -> str:
    return json.dumps([destination, task_key], separators=(",", ":"))


def _pair(member: bytes | str) -> tuple[str, str]:
    destination, task_key = json.loads(member)
    return str(destination), str(task_key)
