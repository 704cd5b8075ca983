"""The poll step: read ListTasks for one cluster and feed every page to the diff (:mod:`worker.detect.diff`).

E-HPC 2.0 clusters (``api: 2024-07-30``, or ``auto`` finding one) take the operation-log path of
:mod:`worker.detect.poll2024` instead, under the same lease, metrics and error handling.

:func:`poll_cluster` reads every running page (one Redis round trip per page), looks up each task that
vanished from the running list, sweeps the first archived pages at a lower cadence, and records the
transitions in Redis — with the outbox entry in the same atomic step. Nothing here sleeps or retries: the
Celery task in :mod:`worker.tasks` maps an error to a retry.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime

from integrations.base import Transition
from integrations.ehpc.client import EhpcClient
from integrations.ehpc.errors import EhpcError
from integrations.ehpc.task import Task
from worker.detect.diff import ClusterRef, Source, TaskState
from worker.detect.oplog import OperationMemory
from worker.detect.outcome import PollOutcome
from worker.detect.poll2024 import generation_of, observe_operations
from worker.ops import metrics
from worker.runtime import Runtime

__all__ = ["PollOutcome", "observe_cluster", "poll_cluster", "preview_poll"]

logger = logging.getLogger(__name__)


def poll_cluster(rt: Runtime, *, cluster_id: str, now: datetime) -> PollOutcome:
    """Poll one cluster under its lock and record what changed; a held lock means another poll runs."""
    lease = rt.state.acquire_poll_lease(cluster_id=cluster_id, ttl=rt.poll_lease_ttl)
    if lease is None:
        metrics.record_poll(cluster_id=cluster_id, result="skipped")
        return PollOutcome(skipped=True)
    started = time.monotonic()
    try:
        outcome = _observe(rt, state=rt.state, memory=rt.oplog, cluster_id=cluster_id, now=now, sweep=None)
    except EhpcError as error:  # recorded for /ehpc clusters and metrics; the caller retries or announces
        rt.lookup.record_poll(cluster_id=cluster_id, at=now, error=f"{error.code}: {error.message}")
        metrics.record_poll(cluster_id=cluster_id, result="error", duration=time.monotonic() - started)
        metrics.record_api_error(cluster_id=cluster_id, code=error.code)
        if error.throttled:
            metrics.record_rate_limited(service="ehpc")
        raise
    finally:
        lease.release()
    rt.lookup.record_poll(cluster_id=cluster_id, at=now, error=None)
    metrics.record_poll(cluster_id=cluster_id, result="ok", duration=time.monotonic() - started)
    for transition in outcome.transitions:
        metrics.record_transition(cluster_id=cluster_id, kind=transition.kind.value)
    return outcome


def _observe(
    rt: Runtime,
    *,
    state: TaskState,
    memory: OperationMemory,
    cluster_id: str,
    now: datetime,
    sweep: bool | None,
) -> PollOutcome:
    """Poll with the cluster's API: 2.0 operation logs (:mod:`worker.detect.poll2024`), else ListTasks."""
    if generation_of(rt, cluster_id=cluster_id) == "2.0":
        return observe_operations(
            client=rt.ehpc2024(cluster_id),
            state=state,
            memory=memory,
            cluster=rt.ref(cluster_id),
            now=now,
            overlap=rt.settings.oplog_overlap,
            lookback=rt.settings.oplog_lookback,
        )
    return observe_cluster(
        client=rt.ehpc(cluster_id),
        state=state,
        cluster=rt.ref(cluster_id),
        now=now,
        sweep=_sweep_due(rt, cluster_id=cluster_id) if sweep is None else sweep,
        archive_pages=rt.settings.archive_pages,
    )


def observe_cluster(
    *,
    client: EhpcClient,
    state: TaskState,
    cluster: ClusterRef,
    now: datetime,
    sweep: bool,
    archive_pages: int,
) -> PollOutcome:
    """Read ListTasks for ``cluster`` and feed every page to ``state``; the lock is the caller's."""
    calls_before = client.api_calls
    outcome = PollOutcome()
    first = not state.has_baseline(cluster_id=cluster.cluster_id)

    def observe(tasks: list[Task], source: Source) -> None:
        outcome.transitions += state.observe_page(cluster=cluster, tasks=tasks, now=now, source=source)

    if first or sweep:
        observe(client.list_archived(cluster.cluster_id, max_pages=archive_pages), Source.ARCHIVE)
    seen: set[str] = set()
    for page in client.iter_running_pages(cluster.cluster_id):
        observe(page, Source.RUNNING)
        seen.update(task.task_id for task in page)
    for task_id in sorted(state.running_task_ids(cluster_id=cluster.cluster_id) - seen):
        found = _look_up(client, cluster_id=cluster.cluster_id, task_id=task_id)
        if found is None:
            outcome.unresolved.append(task_id)
        else:
            observe([found], Source.LOOKUP)
    if first:
        state.mark_baseline(cluster_id=cluster.cluster_id)
    outcome.api_calls = client.api_calls - calls_before
    return outcome


def _look_up(client: EhpcClient, *, cluster_id: str, task_id: str) -> Task | None:
    """How a task that left the running list ended; None (retry next poll) when the API can't say."""
    try:
        task = client.get_task(cluster_id, task_id)
    except EhpcError as error:  # any API failure here only postpones this one lookup to the next poll
        logger.warning("lookup of vanished task %s/%s failed: %s", cluster_id, task_id, error)
        return None
    if task is None:
        logger.warning("vanished task %s/%s is unknown to ListTasks; will ask again", cluster_id, task_id)
    return task


def _sweep_due(rt: Runtime, *, cluster_id: str) -> bool:
    """True at most once per ``EHPC_ARCHIVE_INTERVAL`` per cluster, across all workers."""
    interval = int(rt.settings.archive_interval * 1000)
    return bool(rt.redis.set(rt.keys.archive_sweep(cluster_id=cluster_id), "1", nx=True, px=interval))


def preview_poll(rt: Runtime, *, cluster_id: str, now: datetime) -> list[Transition]:
    """The transitions a poll would announce now, computed in a scratch copy of the state (``poll-once``)."""
    scratch = rt.keys.scratch(token=secrets.token_hex(8))
    state = TaskState(client=rt.redis, keys=scratch)
    memory = OperationMemory(client=rt.redis, keys=scratch)
    try:
        outcome = _observe(rt, state=state, memory=memory, cluster_id=cluster_id, now=now, sweep=True)
    finally:
        for key in rt.redis.scan_iter(match=f"{scratch.prefix}:*", count=1000):
            rt.redis.delete(key)
    return outcome.transitions
