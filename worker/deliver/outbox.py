"""From logged transitions to deliveries: the outbox stream, per-destination cursors, and leases.

:mod:`worker.detect.diff` appends each transition to its task's log and, in the same Lua call, adds one entry
listing the page's changed tasks to the outbox stream. A dispatcher reads the stream in a consumer group
(:class:`Outbox`), schedules one delivery per (destination, task_key), then acks. If it crashes before
acking, the entry stays pending and :meth:`Outbox.reclaim` hands it to another dispatcher after
``min_idle``: nothing is lost, at worst a task is scheduled twice, which the cursors make harmless.

A delivery for (destination, task_key) holds that pair's :class:`Lease` (so two workers never deliver one
task at once), sends every logged transition after :meth:`DeliveryLedger.cursor` in order, and calls
:meth:`DeliveryLedger.advance_cursor` after each success. The lease is a fence
(:mod:`worker.deliver.fence`): a delivery that lost it can't advance the cursor or record a message. The
cursor only moves forward, so each transition reaches each destination once and in order; the fingerprint
(the vendor's idempotency key) covers a crash between sending and advancing. Cursors expire with the task's
log, after ``retention``.

Leases are :class:`worker.store.lease.Lease`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import redis

from worker.deliver.fence import LeaseLost
from worker.store.keys import Keys
from worker.store.lease import Lease
from worker.store.scripts import ADVANCE_CURSOR, reply_text

__all__ = ["DeliveryLedger", "Outbox", "OutboxEntry"]


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox record: the tasks whose log grew in one observed page."""

    entry_id: str
    task_keys: tuple[str, ...]


class Outbox:
    """The outbox stream read through a consumer group; ``ack`` deletes, so the stream stays short."""

    def __init__(self, *, client: redis.Redis, keys: Keys, group: str = "dispatch") -> None:
        self._client = client
        self._stream = keys.outbox()
        self._group = group

    def ensure_group(self) -> None:
        """Create the consumer group (from the stream's start) unless it exists; call before reading."""
        try:
            self._client.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def add(self, *, task_keys: Sequence[str]) -> None:
        """Put tasks back in the stream to be dispatched again (level-triggered: cursors skip what was
        delivered), e.g. every recent task after Redis lost its last writes."""
        if task_keys:
            self._client.xadd(self._stream, {"task_keys": json.dumps(list(task_keys))})

    def read(self, *, consumer: str, count: int = 100, block: timedelta | None = None) -> list[OutboxEntry]:
        """New entries for ``consumer``; they stay pending until acked. ``block`` waits for some."""
        block_ms = None if block is None else int(block.total_seconds() * 1000)
        # redis-py's shape (RESP2 or 3): [[stream, [(id, fields), ...]]], or None when ``block`` timed out.
        answer = cast(
            "list[list[Any]] | None",
            self._client.xreadgroup(self._group, consumer, {self._stream: ">"}, count=count, block=block_ms),
        )
        return [entry for _stream, messages in answer or [] for entry in _entries(messages)]

    def reclaim(self, *, consumer: str, min_idle: timedelta, count: int = 100) -> list[OutboxEntry]:
        """Take over entries pending longer than ``min_idle`` (their dispatcher crashed) for ``consumer``."""
        claimed: list[OutboxEntry] = []
        start = "0-0"
        while len(claimed) < count:
            # Redis 7 answers [next start, entries, deleted IDs].
            reply: list[Any] = self._client.xautoclaim(
                self._stream,
                self._group,
                consumer,
                min_idle_time=int(min_idle.total_seconds() * 1000),
                start_id=start,
                count=count - len(claimed),
            )
            start = reply_text(reply[0])
            claimed += _entries(reply[1])
            if start == "0-0":
                break
        return claimed

    def ack(self, *, entry_ids: Sequence[str]) -> None:
        """Mark entries handled and delete them, in one transaction."""
        if not entry_ids:
            return
        with self._client.pipeline(transaction=True) as pipe:
            pipe.xack(self._stream, self._group, *entry_ids)
            pipe.xdel(self._stream, *entry_ids)
            pipe.execute()


class DeliveryLedger:
    """Per (destination, task) progress: how far the log was delivered, and who is delivering it."""

    def __init__(self, *, client: redis.Redis, keys: Keys, retention: timedelta = timedelta(days=7)) -> None:
        self._client = client
        self._keys = keys
        self._retention_ms = int(retention.total_seconds() * 1000)
        self._advance = client.register_script(ADVANCE_CURSOR)

    def cursor(self, *, destination: str, task_key: str) -> int:
        """The last sequence delivered to ``destination`` for the task (0 for none)."""
        value = self._client.get(self._keys.delivery_cursor(destination=destination, task_key=task_key))
        return int(value) if value is not None else 0

    def advance_cursor(
        self, *, destination: str, task_key: str, sequence: int, lease: Lease | None = None
    ) -> int:
        """Record ``sequence`` as delivered; never moves back. Returns the cursor afterwards.

        With ``lease``, the cursor moves only while that lease is still held (checked in the same Lua call):
        :class:`~worker.deliver.fence.LeaseLost` otherwise.
        """
        cursor = self._keys.delivery_cursor(destination=destination, task_key=task_key)
        lease_key = self._keys.delivery_lease(destination=destination, task_key=task_key)
        log = self._keys.task_log(task_key=task_key)
        token = "" if lease is None else lease.token
        moved = int(self._advance(keys=[cursor, lease_key, log], args=[token, sequence, self._retention_ms]))
        if moved < 0:
            raise LeaseLost(f"lost the delivery lease of {task_key} for {destination}; not advancing")
        return moved

    def acquire(self, *, destination: str, task_key: str, ttl: timedelta) -> Lease | None:
        """Take the right to deliver the task to ``destination``, or None while another worker has it."""
        key = self._keys.delivery_lease(destination=destination, task_key=task_key)
        return Lease.acquire(client=self._client, key=key, ttl=ttl)


def _entries(messages: Sequence[tuple[bytes | str, dict[bytes | str, bytes | str]]]) -> list[OutboxEntry]:
    entries = []
    for entry_id, fields in messages:
        decoded = {reply_text(name): reply_text(value) for name, value in fields.items()}
        task_keys = tuple(json.loads(decoded["task_keys"]))
        entries.append(OutboxEntry(entry_id=reply_text(entry_id), task_keys=task_keys))
    return entries
