"""Messages about clusters rather than tasks: a permanent API error, its recovery, and mute summaries
(claimed, posted, then released: see :mod:`worker.deliver.mutes`).

A permanent ListTasks error (ClusterNotFound, NotAuthorized, bad credentials…) would otherwise repeat on
every poll. It is told to each target the cluster's notifications are routed to (the routes, as for its
transitions: :func:`worker.routing.cluster_targets`), and what each target was told is recorded *after* it
accepted the notice (``Keys.api_problem_told``, one field per target): level-triggered, so a notice that
failed (Slack answered 503, a worker was killed mid-post) is told again by the next failing poll, and one
that did arrive is not told twice (the Slack notifier looks for an unanswered attempt's message by its key
before posting again). The same code again is silent; a successful poll tells each target that was told
about the problem that the cluster answers again, then forgets it, so a later relapse is told again.
A target that refuses a notice is logged and counted, never skipped silently: the next poll tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from integrations.base import ApiProblemNotice, ApiRecoveredNotice, ClusterNotice, DeliveryError
from integrations.ehpc.errors import PermanentEhpcError
from worker.ops import metrics
from worker.routing import cluster_targets
from worker.runtime import Runtime
from worker.store.scripts import reply_text

__all__ = ["announce_api_problem", "clear_api_problem", "post_mute_summaries"]

logger = logging.getLogger(__name__)


def _announce(rt: Runtime, notice: ClusterNotice) -> None:
    """Hand ``notice`` to every target's policy (chat targets post it; ticketing vendors ignore it)."""
    for name in rt.targets:
        rt.policy(target_name=name, cluster_id=notice.cluster_id).announce(notice)


def _routed(rt: Runtime, cluster_id: str) -> list[str]:
    return cluster_targets(rt.cluster(cluster_id), rt.config)


def _tell(rt: Runtime, *, target: str, notice: ClusterNotice) -> bool:
    """Give ``notice`` to ``target``; False (logged, counted) when the target did not take it."""
    try:
        rt.policy(target_name=target, cluster_id=notice.cluster_id).announce(notice)
    except DeliveryError as error:
        metrics.record_delivery(target=target, result="retry")
        logger.warning(
            "could not tell %s about cluster %s (%s): %s; the next poll tries again",
            target,
            notice.cluster_id,
            type(notice).__name__,
            error,
            extra={"cluster": notice.cluster_id},
        )
        return False
    return True


def _told(rt: Runtime, cluster_id: str) -> dict[str, str]:
    fields = rt.redis.hgetall(rt.keys.api_problem_told(cluster_id=cluster_id))
    return {reply_text(target): reply_text(code) for target, code in fields.items()}


def announce_api_problem(rt: Runtime, *, cluster_id: str, error: PermanentEhpcError) -> bool:
    """Tell each routed target about ``error`` unless it was told this very code; True if any was told."""
    told = _told(rt, cluster_id)
    due = [target for target in _routed(rt, cluster_id) if told.get(target) != error.code]
    if not due:
        return False
    logger.error("permanent ListTasks error for %s: %s", cluster_id, error, extra={"cluster": cluster_id})
    notice = ApiProblemNotice(
        cluster_id=cluster_id,
        cluster_name=rt.cluster(cluster_id).display_name,
        code=error.code,
        message=error.message,
    )
    key = rt.keys.api_problem_told(cluster_id=cluster_id)
    delivered = False
    for target in due:
        if _tell(rt, target=target, notice=notice):
            rt.redis.hset(key, target, error.code)  # recorded only once the target took it
            delivered = True
    return delivered


def clear_api_problem(rt: Runtime, *, cluster_id: str) -> None:
    """After a successful poll: tell each target told about a problem that the cluster answers again."""
    told = _told(rt, cluster_id)
    key = rt.keys.api_problem_told(cluster_id=cluster_id)
    for target, code in told.items():
        if target not in rt.targets:
            rt.redis.hdel(key, target)  # a target removed from the configuration
            continue
        notice = ApiRecoveredNotice(
            cluster_id=cluster_id, cluster_name=rt.cluster(cluster_id).display_name, code=code
        )
        if _tell(rt, target=target, notice=notice):
            rt.redis.hdel(key, target)


def post_mute_summaries(rt: Runtime, *, now: datetime) -> int:
    """Claim the summary of each mute that ended by ``now``, then announce every claimed summary not yet
    posted (this run's and earlier failures'), each under its claimed id; returns how many were posted.

    A summary is released only after every target's policy announced it; a failure leaves it for the next
    run (beat, every 30 s) and moves on to the other clusters' summaries.
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
                _announce(rt, summary.notice(cluster_name=rt.cluster(cluster_id).display_name))
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
