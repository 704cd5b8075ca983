"""``/ehpc failures``' data: the dead letters, and a *Retry* that re-delivers one transition once.

The Slack app reads dead letters through :class:`DeadLetterStore` (list, get, remove by id). Today's
store is the Redis list ``Keys.dead_letters`` that :mod:`worker.deliver.delivery` pushes JSON entries onto
(:class:`ListDeadLetters`; an entry's id is a hash of its bytes, stable while it is kept).

A retry (:meth:`Retries.retry`) takes a claim first (``SET NX`` with a TTL), so two presses of the button,
or two replicas of the app, deliver it once; it then sends the transition through its destination's
notifier, whose idempotency key (the fingerprint) makes re-sending something that did arrive harmless, and
forgets the dead letter only once delivered. A failed retry leaves the dead letter where it was (with the
new reason) and releases the claim.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, cast

import redis

from integrations.base import DeliveryError, Transition
from worker.store.keys import Keys

__all__ = ["DeadLetter", "DeadLetterStore", "ListDeadLetters", "Retries", "RetryOutcome", "RetryResult"]

log = logging.getLogger(__name__)

READ_LIMIT = 200  # dead letters looked at per answer, newest first
CLAIM_TTL = 120  # seconds a retry may take before another press may try again


@dataclass(frozen=True)
class DeadLetter:
    """One given-up transition: its id, destination, when (ISO 8601), why, and the transition."""

    entry_id: str
    destination: str
    at: str
    error: str
    transition: Transition

    @property
    def at_time(self) -> datetime | None:
        """``at`` as a time, None when it does not parse."""
        try:
            return datetime.fromisoformat(self.at)
        except ValueError:
            return None


Letters = list[DeadLetter]  # named once: the stores' ``list`` method shadows the builtin in class bodies
_Entries = list[tuple[bytes, DeadLetter]]


class DeadLetterStore(Protocol):
    """Where dead letters are kept."""

    def list(self, *, count: int = ...) -> Letters:
        """The newest ``count``, newest first."""

    def get(self, entry_id: str) -> DeadLetter | None:
        """The dead letter ``entry_id``, or None when it is gone."""

    def remove(self, entry_id: str) -> None:
        """Forget it (delivered by a retry)."""


class ListDeadLetters:
    """:class:`DeadLetterStore` over the Redis list of JSON entries (newest first, ``LPUSH``)."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.dead_letters()

    def list(self, *, count: int = READ_LIMIT) -> Letters:
        return [letter for _, letter in self._entries(count)]

    def get(self, entry_id: str) -> DeadLetter | None:
        return next((letter for _, letter in self._entries(READ_LIMIT) if letter.entry_id == entry_id), None)

    def remove(self, entry_id: str) -> None:
        for raw, letter in self._entries(READ_LIMIT):
            if letter.entry_id == entry_id:
                self._client.lrem(self._key, 1, raw)  # type: ignore[arg-type]  # redis-py takes bytes too
                return

    def _entries(self, count: int) -> _Entries:
        raws = cast("list[bytes]", self._client.lrange(self._key, 0, count - 1))
        entries = []
        for raw in raws:
            letter = _letter(raw)
            if letter is not None:
                entries.append((raw, letter))
        return entries


def _letter(raw: bytes) -> DeadLetter | None:
    try:
        fields: dict[str, Any] = json.loads(raw)
        transition = Transition.model_validate(fields["transition"])
    except (ValueError, KeyError, TypeError):
        log.warning("skipping a dead letter that does not parse")
        return None
    return DeadLetter(
        entry_id=hashlib.sha256(raw).hexdigest()[:20],
        destination=str(fields.get("destination", "")),
        at=str(fields.get("at", "")),
        error=str(fields.get("error", "")),
        transition=transition,
    )


class RetryOutcome(StrEnum):
    """What a press of *Retry* did."""

    DELIVERED = "delivered"
    GONE = "gone"  # delivered by an earlier retry, or no longer kept
    BUSY = "busy"  # another retry of it is under way
    FAILED = "failed"


@dataclass(frozen=True)
class RetryResult:
    """The outcome, the dead letter it concerned (if found), and the new error of a failed retry."""

    outcome: RetryOutcome
    letter: DeadLetter | None = None
    error: str = ""


Redeliver = Callable[[str, Transition], None]


class Retries:
    """Re-delivers a dead letter once: claim, send through ``redeliver(destination, transition)``, forget."""

    def __init__(
        self, *, store: DeadLetterStore, client: redis.Redis, keys: Keys, redeliver: Redeliver
    ) -> None:
        self._store = store
        self._client = client
        self._keys = keys
        self._redeliver = redeliver

    def retry(self, letter: DeadLetter) -> RetryResult:
        """Deliver ``letter`` again unless another retry holds it or it is already gone."""
        claim = self._keys.dead_letter_retry(letter_id=letter.entry_id)
        if not self._client.set(claim, "1", nx=True, ex=CLAIM_TTL):
            return RetryResult(RetryOutcome.BUSY, letter)
        try:
            if self._store.get(letter.entry_id) is None:
                return RetryResult(RetryOutcome.GONE, letter)
            try:
                self._redeliver(letter.destination, letter.transition)
            except DeliveryError as error:
                log.warning(
                    "retry of dead letter %s to %s failed: %s", letter.entry_id, letter.destination, error
                )
                return RetryResult(RetryOutcome.FAILED, letter, str(error))
            self._store.remove(letter.entry_id)
            log.info("dead letter %s re-delivered to %s", letter.entry_id, letter.destination)
            return RetryResult(RetryOutcome.DELIVERED, letter)
        finally:
            self._client.delete(claim)
