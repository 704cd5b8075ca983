"""What was given up on: transitions a destination refused for good, or that kept failing past their limit.

A dead letter is never silent: it is logged, counted (``ehpc_bridge_dead_letters_total{target}``), and kept
in a Redis stream (``Keys.dead_letters``) for ``ehpc-bridge dead-letters`` to list and, once the cause is
fixed, to retry (``--retry ID`` sends the transition again through the destination's notifier, whose
idempotency key makes a retry of something that did arrive harmless). The stream is capped at
``DEAD_LETTER_CAP`` entries (oldest trimmed first, counted in ``ehpc_bridge_capped_total{what}``), so a
destination that refuses everything for weeks can't fill Redis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis

from integrations.base import Transition
from worker.ops import metrics
from worker.store.keys import Keys
from worker.store.scripts import reply_text

__all__ = ["DEAD_LETTER_CAP", "DeadLetter", "DeadLetters"]

DEAD_LETTER_CAP = 10_000


@dataclass(frozen=True)
class DeadLetter:
    """One given-up transition: its stream id, destination, when, why, and the transition itself."""

    entry_id: str
    destination: str
    at: str
    error: str
    transition: Transition


class DeadLetters:
    """The dead-letter stream."""

    def __init__(self, *, client: redis.Redis, keys: Keys, cap: int = DEAD_LETTER_CAP) -> None:
        self._client = client
        self._key = keys.dead_letters()
        self._cap = cap

    def add(self, *, destination: str, transition: Transition, error: str, now: datetime) -> str:
        """Keep ``transition`` as given up on for ``destination``; returns its id."""
        fields = {
            "destination": destination,
            "at": now.isoformat(),
            "error": error,
            "transition": transition.model_dump_json(),
        }
        with self._client.pipeline(transaction=True) as pipe:
            pipe.xlen(self._key)
            pipe.xadd(self._key, fields, maxlen=self._cap, approximate=False)  # type: ignore[arg-type]
            before, entry_id = pipe.execute()
        if int(before) >= self._cap:
            metrics.record_capped(what="dead_letters")
        metrics.record_dead_letter(target=destination)
        return reply_text(entry_id)

    def list(self, *, count: int = 100) -> list[DeadLetter]:
        """The newest ``count`` dead letters, newest first."""
        entries = cast("list[Any]", self._client.xrevrange(self._key, count=count))
        return [_letter(entry_id, fields) for entry_id, fields in entries]

    def get(self, entry_id: str) -> DeadLetter | None:
        """The dead letter ``entry_id``, or None."""
        entries = cast("list[Any]", self._client.xrange(self._key, min=entry_id, max=entry_id))
        return _letter(*entries[0]) if entries else None

    def remove(self, entry_id: str) -> None:
        """Forget a dead letter (it was delivered by a retry)."""
        self._client.xdel(self._key, entry_id)

    def size(self) -> int:
        """How many dead letters are kept."""
        return int(self._client.xlen(self._key))


def _letter(entry_id: bytes | str, fields: dict[bytes | str, bytes | str]) -> DeadLetter:
    decoded = {reply_text(name): reply_text(value) for name, value in fields.items()}
    return DeadLetter(
        entry_id=reply_text(entry_id),
        destination=decoded["destination"],
        at=decoded["at"],
        error=decoded["error"],
        transition=Transition.model_validate(json.loads(decoded["transition"])),
    )
