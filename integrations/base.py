"""What every destination shares: the event it receives, the one-method interface, and its errors.

Error hierarchy (raised by ``Notifier.send``; vendor exceptions never leave ``integrations/<vendor>/``)::

    DeliveryError                 base; the message never contains a secret
    ├── RetryableDeliveryError    429, 5xx, timeouts, dropped connections; ``retry_after`` seconds if the
    │                             vendor said so (Retry-After), else None and the caller backs off
    └── PermanentDeliveryError    any other 4xx, bad credentials, a payload the vendor refuses; retrying
                                  cannot help, so the caller records it and moves on
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from integrations.ehpc.task import Task

__all__ = [
    "DeliveryError",
    "Notifier",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "Transition",
    "TransitionKind",
]


class TransitionKind(StrEnum):
    """What happened to a task between two observations."""

    STARTED = "started"  # first sight of a running task
    PROGRESSED = "progressed"  # CurrentStep advanced
    FINISHED = "finished"  # reached Success / Fail / PartialFail (seen running, vanished, or swept)
    STALLED = "stalled"  # stuck on one step far longer than usual
    LOST = "lost"  # E-HPC no longer reports it (lookups kept failing, or its cluster was deleted): closed


class Transition(BaseModel):
    """One change of one task, announced once per destination.

    ``fingerprint`` identifies the change itself and doubles as the vendor's idempotency key;
    ``task_key`` identifies the task (one Slack message, one Jira issue, one PagerDuty incident per task);
    ``sequence`` orders the changes of one task (1, 2, 3 … with no gaps). ``last_seen`` is set on LOST: when
    E-HPC last reported the task (whose fields then show it as last seen).
    """

    model_config = ConfigDict(frozen=True)

    kind: TransitionKind
    task: Task
    sequence: int = Field(ge=1)
    fingerprint: str
    task_key: str
    cluster_name: str
    cluster_labels: dict[str, str] = Field(default_factory=dict)
    first_seen: datetime
    observed_at: datetime
    previous_step: int | None = None
    last_seen: datetime | None = None


class DeliveryError(Exception):
    """A destination did not accept a transition."""

    def __init__(self, message: str, *, destination: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.destination = destination
        self.status = status


class RetryableDeliveryError(DeliveryError):
    """Trying again later may succeed; ``retry_after`` is the vendor's wish in seconds, if it said."""

    def __init__(
        self,
        message: str,
        *,
        destination: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, destination=destination, status=status)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Trying again cannot help."""


class Notifier(Protocol):
    """A destination: takes one transition and delivers it, idempotently by ``transition.fingerprint``."""

    def send(self, transition: Transition) -> None:
        """Deliver ``transition``; raise a :class:`DeliveryError` subclass when it could not be."""
