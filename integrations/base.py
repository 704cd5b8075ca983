"""What every destination shares: the event it receives, the one-method interface, its errors, and its seams.

Every target goes through the same door: the registry builds its :class:`Notifier` and its
:class:`DeliveryPolicy`, and the worker's delivery step asks the policy about each transition, for every
target alike. Most vendors send at once (:class:`SendNow`); Slack's policy coalesces progress edits, keeps a
per-channel budget, parks floods for a digest and holds what a muted cluster does. The Redis stores a
policy or notifier needs are defined here as protocols and handed in by ``worker/``, so ``integrations/``
never imports ``worker/``.

Error hierarchy (raised by ``Notifier.send``; vendor exceptions never leave ``integrations/<vendor>/``)::

    DeliveryError                 base; the message never contains a secret
    ├── RetryableDeliveryError    429, 5xx, timeouts, dropped connections; ``retry_after`` seconds if the
    │                             vendor said so (Retry-After), else None and the caller backs off
    └── PermanentDeliveryError    any other 4xx, bad credentials, a payload the vendor refuses; retrying
                                  cannot help, so the caller records it and moves on
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from integrations.ehpc.task import Task

__all__ = [
    "ApiProblemNotice",
    "ApiRecoveredNotice",
    "BacklogGate",
    "ChannelBudgetStore",
    "ChannelDrain",
    "ChannelHistory",
    "ChannelRecord",
    "ClusterNotice",
    "DeliveryError",
    "DeliveryPolicy",
    "DeliveryStores",
    "DigestClaim",
    "DigestItem",
    "EditGate",
    "MessageRef",
    "MessageRefStore",
    "MuteEndedNotice",
    "MuteGate",
    "Notifier",
    "PermanentDeliveryError",
    "PostedTask",
    "RetryableDeliveryError",
    "SendNow",
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


@dataclass(frozen=True)
class ApiProblemNotice:
    """A permanent ListTasks error on a cluster (ClusterNotFound, bad credentials…), told once per code."""

    cluster_id: str
    cluster_name: str
    code: str
    message: str


@dataclass(frozen=True)
class MuteEndedNotice:
    """A cluster's mute ended: what happened on it meanwhile (oldest first), under the summary id claimed
    when it ended (announcing it again with that id posts nothing new); ``untracked``: changes beyond what
    a mute keeps, counted only."""

    cluster_id: str
    cluster_name: str
    started_at: datetime
    ended_at: datetime
    transitions: tuple[Transition, ...]
    summary_id: str = ""
    untracked: int = 0


@dataclass(frozen=True)
class ApiRecoveredNotice:
    """A cluster whose permanent ListTasks error was announced answers again."""

    cluster_id: str
    cluster_name: str
    code: str  # the error that was announced


ClusterNotice = ApiProblemNotice | ApiRecoveredNotice | MuteEndedNotice
"""Something to tell about a cluster rather than one of its tasks."""


class DeliveryPolicy(Protocol):
    """How one target paces its deliveries; the delivery step asks it about every transition, in order.

    For each routed transition: :meth:`hold` (kept back, e.g. the cluster is muted: the cursor moves on),
    else :meth:`wait` (seconds before it may be sent; 0 = now), and when it must wait, :meth:`park` (True:
    the task now waits in its channel's backlog, and the worker's drain calls :meth:`flush` until it is
    empty; False: the delivery comes back after the wait). None of them sleeps.
    """

    def hold(self, transition: Transition) -> bool:
        """True when ``transition`` is kept back instead of sent (the policy has recorded it)."""

    def wait(self, transition: Transition) -> float:
        """Seconds until ``transition`` may be sent; 0.0 means now (and any budget was taken)."""

    def park(self, transition: Transition, *, wait: float) -> bool:
        """True when ``transition``, facing ``wait``, was parked for :meth:`flush` rather than retried."""

    def flush(self, *, now: datetime, drain: ChannelDrain) -> float:
        """Spend one step on what was parked (``drain``): seconds until the next step, 0.0 to go on now."""

    def announce(self, notice: ClusterNotice) -> None:
        """Tell the target about a cluster (an API problem, a mute that ended), if it tells people such."""

    def history(self) -> ChannelHistory | None:
        """The record this target keeps of what it showed (Slack: its channel), or None if it keeps none."""


class SendNow:
    """The policy of a target that sends every transition at once and hears nothing about clusters."""

    def hold(self, transition: Transition) -> bool:
        """Nothing is held."""
        return False

    def wait(self, transition: Transition) -> float:
        """No wait."""
        return 0.0

    def park(self, transition: Transition, *, wait: float) -> bool:
        """Nothing is parked."""
        return False

    def flush(self, *, now: datetime, drain: ChannelDrain) -> float:
        """Nothing is parked, so nothing to flush."""
        return 0.0

    def announce(self, notice: ClusterNotice) -> None:
        """Cluster notices are for chat destinations."""

    def history(self) -> ChannelHistory | None:
        """No record of its own: its vendor's idempotency keys keep it from duplicating."""
        return None


@dataclass(frozen=True)
class MessageRef:
    """Where a task's message lives and the ``sequence`` of the transition it last showed."""

    channel: str
    ts: str
    sequence: int


class MessageRefStore(Protocol):
    """The task → message mapping, attempt marks, and thread replies already posted (one per target)."""

    def get(self, task_key: str) -> MessageRef | None:
        """The task's message, or None when none was recorded."""

    def put(self, task_key: str, ref: MessageRef) -> None:
        """Record (or move forward) the task's message."""

    def begin(self, task_key: str, item: str, *, at: datetime) -> datetime | None:
        """Note an attempt to post ``item`` starting ``at``; returns when an earlier attempt whose outcome
        is unknown began (its message may exist), or None when there was none."""

    def forget(self, task_key: str, item: str) -> None:
        """Drop the attempt mark of ``item``: the vendor answered that nothing was posted."""

    def reply(self, task_key: str, fingerprint: str) -> str | None:
        """The ts of the reply (or digest) that delivered ``fingerprint``, or None."""

    def put_reply(self, task_key: str, fingerprint: str, ts: str) -> None:
        """Record that ``fingerprint`` was delivered by the message ``ts``."""


class EditGate(Protocol):
    """At most one progress edit per task per interval (one per target)."""

    def wait(self, *, task_key: str) -> float:
        """0.0 and the interval starts now, or the seconds left of the current one (nothing taken)."""

    def remaining(self, *, task_key: str) -> float:
        """Seconds left of the task's current interval (0.0: none), starting nothing."""


class ChannelBudgetStore(Protocol):
    """A message budget per channel, shared by every worker."""

    def acquire(self, channel: str) -> float:
        """Take one message's worth for ``channel``: 0.0 if granted, else seconds to wait (none taken)."""


@dataclass(frozen=True)
class DigestItem:
    """One task in a digest: the last sequence it covers, and the transition shown (None: nothing routed)."""

    task_key: str
    sequence: int
    transition: Transition | None


@dataclass(frozen=True)
class DigestClaim:
    """A digest being delivered for one channel's backlog: its id (fixed when claimed), its items, the
    posted message's ts once posted, and the tasks whose own message was already edited to match."""

    digest_id: str
    items: tuple[DigestItem, ...]
    posted_ts: str | None = None
    edited: frozenset[str] = frozenset()

    @property
    def shown(self) -> tuple[Transition, ...]:
        """The transitions the digest lists, oldest waiting first."""
        return tuple(item.transition for item in self.items if item.transition is not None)


class BacklogGate(Protocol):
    """The tasks waiting for a channel's budget (one backlog per target and channel)."""

    def park(self, *, channel: str, task_key: str) -> None:
        """Add the task to the channel's backlog (it keeps its place if it is there already)."""

    def ahead(self, *, channel: str, task_key: str) -> bool:
        """True when other tasks wait before ``task_key`` or a digest of the channel is open."""


class ChannelDrain(Protocol):
    """The worker's side of draining one channel's backlog (cursors, logs, claims), for a policy's flush."""

    def waiting(self) -> int:
        """How many tasks wait."""

    def open_claim(self) -> DigestClaim | None:
        """The digest claimed and not yet released, if any."""

    def claim(self, *, limit: int) -> DigestClaim:
        """Claim the oldest ``limit`` waiting tasks as one digest (the open claim, if there is one)."""

    def deliver_oldest(self) -> float:
        """Deliver the task that waited longest on its own; seconds until the drain should go on."""

    def mark_posted(self, claim: DigestClaim, *, ts: str) -> None:
        """The digest message is in the channel."""

    def mark_edited(self, claim: DigestClaim, *, task_key: str) -> None:
        """The task's own message now shows what the digest announced."""

    def release(self, claim: DigestClaim) -> None:
        """Move each claimed task's cursor past the digest, take it out of the backlog, forget the claim."""


class MuteGate(Protocol):
    """Cluster mutes set from the Slack app."""

    def record_suppressed(self, cluster_id: str, transition: Transition) -> bool:
        """True when the cluster is muted: ``transition`` was kept for the summary instead."""


@dataclass(frozen=True)
class DeliveryStores:
    """The shared stores a pacing policy works with, scoped to one target by the worker."""

    edits: EditGate
    budget: ChannelBudgetStore
    backlog: BacklogGate
    mutes: MuteGate
    refs: MessageRefStore


@dataclass(frozen=True)
class PostedTask:
    """A task's parent message found in the channel, as its metadata describes the task it shows."""

    task_key: str
    ts: str
    sequence: int
    status: str
    step: int
    total: int
    first_seen: datetime | None
    final: bool


@dataclass(frozen=True)
class ChannelRecord:
    """What a channel's history says (:meth:`ChannelHistory.read_channel`): the newest message of each task,
    and whether a "state rebuilt" notice is newer than all of them (then it need not be posted again)."""

    tasks: list[PostedTask]
    noticed: bool


class ChannelHistory(Protocol):
    """A destination's own record of what it showed, read back to rebuild a lost state (Slack's channel).

    ``check`` asks :meth:`check_history` whether it can be read; a rebuild reads it with
    :meth:`read_channel` and says so once with :meth:`announce_rebuilt`.
    """

    @property
    def channel(self) -> str:
        """Where the record is kept."""

    def check_history(self) -> str:
        """Read a little of it; raise a :class:`PermanentDeliveryError` saying what is missing."""

    def read_channel(self, *, oldest: datetime) -> ChannelRecord:
        """The newest message of each task since ``oldest``."""

    def announce_rebuilt(self, *, found: int, followed: int, now: datetime) -> None:
        """Tell the channel that the state was rebuilt from it (``found`` messages, ``followed`` again)."""
