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

from integrations.base import ApiProblemNotice, ClusterNotice, DeliveryError
from integrations.ehpc.errors import PermanentEhpcError
from worker.runtime import Runtime

__all__ = ["announce_api_problem", "clear_api_problem", "post_mute_summaries"]

logger = logging.getLogger(__name__)


def _announce(rt: Runtime, notice: ClusterNotice) -> None:
    """Hand ``notice`` to every target's policy (chat targets post it; ticketing vendors ignore it)."""
    for name in rt.targets:
        rt.policy(target_name=name, cluster_id=notice.cluster_id).announce(notice)


def announce_api_problem(rt: Runtime, *, cluster_id: str, error: PermanentEhpcError) -> bool:
    """Announce ``error`` in the cluster's Slack channel unless this very code was the last announced."""
    previous = rt.redis.getset(rt.keys.api_problem(cluster_id=cluster_id), error.code)
    if (
        previous is not None
        and (previous.decode() if isinstance(previous, bytes) else previous) == error.code
    ):
        return False
    logger.error("permanent ListTasks error for %s: %s", cluster_id, error, extra={"cluster": cluster_id})
    notice = ApiProblemNotice(
        cluster_id=cluster_id,
        cluster_name=rt.cluster(cluster_id).display_name,
        code=error.code,
        message=error.message,
    )
    _announce(rt, notice)
    return True


def clear_api_problem(rt: Runtime, *, cluster_id: str) -> None:
    """Forget the last announced error after a successful poll."""
    rt.redis.delete(rt.keys.api_problem(cluster_id=cluster_id))


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
