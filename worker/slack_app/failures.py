"""``/ehpc failures``' data: the dead letters, and a *Retry* that re-delivers one transition once.

The Slack app reads dead letters through :class:`DeadLetterStore` (list, get, remove by id): the
stream :mod:`worker.deliver.dead_letters` keeps (``ehpc-bridge dead-letters`` lists and retries the same).

A retry (:meth:`Retries.retry`) takes a claim first (``SET NX`` with a TTL), so two presses of the button,
or two replicas of the app, deliver it once; it then sends the transition through its destination's
notifier, whose idempotency key (the fingerprint) makes re-sending something that did arrive harmless, and
forgets the dead letter only once delivered. A failed retry leaves the dead letter where it was and
releases the claim (the person who pressed is told why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import redis

from integrations.base import DeliveryError, Transition
from worker.deliver.dead_letters import DeadLetter
from worker.store.keys import Keys

__all__ = ["DeadLetterStore", "Retries", "RetryOutcome", "RetryResult", "letter_time"]

log = logging.getLogger(__name__)

CLAIM_TTL = 120  # seconds a retry may take before another press may try again


Letters = list[DeadLetter]  # named once: a store's ``list`` method shadows the builtin in class bodies


class DeadLetterStore(Protocol):
    """Where dead letters are kept (:class:`worker.deliver.dead_letters.DeadLetters` in production)."""

    def list(self, *, count: int = ...) -> Letters:
        """The newest ``count``, newest first."""

    def get(self, entry_id: str) -> DeadLetter | None:
        """The dead letter ``entry_id``, or None when it is gone."""

    def remove(self, entry_id: str) -> None:
        """Forget it (delivered by a retry)."""


def letter_time(letter: DeadLetter) -> datetime | None:
    """When ``letter`` was given up on (its ISO 8601 ``at``), None when that does not parse."""
    try:
        return datetime.fromisoformat(letter.at)
    except ValueError:
        return None


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
