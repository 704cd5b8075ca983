"""The poll step for E-HPC 2.0 clusters: operation logs in windows → tasks → the same diff as 1.0.

A 2.0 cluster has no ListTasks. Each poll reads the operation logs written since the watermark (minus an
overlap) with :class:`~integrations.ehpc.client2024.EhpcClient2024`, which folds them into one task per
RequestId; then, per operation:

- **new or changed** (its signature — status and newest line — differs from the remembered one): its stages
  are read (``GetCommonLogDetail``) and merged in (progress as stages done, the stages' errors). A failed
  detail read keeps the remembered stages and leaves the signature unchanged, so the next poll tries again;
- **unchanged** (re-read by the overlap): the remembered task, stages included, so the diff sees no change;
- **running but absent** from the window (nothing new written): the remembered task again, so the diff's
  stall rule can see it stay on one stage.

All of it goes to :meth:`~worker.detect.diff.TaskState.observe_page` — the same transitions (started,
progressed, finished, stalled), routing and Slack as 1.0. The first poll is the baseline: operations that
ended before it are recorded silently (source ARCHIVE), running ones announced as the 1.0 baseline does.
The watermark moves to the window's ``To`` only after everything was recorded. Which path a cluster takes
is :func:`generation_of`'s answer (``api:`` in the config, ``EHPC_API``, or ``auto``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from integrations.base import Transition
from integrations.ehpc.client2024 import EhpcClient2024, OperationWindow
from integrations.ehpc.errors import EhpcError, PermanentEhpcError
from integrations.ehpc.operation import with_detail
from integrations.ehpc.task import Generation, Task
from worker.detect.diff import ClusterRef, PollLeaseLost, Source, TaskState
from worker.detect.oplog import OperationMemory, Snapshot
from worker.detect.outcome import PollOutcome
from worker.runtime import Runtime
from worker.store.lease import Lease

__all__ = ["generation_of", "observe_operations"]

logger = logging.getLogger(__name__)

_GENERATION_OF_API: dict[str, Generation] = {"2018-04-12": "1.0", "2024-07-30": "2.0"}


def generation_of(rt: Runtime, *, cluster_id: str) -> Generation:
    """Which API polls the cluster: its ``api:``, else ``EHPC_API``; ``auto`` asks the 2024 API once.

    ``auto``: the 2024 ListClusters' ``EhpcVersion``, remembered in Redis. A cluster it does not list, or a
    2024 API that refuses us (permanently: RAM, not enabled), means 1.0, asked again in an hour. A
    retryable failure propagates: the poll is retried.
    """
    choice = rt.cluster(cluster_id).api or rt.settings.api
    if choice != "auto":
        return _GENERATION_OF_API[choice]
    remembered = rt.oplog.generation(cluster_id=cluster_id)
    if remembered is not None:
        return remembered
    try:
        found = rt.ehpc2024(cluster_id).generation_of(cluster_id)
    except PermanentEhpcError as error:
        logger.warning(
            "cluster %s: the 2024 API can't tell its generation (%s); polling it as 1.0", cluster_id, error
        )
        found = None
    rt.oplog.remember_generation(cluster_id=cluster_id, generation=found or "1.0", known=found is not None)
    logger.info("cluster %s is E-HPC %s%s", cluster_id, found or "1.0", "" if found else " (assumed)")
    return found or "1.0"


def observe_operations(
    *,
    client: EhpcClient2024,
    state: TaskState,
    memory: OperationMemory,
    cluster: ClusterRef,
    now: datetime,
    overlap: float,
    lookback: float,
    lease: Lease | None = None,
    lease_ttl: timedelta = timedelta(seconds=20),
) -> PollOutcome:
    """Read one window of the cluster's operation logs and record what changed.

    The lease is the caller's (None: unfenced, as ``poll-once`` runs it); it is renewed before each API
    call and fences the write, as on the 1.0 path.
    """
    calls_before = client.api_calls
    cluster_id = cluster.cluster_id

    def renew() -> None:
        if lease is not None and not lease.extend(lease_ttl):
            raise PollLeaseLost(f"the poll of {cluster_id} lost its lease; it stops here")

    first = not state.has_baseline(cluster_id=cluster_id)
    renew()
    window = client.list_operations(
        cluster_id, watermark=memory.watermark(cluster_id=cluster_id), overlap=overlap, lookback=lookback
    )
    known = memory.snapshots(cluster_id=cluster_id)
    tasks: list[Task] = []
    changed: list[Snapshot] = []
    for task in window.tasks:
        before = known.get(task.task_id)
        signature = window.signatures[task.task_id]
        if before is not None and before.signature == signature:
            tasks.append(before.task)
            continue
        renew()
        snapshot = _rebuilt(
            client, task, before=before, signature=signature, window=window, lookback=lookback
        )
        tasks.append(snapshot.task)
        changed.append(snapshot)
    in_window = {task.task_id for task in tasks}
    for task_id in sorted(state.running_task_ids(cluster_id=cluster_id) - in_window):
        remembered = known.get(task_id)
        if remembered is not None:  # nothing new written: the same picture, for the stall rule
            tasks.append(remembered.task)
    memory.remember(cluster_id=cluster_id, snapshots=changed)
    transitions: list[Transition] = state.observe_page(
        cluster=cluster,
        tasks=tasks,
        now=now,
        source=Source.ARCHIVE if first else Source.RUNNING,
        fence=lease,
    )
    if first:
        state.mark_baseline(cluster_id=cluster_id)
    memory.raise_watermark(cluster_id=cluster_id, until=window.until)
    memory.forget_before(cluster_id=cluster_id, known=known, before=window.until - 2 * overlap)
    return PollOutcome(transitions=transitions, api_calls=client.api_calls - calls_before, complete=True)


def _rebuilt(
    client: EhpcClient2024,
    task: Task,
    *,
    before: Snapshot | None,
    signature: str,
    window: OperationWindow,
    lookback: float,
) -> Snapshot:
    """The operation with its stages read again; on a failed read, the remembered stages and old signature."""
    until = window.until
    first_seen = before.first_seen if before is not None else float(until)
    try:
        detail = client.get_detail(task.task_id, since=min(first_seen, window.since) - lookback)
    except EhpcError as error:  # only postpones the stages to the next poll
        logger.warning("stages of %s/%s could not be read: %s", task.cluster_id, task.task_id, error)
        kept = task
        if before is not None:
            kept = task.model_copy(
                update={"current_step": before.task.current_step, "stage": before.task.stage}
            )
        old = before.signature if before is not None else ""
        return Snapshot(signature=old, task=kept, first_seen=first_seen, last_seen=float(until))
    built = with_detail(task, detail) if detail is not None else task
    return Snapshot(signature=signature, task=built, first_seen=first_seen, last_seen=float(until))
