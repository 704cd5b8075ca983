"""Where a cluster's listings stand between polls, so a poll that stopped early resumes instead of restarting.

One small JSON document per cluster (:class:`ScanCursor`) and one set (the IDs the running listing in
progress has shown so far). Both are written by :meth:`CursorStore.save` in one script that first checks the
poll's lease: a poll that overran its lease cannot move the cursor of the poll that took over (fenced).

- ``watermark``: the newest task IDs of the last *complete* read of the archived list. A read newest first
  stops at the first page holding one of them: everything older was seen by an earlier poll.
- ``resume``: set when a read stopped before its watermark (throttled, a failed page, out of time). The
  newest IDs of that read, the first page it did not read, and the ``TotalCount`` of its last page. New tasks
  only enter at the head, so the unread place is now ``TotalCount`` growth further back; the next read takes
  the head down to ``resume.top`` and then jumps there (an estimate never past the true place: purges only
  lower the count, which makes it re-read rather than skip).
- ``running``: a running-tasks listing in progress (its :class:`ListingPosition`), resumed on the next poll.
- ``lookups``: vanished tasks a poll still has to look up (left over when it stopped).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from pydantic import BaseModel, ConfigDict

from integrations.ehpc.client import ListingPosition
from worker.detect.diff import PollLeaseLost
from worker.store.keys import Keys
from worker.store.lease import Lease
from worker.store.scripts import SAVE_CURSOR, reply_text

__all__ = ["ArchiveResume", "CursorStore", "ScanCursor", "StoredCursor"]

WATERMARK_SIZE = 10  # newest IDs kept: a few purged or reordered tasks don't lose the place


class ArchiveResume(BaseModel):
    """Where an archived read that stopped early picks up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    top: tuple[str, ...]
    page: int
    total: int | None


class _Position(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    page: int
    previous_total: int | None
    step_backs: int


class ScanCursor(BaseModel):
    """A cluster's scan cursor (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    watermark: tuple[str, ...] = ()
    resume: ArchiveResume | None = None
    running_at: _Position | None = None
    lookups: tuple[str, ...] = ()

    @property
    def running(self) -> ListingPosition | None:
        """The running listing in progress, or None."""
        at = self.running_at
        return None if at is None else ListingPosition(at.page, at.previous_total, at.step_backs)

    def with_running(self, position: ListingPosition | None) -> ScanCursor:
        """This cursor with the running listing at ``position`` (None: none in progress)."""
        at = (
            None
            if position is None
            else _Position(
                page=position.page, previous_total=position.previous_total, step_backs=position.step_backs
            )
        )
        return self.model_copy(update={"running_at": at})


@dataclass
class StoredCursor:
    """A cursor as loaded, with the IDs its running listing in progress has shown."""

    cursor: ScanCursor
    seen_running: set[str] = field(default_factory=set)


class CursorStore:
    """Loads and saves scan cursors (one round trip each)."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._save = client.register_script(SAVE_CURSOR)

    def load(self, *, cluster_id: str) -> StoredCursor:
        """The cluster's cursor; a fresh one when none is stored."""
        pipe = self._client.pipeline(transaction=False)
        pipe.get(self._keys.scan_cursor(cluster_id=cluster_id))
        pipe.smembers(self._keys.scan_seen(cluster_id=cluster_id))
        document, members = pipe.execute()
        cursor = ScanCursor() if document is None else ScanCursor.model_validate_json(document)
        return StoredCursor(cursor=cursor, seen_running={reply_text(member) for member in members})

    def save(
        self,
        *,
        cluster_id: str,
        cursor: ScanCursor,
        seen_running: Iterable[str] = (),
        reset_seen: bool = False,
        fence: Lease | None = None,
    ) -> None:
        """Store ``cursor``, add ``seen_running`` (after clearing the set if ``reset_seen``); fenced."""
        keys = [
            self._keys.poll_lease(cluster_id=cluster_id),
            self._keys.scan_cursor(cluster_id=cluster_id),
            self._keys.scan_seen(cluster_id=cluster_id),
        ]
        args = [fence.token if fence else "", cursor.model_dump_json(), "1" if reset_seen else "0"]
        try:
            self._save(keys=keys, args=[*args, *seen_running])
        except redis.ResponseError as error:
            if str(error).startswith("FENCED"):
                raise PollLeaseLost(
                    f"the poll of {cluster_id} lost its lease; its cursor was not saved"
                ) from None
            raise

    def forget(self, *, cluster_id: str) -> None:
        """Drop the cluster's cursor (its cluster is gone)."""
        self._client.delete(
            self._keys.scan_cursor(cluster_id=cluster_id), self._keys.scan_seen(cluster_id=cluster_id)
        )


def top_ids(task_ids: Iterable[str]) -> tuple[str, ...]:
    """The watermark of a read whose first page listed ``task_ids`` (newest first)."""
    return tuple(list(task_ids)[:WATERMARK_SIZE])
