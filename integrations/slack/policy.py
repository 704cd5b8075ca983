"""Slack's delivery policy: progress edits coalesced per task, a per-channel budget, digests, mutes.

The worker's delivery step asks every target's :class:`~integrations.base.DeliveryPolicy` the same
questions; this is Slack's answer (every other vendor sends at once). The stores are the worker's, on Redis,
handed in through :class:`~integrations.base.DeliveryStores`.

The digest rule (when a burst exceeds the budget, e.g. 500 node tasks finishing at once):

1. A FINISHED transition whose channel would make it wait more than :data:`DIGEST_AFTER` seconds
   (:func:`wants_digest`) is parked instead of being retried on its own, and the caller schedules one
   :meth:`SlackDeliveryPolicy.flush` with the countdown the budget gave.
2. The flush takes a token, claims the oldest parked transitions under a per-channel lock, posts ONE digest
   message for them (:meth:`SlackNotifier.send_digest`) and forgets exactly those. If more are parked, the
   caller flushes again at the next token.
3. Afterwards each parked transition still goes through the notifier's ordinary ``send``: a task that has a
   parent message gets it edited in place (``chat.update``, not a post), and its thread reply is skipped
   because the digest delivered it; a task without one is done.

Nothing is dropped: parked transitions stay in Redis until a digest containing them was posted. A worker
dying between posting and forgetting leaves them parked; the next flush claims the same set (same order), so
the notifier finds its digest by metadata and does not post it twice. STARTED/PROGRESSED transitions are
never parked: they edit their own message and are merely delayed.
"""

from __future__ import annotations

from datetime import datetime

from integrations.base import (
    ApiProblemNotice,
    ChannelRecord,
    ClusterNotice,
    DeliveryStores,
    MuteEndedNotice,
    Transition,
    TransitionKind,
)
from integrations.slack.answers import render_mute_summary
from integrations.slack.notifier import REBUILT_EVENT, SlackNotifier
from integrations.slack.render import render_cluster_problem, render_state_rebuilt
from integrations.target import NotifierContext, SlackTarget, TargetSetupError

__all__ = ["DIGEST_AFTER", "SlackChannelHistory", "SlackDeliveryPolicy", "build_slack_policy", "wants_digest"]

DIGEST_AFTER = 20.0
"""Seconds of wait beyond which a finished task goes into the channel's digest instead of its own post."""


def wants_digest(*, transition: Transition, wait: float, threshold: float = DIGEST_AFTER) -> bool:
    """True when ``transition`` should be parked for its channel's digest rather than retried alone."""
    return transition.kind is TransitionKind.FINISHED and wait > threshold


class SlackDeliveryPolicy:
    """:class:`~integrations.base.DeliveryPolicy` of one Slack target in one channel."""

    def __init__(self, *, notifier: SlackNotifier, channel: str, stores: DeliveryStores) -> None:
        self._notifier = notifier
        self._channel = channel
        self._stores = stores

    def hold(self, transition: Transition) -> bool:
        """While its cluster is muted a transition is kept for the summary posted when the mute ends."""
        return self._stores.mutes.record_suppressed(transition.task.cluster_id, transition)

    def wait(self, transition: Transition) -> float:
        """Edit coalescing per task, then the channel's budget.

        A progress edit waits until ``EHPC_SLACK_EDIT_INTERVAL`` has passed since the task's last edit; by
        then a newer step (or the end) may have superseded it, so a fast task costs a few edits, not one per
        step.
        """
        if transition.kind is TransitionKind.PROGRESSED:
            wait = self._stores.edits.wait(task_key=transition.task_key)
            if wait > 0:
                return wait
        return self._stores.budget.acquire(self._channel)

    def park(self, transition: Transition, *, wait: float) -> bool:
        """Park a finished task facing a long wait for the channel's digest."""
        if not wants_digest(transition=transition, wait=wait):
            return False
        self._stores.digests.park(channel=self._channel, transition=transition)
        return True

    def flush(self, *, now: datetime) -> float:
        """Post one digest of the parked transitions; seconds until the next flush (0.0: nothing left)."""
        digests = self._stores.digests
        wait = self._stores.budget.acquire(self._channel)
        if wait > 0:
            return wait
        claim = digests.claim(channel=self._channel)
        if claim is None:
            return 1.0 if digests.pending(channel=self._channel) else 0.0  # another flush holds the lock
        try:
            self._notifier.send_digest(transitions=claim.transitions, now=now)
            for transition in claim.transitions:
                self._notifier.send(transition)  # edits the task's own message; its reply was the digest
        except BaseException:
            digests.abandon(claim)
            raise
        digests.done(claim)
        return 1.0 if digests.pending(channel=self._channel) else 0.0

    def announce(self, notice: ClusterNotice) -> None:
        """Post ``notice`` in the channel (idempotent by its key: one message per problem code or mute)."""
        match notice:
            case ApiProblemNotice():
                message = render_cluster_problem(
                    cluster_name=notice.cluster_name, code=notice.code, message=notice.message
                )
                self._notifier.post(
                    message, event_type="ehpc_cluster_problem", key=f"{notice.cluster_id}/{notice.code}"
                )
            case MuteEndedNotice():
                message = render_mute_summary(
                    cluster_name=notice.cluster_name,
                    started_at=notice.started_at,
                    ended_at=notice.ended_at,
                    transitions=notice.transitions,
                )
                self._notifier.post(message, event_type="ehpc_mute_summary", key=f"{notice.cluster_id}/mute")

    def history(self) -> SlackChannelHistory:
        """The channel, whose message metadata is the backup of record for a lost state."""
        return SlackChannelHistory(self._notifier)


class SlackChannelHistory:
    """:class:`~integrations.base.ChannelHistory` of one Slack channel, through its notifier."""

    def __init__(self, notifier: SlackNotifier) -> None:
        self._notifier = notifier

    @property
    def channel(self) -> str:
        """The channel."""
        return self._notifier.channel

    def check_history(self) -> str:
        """``conversations.history`` can be read (membership and scopes)."""
        return self._notifier.check_history()

    def read_channel(self, *, oldest: datetime) -> ChannelRecord:
        """The newest message of each task since ``oldest``."""
        return self._notifier.read_channel(oldest=oldest)

    def announce_rebuilt(self, *, found: int, followed: int, now: datetime) -> None:
        """One "state rebuilt" notice in the channel."""
        notice = render_state_rebuilt(found=found, followed=followed)
        self._notifier.post(notice, event_type=REBUILT_EVENT, key=f"rebuilt:{now.timestamp():.0f}")


def build_slack_policy(
    target: SlackTarget, *, notifier: SlackNotifier, context: NotifierContext
) -> SlackDeliveryPolicy:
    """The registry's policy factory for a Slack target, in the channel ``context.scope``."""
    if context.stores_for is None:
        raise TargetSetupError(f"target {target.name!r}: the worker gave no delivery stores")
    return SlackDeliveryPolicy(
        notifier=notifier, channel=context.scope, stores=context.stores_for(target.name)
    )
