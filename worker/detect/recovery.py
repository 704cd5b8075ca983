"""Rebuilding a lost state from the backup of record: the Slack channels' message metadata.

Every task message ehpc-bridge posts carries metadata naming its task and what it shows (``task_key``,
``sequence``, status, step, first sighting, whether it is final; see :mod:`integrations.slack.notifier`).
When Redis has no epoch (:mod:`worker.store.epoch`: FLUSHDB, a failover to an empty replica, or a new
deployment), the first poll, under a global lease, reads each Slack channel's history of the last
:data:`REBUILD_HORIZON` (following ``cursor`` pages) and, per task of a watched cluster:

- records where its message is (so it is edited in place, never posted a second time);
- if the message does not show an end yet, follows the task again at the sequence shown
  (:meth:`worker.detect.diff.TaskState.restore`): the polls then see it progress or end, and its FINISHED is
  announced as it would have been — the message ends showing its final status, with one reply.

Then one notice per channel says the state was rebuilt (not when a notice is already newer than every task
message there: a rebuild that died after posting it), and a new epoch is written. A channel without any
message of ours means a new deployment: nothing to rebuild, no notice. What can't be rebuilt, said plainly:
a channel whose history the bot may not read (its tasks may be posted again; ``ehpc-bridge check`` says
so), destinations other than Slack (their own idempotency keys — ``dedup_key``, ``alias``, labels — keep
them from duplicating), mutes and parked digests.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from integrations.base import ChannelHistory, MessageRef, PermanentDeliveryError
from integrations.target import TargetSetupError
from worker.detect.diff import cluster_of
from worker.runtime import Runtime
from worker.store.epoch import EpochState
from worker.store.lease import Lease

__all__ = ["REBUILD_HORIZON", "ensure_state"]

logger = logging.getLogger(__name__)

# How far back a rebuild reads each channel: as long as a task's state is kept.
REBUILD_HORIZON = timedelta(days=7)
# Long enough for a rebuild of a few busy channels; renewed while channels remain.
_RECOVERY_LEASE = timedelta(minutes=5)


def ensure_state(rt: Runtime, *, now: datetime) -> bool:
    """Before a poll: make sure the state is this deployment's, rebuilding it if it was lost.

    Returns False while another worker is rebuilding (skip this poll; beat queues the next one).
    """
    state = rt.epoch.check(now=now)
    if state is EpochState.RESTARTED:
        logger.warning("Redis restarted (its last second of writes may be lost): first posts look first")
    if state is not EpochState.LOST:
        return True
    lease = Lease.acquire(client=rt.redis, key=rt.keys.recovery_lease(), ttl=_RECOVERY_LEASE)
    if lease is None:
        return False
    try:
        if rt.epoch.check(now=now) is not EpochState.LOST:
            return True  # another worker finished the rebuild just now
        found = sum(
            _rebuild_channel(rt, target_name, cluster_id, now=now, lease=lease)
            for target_name, cluster_id in _channels(rt)
        )
        rt.epoch.create(now=now, rebuilt=found > 0)
    finally:
        lease.release()
    return True


def _channels(rt: Runtime) -> list[tuple[str, str]]:
    """One (Slack target, a cluster posting there) per distinct channel."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for target_name in rt.targets:
        for cluster_id in rt.clusters:
            history = _history(rt, target_name, cluster_id)
            if history is not None:
                seen.setdefault((target_name, history.channel), (target_name, cluster_id))
    return list(seen.values())


def _history(rt: Runtime, target_name: str, cluster_id: str) -> ChannelHistory | None:
    """The target's own record for the cluster, or None (it keeps none, or can't be built: no token or
    channel, so nothing was posted with it; its deliveries say what is missing)."""
    try:
        return rt.policy(target_name=target_name, cluster_id=cluster_id).history()
    except TargetSetupError:
        return None


def _rebuild_channel(rt: Runtime, target_name: str, cluster_id: str, *, now: datetime, lease: Lease) -> int:
    """Restore what one channel shows; returns how many of its task messages Redis had forgotten.

    A message whose ref and task Redis still has (an upgrade from a version without the epoch, or an epoch
    lost with the last second of writes) counts for nothing: then no notice is posted.
    """
    history = _history(rt, target_name, cluster_id)
    if history is None:
        return 0
    lease.extend(_RECOVERY_LEASE)
    try:
        record = history.read_channel(oldest=now - REBUILD_HORIZON)
    except PermanentDeliveryError as error:  # 429/5xx propagate: the poll is retried, the rebuild too
        logger.error("state lost and %s can't be read to rebuild it: %s", target_name, error)
        return 0
    refs = rt.message_refs(target_name)
    channel = history.channel
    followed = forgotten = 0
    for posted in record.tasks:
        watched_cluster = cluster_of(posted.task_key)
        if watched_cluster not in rt.clusters:
            continue
        forgotten += refs.get(posted.task_key) is None
        refs.put(posted.task_key, MessageRef(channel=channel, ts=posted.ts, sequence=posted.sequence))
        if posted.final or posted.sequence < 1:
            continue
        restored = rt.state.restore(
            cluster_id=watched_cluster,
            task_id=posted.task_key.split("/", 1)[1],
            sequence=posted.sequence,
            status=posted.status,
            step=posted.step,
            total=posted.total,
            first_seen=posted.first_seen or now,
            now=now,
        )
        followed += restored
    if not forgotten and not followed:
        return 0  # nothing was lost here (a new deployment, or Redis still knew everything)
    logger.warning(
        "state rebuilt from %s: %d task message(s) found, %d unfinished followed again",
        channel,
        len(record.tasks),
        followed,
    )
    if not record.noticed:
        history.announce_rebuilt(found=len(record.tasks), followed=followed, now=now)
    return forgotten + followed
