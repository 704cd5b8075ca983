"""Digest claims on Redis: the one open digest per (target, channel) backlog, claimed, posted, released.

The rule — when a backlog becomes a digest, what one shows, what follows — is Slack's, in
:mod:`integrations.slack.policy`; this module keeps its claims (:class:`~integrations.base.DigestClaim`)
durable: the id is fixed when the claim is made and the claimed items do not change until
:meth:`DigestClaims.forget`, so a failed post or edit is retried as the same digest, never rebuilt from a
backlog that has grown meanwhile (which is how a second digest announcing the same tasks used to appear),
and each transition appears in exactly one digest, once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence

import redis

from integrations.base import DigestClaim, DigestItem, Transition
from worker.deliver.backlog import Backlog
from worker.store.keys import Keys
from worker.store.scripts import reply_text

__all__ = ["DigestClaims"]


def _item_json(item: DigestItem) -> dict[str, object]:
    shown = None if item.transition is None else item.transition.model_dump(mode="json")
    return {"task_key": item.task_key, "sequence": item.sequence, "transition": shown}


def _item(data: dict[str, object]) -> DigestItem:
    shown = data.get("transition")
    return DigestItem(
        task_key=str(data["task_key"]),
        sequence=int(str(data["sequence"])),
        transition=None if shown is None else Transition.model_validate(shown),
    )


class DigestClaims:
    """The one open digest claim per (destination, channel), in a Redis hash."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def current(self, backlog: Backlog) -> DigestClaim | None:
        """The claim still to be posted, edited or released, if any."""
        fields = {
            reply_text(name): reply_text(value)
            for name, value in self._client.hgetall(self._key(backlog)).items()
        }
        if "id" not in fields or "items" not in fields:
            return None
        items = tuple(_item(item) for item in json.loads(fields["items"]))
        edited = frozenset(name.removeprefix("edited:") for name in fields if name.startswith("edited:"))
        return DigestClaim(digest_id=fields["id"], items=items, posted_ts=fields.get("posted"), edited=edited)

    def claim(self, backlog: Backlog, items: Sequence[DigestItem]) -> DigestClaim:
        """Record a new claim of ``items`` (its id fixed now); the open one instead if there is one."""
        key = self._key(backlog)
        fields = {"id": secrets.token_hex(16), "items": json.dumps([_item_json(item) for item in items])}
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "items", fields["items"])
            pipe.hsetnx(key, "id", fields["id"])
            pipe.execute()
        found = self.current(backlog)
        if found is None:  # pragma: no cover - the hash was written just above
            raise LookupError(f"digest claim of {backlog.channel} vanished")
        return found

    def mark_posted(self, backlog: Backlog, *, ts: str) -> None:
        """The backlog's digest message is in the channel."""
        self._client.hset(self._key(backlog), "posted", ts)

    def mark_edited(self, backlog: Backlog, *, task_key: str) -> None:
        """The task's own message now shows what the backlog's digest announced."""
        self._client.hset(self._key(backlog), f"edited:{task_key}", "1")

    def forget(self, backlog: Backlog) -> None:
        """Release the backlog's claim once its tasks' cursors moved past it and they left the backlog."""
        self._client.delete(self._key(backlog))

    def _key(self, backlog: Backlog) -> str:
        return self._keys.slack_digest_claim(destination=backlog.destination, channel=backlog.channel)
