"""Where each task's Slack message lives, on Redis: the :class:`~integrations.base.MessageRefStore` the
Slack notifier is handed (and the thread links other vendors point back to)."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import redis

from integrations.base import MessageRef

__all__ = ["RedisMessageRefs", "TaskKeyFor"]


class TaskKeyFor(Protocol):
    """Builds one task's Redis key, e.g. ``partial(keys.slack_message, destination=…)``."""

    def __call__(self, *, task_key: str) -> str:
        """The key for ``task_key``."""


class RedisMessageRefs:
    """:class:`MessageRefStore` on one Redis hash per task (fields ``channel``, ``ts``, ``sequence``,
    ``attempt:<item>``, ``reply:<fingerprint>``), kept for ``retention`` after its last write."""

    def __init__(
        self, *, client: redis.Redis, key_for: TaskKeyFor, retention: timedelta = timedelta(days=30)
    ):
        self._client = client
        self._key_for = key_for
        self._ttl = int(retention.total_seconds())

    def get(self, task_key: str) -> MessageRef | None:
        """The task's parent message, or None when none was recorded."""
        channel, ts, sequence = self._client.hmget(
            self._key_for(task_key=task_key), ["channel", "ts", "sequence"]
        )
        if channel is None or ts is None:
            return None
        return MessageRef(channel=_text(channel), ts=_text(ts), sequence=int(sequence or 0))

    def put(self, task_key: str, ref: MessageRef) -> None:
        """Record the task's parent message."""
        self._write(task_key, {"channel": ref.channel, "ts": ref.ts, "sequence": str(ref.sequence)})

    def begin(self, task_key: str, item: str) -> bool:
        """Note an attempt to post ``item``; True when an earlier attempt was already noted."""
        key = self._key_for(task_key=task_key)
        first = self._client.hsetnx(key, f"attempt:{item}", "1")
        self._client.expire(key, self._ttl)
        return not first

    def reply(self, task_key: str, fingerprint: str) -> str | None:
        """The ts of the reply (or digest) that delivered ``fingerprint``, or None."""
        value = self._client.hget(self._key_for(task_key=task_key), f"reply:{fingerprint}")
        return None if value is None else _text(value)

    def put_reply(self, task_key: str, fingerprint: str, ts: str) -> None:
        """Record that ``fingerprint`` was delivered by the message ``ts``."""
        self._write(task_key, {f"reply:{fingerprint}": ts})

    def _write(self, task_key: str, fields: dict[str, str]) -> None:
        key = self._key_for(task_key=task_key)
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)  # type: ignore[arg-type]  # redis-py types mapping invariantly
        pipe.expire(key, self._ttl)
        pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
