"""Slack's delivery policy: progress edits coalesced per task, a per-channel budget, digests, mutes.

The worker's delivery step asks every target's :class:`~integrations.base.DeliveryPolicy` the same
questions; this is Slack's answer (every other vendor sends at once). The stores are the worker's, on Redis,
handed in through :class:`~integrations.base.DeliveryStores`.

Bursts (decided from the backlog a channel has, never from one token's wait):

1. A message that can't have a budget token now — or whose channel already has other tasks waiting, or an
   open digest — is not retried: :meth:`SlackDeliveryPolicy.park` puts its task in the channel's backlog
   and the delivery ends (waiting is never a failed attempt). A progress edit that must wait for the edit
   interval is not parked: the delivery comes back after it, and by then it is usually superseded.
2. The worker drains the backlog, one :meth:`SlackDeliveryPolicy.flush` step at a time. With at most
   :data:`DIGEST_BACKLOG` tasks waiting it delivers the oldest one on its own (its own message, reply and
   all). With more it claims the oldest :data:`DIGEST_SIZE` as one digest — the id fixed at claim time —
   and spends one token per step: post the digest (:meth:`SlackNotifier.send_digest`: posted once under
   that id, found by its metadata after a failure), then edit each claimed task's own message, if it has
   one, to the digested state (its thread reply is the digest), then release the claim (cursors move past
   it). A failed step is retried as the same claim, never rebuilt from a grown backlog.
3. A task a digest announced that has no message of its own gets none for its progress (:meth:`hold`);
   its final status goes in its own message when the channel is calm, or in the next digest.

So a burst of 120 tasks starting and ending together costs a few posts (the budget's burst, then one
digest per :data:`DIGEST_SIZE` tasks for the starts and one for the ends), every failed task is named with
its first error, and no task message is left "in progress".
"""

from __future__ import annotations

from datetime import datetime

from integrations.base import (
    ApiProblemNotice,
    ApiRecoveredNotice,
    ChannelDrain,
    ChannelRecord,
    ClusterNotice,
    DeliveryStores,
    MuteEndedNotice,
    Transition,
    TransitionKind,
)
from integrations.slack.answers import render_mute_summary
from integrations.slack.notifier import REBUILT_EVENT, SlackNotifier
from integrations.slack.render import render_api_recovered, render_cluster_problem, render_state_rebuilt
from integrations.target import NotifierContext, SlackTarget, TargetSetupError

__all__ = [
    "DIGEST_BACKLOG",
    "DIGEST_SIZE",
    "MUTE_SUMMARY_EVENT",
    "SlackChannelHistory",
    "SlackDeliveryPolicy",
    "build_slack_policy",
]

DIGEST_BACKLOG = 10
"""More tasks than this waiting for one channel (10 s of the default budget): announce them in a digest."""
DIGEST_SIZE = 150
"""Tasks per digest message: what one message lists in full (failures with their error) within Slack's
limits."""
MUTE_SUMMARY_EVENT = "ehpc_mute_summary"
"""Message metadata event type of a mute summary (how a retry finds one already posted)."""


class SlackDeliveryPolicy:
    """:class:`~integrations.base.DeliveryPolicy` of one Slack target in one channel."""

    def __init__(self, *, notifier: SlackNotifier, channel: str, stores: DeliveryStores) -> None:
        self._notifier = notifier
        self._channel = channel
        self._stores = stores

    def hold(self, transition: Transition) -> bool:
        """Kept back: a muted cluster's transition (for the summary), or the progress of a task only a
        digest announced (it has no message of its own to edit)."""
        if self._stores.mutes.record_suppressed(transition.task.cluster_id, transition):
            return True
        return transition.kind is TransitionKind.PROGRESSED and not self._notifier.shows_progress(
            transition.task_key
        )

    def wait(self, transition: Transition) -> float:
        """Edit coalescing per task, then the channel's backlog and budget.

        A progress edit waits until ``EHPC_SLACK_EDIT_INTERVAL`` has passed since the task's last edit; by
        then a newer step (or the end) may have superseded it, so a fast task costs a few edits, not one per
        step. Behind other waiting tasks nothing is taken (it will be parked behind them).
        """
        progress = transition.kind is TransitionKind.PROGRESSED
        if progress:
            left = self._stores.edits.remaining(task_key=transition.task_key)
            if left > 0:
                return left
        if self._stores.backlog.ahead(channel=self._channel, task_key=transition.task_key):
            return 1.0
        wait = self._stores.budget.acquire(self._channel)
        if wait == 0 and progress:
            self._stores.edits.wait(task_key=transition.task_key)  # this edit starts the task's interval
        return wait

    def park(self, transition: Transition, *, wait: float) -> bool:
        """Park the task in the channel's backlog, unless it only waits for the edit interval."""
        if transition.kind is TransitionKind.PROGRESSED and self._stores.edits.remaining(
            task_key=transition.task_key
        ):
            return False
        self._stores.backlog.park(channel=self._channel, task_key=transition.task_key)
        return True

    def flush(self, *, now: datetime, drain: ChannelDrain) -> float:
        """One step of draining the channel's backlog (see the module docstring); seconds until the next."""
        claim = drain.open_claim()
        waiting = drain.waiting()
        if claim is None and not waiting:
            return 0.0
        if claim is None and waiting <= DIGEST_BACKLOG:
            return drain.deliver_oldest()
        wait = self._stores.budget.acquire(self._channel)
        if wait > 0:
            return wait
        claim = claim or drain.claim(limit=DIGEST_SIZE)
        if claim.posted_ts is None:
            ts = self._notifier.send_digest(transitions=claim.shown, now=now, digest_id=claim.digest_id)
            drain.mark_posted(claim, ts=ts)
            return 0.0
        for item in claim.items:
            shown = item.transition
            if (
                shown is None
                or item.task_key in claim.edited
                or not self._notifier.has_message(item.task_key)
            ):
                continue
            self._notifier.send(shown)  # edits the task's own message; its reply was the digest
            drain.mark_edited(claim, task_key=item.task_key)
            return 0.0
        drain.release(claim)
        return 0.0

    def announce(self, notice: ClusterNotice) -> None:
        """Post ``notice`` in the channel (one message per problem code; a mute summary once by its id)."""
        match notice:
            case ApiProblemNotice():
                message = render_cluster_problem(
                    cluster_name=notice.cluster_name, code=notice.code, message=notice.message
                )
                self._notifier.post(
                    message, event_type="ehpc_cluster_problem", key=f"{notice.cluster_id}/{notice.code}"
                )
            case ApiRecoveredNotice():
                message = render_api_recovered(cluster_name=notice.cluster_name, code=notice.code)
                self._notifier.post(
                    message, event_type="ehpc_cluster_recovered", key=f"{notice.cluster_id}/{notice.code}/ok"
                )
            case MuteEndedNotice():
                message = render_mute_summary(
                    cluster_name=notice.cluster_name,
                    started_at=notice.started_at,
                    ended_at=notice.ended_at,
                    transitions=notice.transitions,
                    untracked=notice.untracked,
                )
                key = f"mute-summary:{notice.summary_id or notice.cluster_id}"
                self._notifier.post_once(message, event_type=MUTE_SUMMARY_EVENT, key=key)

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
