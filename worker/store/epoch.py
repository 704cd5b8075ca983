"""Noticing that Redis lost writes: restarted from an append-only file that missed its last second, a
replica promoted, or emptied altogether (FLUSHDB, a failover to an empty replica).

One hash per deployment (:meth:`worker.store.keys.Keys.epoch`) is written when a state is first built and
holds the Redis server's ``run_id`` (new for every redis-server process, and a promoted replica has its
own). :meth:`Epoch.check`, called before each poll and each delivery, compares it with the server's:

- **STEADY** — same server process: nothing was lost.
- **RESTARTED** — another process answers: up to about a second of writes (AOF ``appendfsync everysec``) may
  be gone, among them attempt marks and message refs of posts that did reach Slack. The time is recorded,
  and for :data:`ROLLBACK_WINDOW` after it every first post looks for an earlier copy in the channel first
  (:meth:`Epoch.suspect_since`): transitions logged in the lost second are logged again by the next polls,
  and deliveries that were running are retried, all within that window.
- **LOST** — no epoch at all: either a new deployment, or the state is gone. The caller rebuilds from the
  backup of record, the Slack channels' message metadata (:mod:`worker.detect.recovery`), which also tells
  the two apart (a new deployment has no messages of its own there), then :meth:`Epoch.create`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import redis

from worker.store.keys import Keys
from worker.store.scripts import reply_text

__all__ = ["ROLLBACK_WINDOW", "Epoch", "EpochState"]

# How long after a noticed restart first posts look for an earlier copy before posting.
ROLLBACK_WINDOW = timedelta(minutes=10)


class EpochState(StrEnum):
    """What :meth:`Epoch.check` found."""

    STEADY = "steady"
    RESTARTED = "restarted"
    LOST = "lost"


class Epoch:
    """The deployment's state generation in Redis, compared with the Redis server answering now."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.epoch()

    def check(self, *, now: datetime) -> EpochState:
        """STEADY, RESTARTED (recorded, so the suspect window starts now) or LOST; see the module doc."""
        run_id = self._run_id()
        stored = self._client.hget(self._key, "run_id")
        if stored is None:
            return EpochState.LOST
        if reply_text(stored) == run_id:
            return EpochState.STEADY
        # HSETNX-like guard is not needed: two workers noticing the same restart write the same run_id.
        self._client.hset(self._key, mapping={"run_id": run_id, "restarted_at": f"{now.timestamp():.6f}"})
        return EpochState.RESTARTED

    def create(self, *, now: datetime, rebuilt: bool) -> None:
        """Start a new generation on this server; ``rebuilt`` (after a loss) also opens the suspect window."""
        at = f"{now.timestamp():.6f}"
        fields: dict[str | bytes, str | bytes] = {"id": secrets.token_hex(8), "run_id": self._run_id()}
        fields["created_at"] = at
        if rebuilt:
            fields["restarted_at"] = at
        self._client.hset(self._key, mapping=fields)  # type: ignore[arg-type]  # redis-py's invariant Mapping

    def restarted_at(self) -> str | None:
        """When the last restart or rebuild was noticed (epoch seconds as text), or None."""
        value = self._client.hget(self._key, "restarted_at")
        return None if value is None else reply_text(value)

    def suspect_since(self, *, now: datetime) -> datetime | None:
        """Within :data:`ROLLBACK_WINDOW` of a noticed restart or rebuild: from when an earlier post may
        exist that Redis forgot (an hour before the restart, as Redis may have been down a while); else None.
        """
        value = self._client.hget(self._key, "restarted_at")
        if value is None:
            return None
        restarted = datetime.fromtimestamp(float(reply_text(value)), UTC)
        if now - restarted > ROLLBACK_WINDOW:
            return None
        return restarted - timedelta(hours=1)

    def _run_id(self) -> str:
        """The answering server process's ``run_id``; "" where INFO is not allowed (a managed Redis's ACL):
        then a restart can't be noticed, only a loss, and the module's limits say so."""
        try:
            info = self._client.info("server")
        except redis.ResponseError:
            return ""
        return str(info.get("run_id", ""))
