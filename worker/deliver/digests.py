"""Digests: when many tasks wait for one Slack channel, one message announces them all — claimed, posted,
then released, so a failure retries the same digest and each transition appears in exactly one, once.

The rule (see :mod:`worker.deliver.backlog` for how tasks come to wait):

1. A channel's drain holds one budget token. If more than ``DIGEST_BACKLOG`` tasks wait (ten seconds of
   the default budget), it *claims* the oldest ``DIGEST_SIZE`` of them (:meth:`DigestClaims.claim`): a
   Redis record with an id fixed now and, per task, the latest routed transition it has pending (what the
   digest shows: a final status with its failure, a start, a step) and the last sequence it covers.
2. The notifier posts the digest under that id (``SlackNotifier.send_digest``; a retry after a failure or
   a crash finds the posted message by its metadata instead of posting again) and marks each task's
   announced transition delivered. Tasks that already have a message of their own get it edited to the
   digested state (one token per edit, after the post: the digest made the news visible first).
3. The claim is released: each task's cursor moves past what the digest covered, the task leaves the
   backlog unless it logged something newer meanwhile (``ChannelBacklog.leave``), and
   :meth:`DigestClaims.forget` deletes the claim.

Until it is released the same claim is retried by every drain — never rebuilt from a backlog that has
grown, which is how a second digest announcing the same tasks used to appear. Tasks that a digest
announced and that have no message of their own get none for their progress; their final status goes
in their own message (with its thread reply) when the channel is calm, or in the next digest.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from integrations.base import Transition
from worker.deliver.backlog import Backlog
from worker.store.keys import Keys
from worker.store.scripts import reply_text

__all__ = ["DIGEST_BACKLOG", "DIGEST_SIZE", "DigestClaim", "DigestClaims", "DigestItem"]

DIGEST_BACKLOG = 10
"""More tasks than this waiting for one channel (10 s of the default budget): announce them in a digest."""
DIGEST_SIZE = 150
"""Tasks per digest message: what one message lists in full within Slack's limits."""


@dataclass(frozen=True)
class DigestItem:
    """One task in a digest: the last sequence covered, and the transition shown (None: nothing routed)."""

    task_key: str
    sequence: int
    transition: Transition | None

    def to_json(self) -> dict[str, object]:
        shown = None if self.transition is None else self.transition.model_dump(mode="json")
        return {"task_key": self.task_key, "sequence": self.sequence, "transition": shown}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DigestItem:
        shown = data.get("transition")
        return cls(
            task_key=str(data["task_key"]),
            sequence=int(str(data["sequence"])),
            transition=None if shown is None else Transition.model_validate(shown),
        )


@dataclass(frozen=True)
class DigestClaim:
    """A digest being delivered: its fixed id, its items, the posted message (once posted), edits done."""

    backlog: Backlog
    digest_id: str
    items: tuple[DigestItem, ...]
    posted_ts: str | None
    edited: frozenset[str]

    @property
    def shown(self) -> tuple[Transition, ...]:
        """The transitions the digest lists, oldest first."""
        return tuple(item.transition for item in self.items if item.transition is not None)


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
        items = tuple(DigestItem.from_json(item) for item in json.loads(fields["items"]))
        edited = frozenset(name.removeprefix("edited:") for name in fields if name.startswith("edited:"))
        return DigestClaim(
            backlog=backlog,
            digest_id=fields["id"],
            items=items,
            posted_ts=fields.get("posted"),
            edited=edited,
        )

    def claim(self, backlog: Backlog, items: Sequence[DigestItem]) -> DigestClaim:
        """Record a new claim of ``items`` (its id fixed now); the open one instead if there is one."""
        key = self._key(backlog)
        fields = {"id": secrets.token_hex(16), "items": json.dumps([item.to_json() for item in items])}
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "items", fields["items"])
            pipe.hsetnx(key, "id", fields["id"])
            pipe.execute()
        found = self.current(backlog)
        if found is None:  # pragma: no cover - the hash was written just above
            raise LookupError(f"digest claim of {backlog.channel} vanished")
        return found

    def mark_posted(self, claim: DigestClaim, *, ts: str) -> DigestClaim:
        """The digest message is in the channel."""
        self._client.hset(self._key(claim.backlog), "posted", ts)
        return DigestClaim(
            backlog=claim.backlog,
            digest_id=claim.digest_id,
            items=claim.items,
            posted_ts=ts,
            edited=claim.edited,
        )

    def mark_edited(self, claim: DigestClaim, *, task_key: str) -> DigestClaim:
        """The task's own message now shows what the digest announced."""
        self._client.hset(self._key(claim.backlog), f"edited:{task_key}", "1")
        return DigestClaim(
            backlog=claim.backlog,
            digest_id=claim.digest_id,
            items=claim.items,
            posted_ts=claim.posted_ts,
            edited=claim.edited | {task_key},
        )

    def forget(self, claim: DigestClaim) -> None:
        """Release the claim once its tasks' cursors moved past it and they left the backlog."""
        self._client.delete(self._key(claim.backlog))

    def _key(self, backlog: Backlog) -> str:
        return self._keys.slack_digest_claim(destination=backlog.destination, channel=backlog.channel)
