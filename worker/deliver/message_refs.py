"""Where each task's Slack message lives, in Redis: :class:`RedisMessageRefs` (the notifier's ref store).

One hash per (Slack target, task) holds ``channel``, ``ts`` and ``sequence`` (the transition the message
shows), ``attempt:<item>`` (when an attempt to post began whose outcome is unknown) and
``reply:<fingerprint>`` (the reply or digest that delivered a transition). It outlives the task's log
(``log_key_for``): no expiry while the task runs, however long, then ``retention`` beyond the log's own
expiry, so a late redelivery still finds its message and a week-long task's end edits its one message.

Writes are fenced (:mod:`worker.deliver.fence`): inside a delivery, a ref is recorded only while that
delivery still holds its lease, and the recorded sequence never goes back.

After Redis lost writes (:mod:`worker.store.epoch`), a missing attempt mark proves nothing: while
``suspect_since`` says so, :meth:`RedisMessageRefs.begin` answers as if an earlier attempt had begun then,
so the first post of anything looks for an earlier copy in the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis

from integrations.base import MessageRef
from worker.deliver import fence
from worker.store.scripts import PUT_MESSAGE_REF, PUT_REPLY_REF, reply_text

__all__ = ["RedisMessageRefs", "TaskKeyFor"]


class TaskKeyFor(Protocol):
    """Builds one task's Redis key, e.g. ``partial(keys.slack_message, destination=…)``."""

    def __call__(self, *, task_key: str) -> str:
        """The key for ``task_key``."""


class RedisMessageRefs:
    """:class:`integrations.slack.notifier.MessageRefStore` on one Redis hash per task."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        key_for: TaskKeyFor,
        retention: timedelta = timedelta(days=30),
        suspect_since: Callable[[datetime], datetime | None] | None = None,
        log_key_for: TaskKeyFor | None = None,
    ):
        self._client = client
        self._suspect_since = suspect_since
        self._key_for = key_for
        self._log_key_for = log_key_for
        self._ttl = int(retention.total_seconds())
        self._put_ref = client.register_script(PUT_MESSAGE_REF)
        self._put_reply = client.register_script(PUT_REPLY_REF)

    def get(self, task_key: str) -> MessageRef | None:
        """The task's parent message, or None when none was recorded."""
        channel, ts, sequence = self._client.hmget(
            self._key_for(task_key=task_key), ["channel", "ts", "sequence"]
        )
        if channel is None or ts is None:
            return None
        return MessageRef(channel=reply_text(channel), ts=reply_text(ts), sequence=int(sequence or 0))

    def put(self, task_key: str, ref: MessageRef) -> None:
        """Record the task's parent message; a lower ``sequence`` than recorded is ignored (never back)."""
        self._fenced(self._put_ref, task_key, ref.channel, ref.ts, str(ref.sequence))

    def begin(self, task_key: str, item: str, *, at: datetime) -> datetime | None:
        """Note an attempt to post ``item`` starting ``at``; returns when an earlier attempt whose outcome
        is unknown began, or None when there was none."""
        key, field = self._key_for(task_key=task_key), f"attempt:{item}"
        pipe = self._client.pipeline(transaction=True)
        pipe.hsetnx(key, field, f"{at.timestamp():.6f}")
        pipe.hget(key, field)
        pipe.expire(key, self._ttl)
        first, noted, _ = pipe.execute()
        if first or noted is None:
            return None if self._suspect_since is None else self._suspect_since(at)
        try:
            return datetime.fromtimestamp(float(reply_text(noted)), UTC)
        except ValueError:  # a mark from before attempts carried their time: look from long ago
            return at - timedelta(days=7)

    def forget(self, task_key: str, item: str) -> None:
        """Drop the attempt mark of ``item``: Slack answered that nothing was posted."""
        self._client.hdel(self._key_for(task_key=task_key), f"attempt:{item}")

    def reply(self, task_key: str, fingerprint: str) -> str | None:
        """The ts of the reply (or digest) that delivered ``fingerprint``, or None."""
        value = self._client.hget(self._key_for(task_key=task_key), f"reply:{fingerprint}")
        return None if value is None else reply_text(value)

    def put_reply(self, task_key: str, fingerprint: str, ts: str) -> None:
        """Record that ``fingerprint`` was delivered by the message ``ts``."""
        self._fenced(self._put_reply, task_key, f"reply:{fingerprint}", ts)

    def _fenced(self, script: redis.commands.core.Script, task_key: str, *args: str) -> None:
        key = self._key_for(task_key=task_key)
        held = fence.current_token()
        lease_key, token = held if held is not None else (key, "")
        # No log key given (tests of the store alone): the hash's own key stands in, which never expires
        # while written to, so the TTL is the plain retention.
        log = self._log_key_for(task_key=task_key) if self._log_key_for is not None else f"{key}:no-log"
        if int(script(keys=[key, lease_key, log], args=[token, self._ttl, *args])) < 0:
            raise fence.LeaseLost(f"lost the delivery lease while recording the message of {task_key}")
