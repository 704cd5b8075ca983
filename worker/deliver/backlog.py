"""A Slack channel's backlog: the tasks whose next message waits for that channel's budget.

A Slack delivery that finds its channel's budget empty, or finds other tasks already waiting for the same
channel, does not wait and does not retry: it *parks* its task here (:meth:`ChannelBacklog.park`) and
ends. Waiting is therefore never a failed attempt, and no retry limit can drop what waits. One *drain* per
(destination, channel) (:func:`worker.deliver.delivery.drain_channel`) then spends the channel's tokens:
it delivers the oldest parked task while few wait, and turns the backlog into digests while many do
(:mod:`worker.deliver.digests`). How many wait is the signal — not how long one token takes.

Redis: the backlog is a sorted set per (destination, channel) of task keys, scored by when each was first
parked (oldest first; parking again keeps the first score). A marker with a TTL says a drain is scheduled,
so a thousand parked deliveries schedule one drain; a registry set lists every backlog ever parked in so
that beat's dispatcher can re-schedule a drain whose message was lost (:meth:`ChannelBacklog.orphans`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import redis

from worker.store.keys import Keys
from worker.store.lease import Lease
from worker.store.scripts import LEAVE_BACKLOG, reply_text

__all__ = ["Backlog", "BacklogOfTarget", "ChannelBacklog"]

_DRAIN_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Backlog:
    """One (destination, channel) backlog; ``cluster_id``: a cluster routed there (to build the notifier)."""

    destination: str
    channel: str
    cluster_id: str


class ChannelBacklog:
    """Parked tasks per (destination, channel), the drain's lease and its "scheduled" marker."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._leave = client.register_script(LEAVE_BACKLOG)

    def park(self, backlog: Backlog, *, task_key: str, at_ms: int) -> None:
        """Add the task to the backlog (kept at its first score if it is there already)."""
        with self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(self._key(backlog), {task_key: at_ms}, nx=True)
            pipe.sadd(self._keys.slack_backlogs(), _registry_entry(backlog))
            pipe.execute()

    def size(self, backlog: Backlog) -> int:
        """How many tasks wait."""
        return int(self._client.zcard(self._key(backlog)))

    def oldest(self, backlog: Backlog, *, count: int) -> list[str]:
        """The task keys that have waited longest, oldest first."""
        members = cast("list[bytes | str]", self._client.zrange(self._key(backlog), 0, count - 1))
        return [reply_text(member) for member in members]

    def leave(self, backlog: Backlog, *, delivered: Sequence[tuple[str, int]]) -> None:
        """Take out the tasks of ``delivered`` (task key, last sequence sent) that logged nothing newer."""
        if delivered:
            logs = [self._keys.task_log(task_key=task_key) for task_key, _ in delivered]
            self._leave(
                keys=[self._key(backlog), *logs],
                args=[*(key for key, _ in delivered), *(sequence for _, sequence in delivered)],
            )

    def mark_scheduled(self, backlog: Backlog, *, countdown: float, force: bool = False) -> bool:
        """Note that a drain will run in ``countdown`` s; False if one was scheduled already (add none).

        ``force``: the running drain schedules its successor, whatever the marker says.
        """
        ttl_ms = int((countdown + _DRAIN_LEASE.total_seconds()) * 1000)
        return bool(self._client.set(self._marker(backlog), "1", nx=not force, px=ttl_ms))

    def mark_running(self, backlog: Backlog) -> None:
        """The scheduled drain has started: a park from now on schedules the next one."""
        self._client.delete(self._marker(backlog))

    def lease(self, backlog: Backlog) -> Lease | None:
        """The right to drain the backlog (one drain at a time), or None while another drain has it."""
        key = self._keys.slack_drain_lease(destination=backlog.destination, channel=backlog.channel)
        return Lease.acquire(client=self._client, key=key, ttl=_DRAIN_LEASE)

    def orphans(self) -> Iterator[Backlog]:
        """Backlogs with tasks waiting and no drain scheduled (its message was lost); empty ones are
        dropped from the registry."""
        for entry in self._client.smembers(self._keys.slack_backlogs()):
            backlog = _parse_entry(reply_text(entry))
            if not self.size(backlog):
                self._client.srem(self._keys.slack_backlogs(), reply_text(entry))
            elif not self._client.exists(self._marker(backlog)):
                yield backlog

    def ahead(self, backlog: Backlog, *, task_key: str) -> bool:
        """True when a digest of the backlog is open or another task waits before ``task_key``."""
        claim = self._keys.slack_digest_claim(destination=backlog.destination, channel=backlog.channel)
        if self._client.exists(claim):
            return True
        return self.oldest(backlog, count=1) not in ([], [task_key])

    def of_target(self, destination: str) -> BacklogOfTarget:
        """The :class:`~integrations.base.BacklogGate` a target's delivery policy is given."""
        return BacklogOfTarget(backlog=self, destination=destination)

    def _key(self, backlog: Backlog) -> str:
        return self._keys.slack_backlog(destination=backlog.destination, channel=backlog.channel)

    def _marker(self, backlog: Backlog) -> str:
        return self._keys.slack_drain_scheduled(destination=backlog.destination, channel=backlog.channel)


@dataclass(frozen=True)
class BacklogOfTarget:
    """:class:`~integrations.base.BacklogGate` of one target: its backlogs, one per channel."""

    backlog: ChannelBacklog
    destination: str

    def park(self, *, channel: str, task_key: str) -> None:
        """Add the task to the channel's backlog (it keeps its place if it is there already)."""
        self.backlog.park(self._of(channel, task_key), task_key=task_key, at_ms=int(time.time() * 1000))

    def ahead(self, *, channel: str, task_key: str) -> bool:
        """True when other tasks wait before ``task_key`` or a digest of the channel is open."""
        return self.backlog.ahead(self._of(channel, task_key), task_key=task_key)

    def _of(self, channel: str, task_key: str) -> Backlog:
        return Backlog(destination=self.destination, channel=channel, cluster_id=task_key.split("/", 1)[0])


def _registry_entry(backlog: Backlog) -> str:
    return "\t".join((backlog.destination, backlog.channel, backlog.cluster_id))


def _parse_entry(entry: str) -> Backlog:
    destination, channel, cluster_id = entry.split("\t", 2)
    return Backlog(destination=destination, channel=channel, cluster_id=cluster_id)
