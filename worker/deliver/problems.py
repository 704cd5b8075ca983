"""Messages about clusters rather than tasks: a permanent API error (once per change) and mute summaries
(claimed, posted, then released: see :mod:`worker.deliver.mutes`).

A permanent ListTasks error (ClusterNotFound, NotAuthorized, bad credentials…) would otherwise repeat on
every poll. The cluster's last announced error code is kept in Redis: a new code is announced once in the
cluster's channel, the same code again is silent, and a successful poll clears it so a later relapse is
announced again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from integrations.base import DeliveryError
from integrations.ehpc.errors import PermanentEhpcError
from integrations.slack.notifier import SlackNotifier
from integrations.slack.render import render_cluster_problem
from integrations.target import SlackTarget
from worker.runtime import Runtime

__all__ = ["MUTE_SUMMARY_EVENT", "announce_api_problem", "clear_api_problem", "post_mute_summaries"]

MUTE_SUMMARY_EVENT = "ehpc_mute_summary"
"""Slack message metadata event type of a mute summary (how a retry finds one already posted)."""

logger = logging.getLogger(__name__)


def _slack_notifiers(rt: Runtime, *, cluster_id: str) -> list[SlackNotifier]:
    notifiers = []
    for name, target in rt.targets.items():
        if isinstance(target, SlackTarget):
            notifier = rt.notifier(target_name=name, cluster_id=cluster_id)
            if isinstance(notifier, SlackNotifier):
                notifiers.append(notifier)
    return notifiers


def announce_api_problem(rt: Runtime, *, cluster_id: str, error: PermanentEhpcError) -> bool:
    """Announce ``error`` in the cluster's Slack channel unless this very code was the last announced."""
    previous = rt.redis.getset(rt.keys.api_problem(cluster_id=cluster_id), error.code)
    if (
        previous is not None
        and (previous.decode() if isinstance(previous, bytes) else previous) == error.code
    ):
        return False
    logger.error("permanent ListTasks error for %s: %s", cluster_id, error, extra={"cluster": cluster_id})
    message = render_cluster_problem(
        cluster_name=rt.cluster(cluster_id).display_name, code=error.code, message=error.message
    )
    for notifier in _slack_notifiers(rt, cluster_id=cluster_id):
        notifier.post(message, event_type="ehpc_cluster_problem", key=f"{cluster_id}/{error.code}")
    return True


def clear_api_problem(rt: Runtime, *, cluster_id: str) -> None:
    """Forget the last announced error after a successful poll."""
    rt.redis.delete(rt.keys.api_problem(cluster_id=cluster_id))


def post_mute_summaries(rt: Runtime, *, now: datetime) -> int:
    """Claim the summary of each mute that ended by ``now``, then post every claimed summary not yet
    posted (this run's and earlier failures'), each under its claimed id; returns how many were posted.

    A summary is released only after it was posted to every Slack target of its cluster; a failure leaves
    it for the next run (beat, every 30 s) and moves on to the other clusters' summaries.
    """
    rt.mutes.expire_due(now)
    posted = 0
    for summary in rt.mutes.pending():
        lease = rt.mutes.lease(summary)
        if lease is None:
            continue  # another worker is posting it
        cluster_id = summary.mute.cluster_id
        try:
            if cluster_id in rt.clusters:
                message = summary.render(cluster_name=rt.cluster(cluster_id).display_name)
                for notifier in _slack_notifiers(rt, cluster_id=cluster_id):
                    key = f"mute-summary:{summary.summary_id}"
                    notifier.post_once(message, event_type=MUTE_SUMMARY_EVENT, key=key)
            else:
                logger.warning("dropping the mute summary of %s: no longer watched", cluster_id)
            rt.mutes.release(summary)
            posted += 1
        except DeliveryError as error:
            logger.warning(
                "mute summary %s not posted yet, will retry: %s",
                summary.summary_id,
                error,
                extra={"cluster": cluster_id},
            )
        finally:
            lease.release()
    return posted
