"""The poll step: read ListTasks for one cluster and feed every page to the diff (:mod:`worker.detect.diff`).

E-HPC 2.0 clusters (``api: 2024-07-30``, or ``auto`` finding one) take the operation-log path of
:mod:`worker.detect.poll2024` instead, under the same lease, metrics and error handling.

What one poll reads, and why (E-HPC 1.0, ListTasks 2018-04-12, pages of 50, newest first by start):

1. **The archived list (``Archived=true``), newest first, down to the watermark** — the newest IDs the
   previous complete read began with (:mod:`worker.detect.cursor`). Every task that started since the last
   poll is at the head of that list, whatever it did meanwhile: a task that started and ended between two
   polls is announced (once, as finished) by the next poll, however many there were (150 in a minute cost 4
   pages, not a missed task). Bounded by page 999 (the API's limit) and by time (one poll interval): when a
   bound stops the read, a warning is logged, ``ehpc_bridge_poll_bounds`` counts it, and the next poll
   resumes where this one stopped.
2. **The running list (``Archived=false``), only when needed**: one archived page of 50 already holds the
   recent running and finished tasks, so the running list is read only when a tracked running task is
   older than the archived pages this poll read (a long CreateCluster behind 50 newer tasks, or a cluster
   with thousands running), and at the first poll (whose archived read is one page of history). So a quiet
   cluster costs **one** ListTasks call per poll, and a cluster whose running tasks are all recent too.
   The alternative — the running list every poll, plus an archived sweep — costs two calls at least, and
   the sweep's fixed page count is what missed tasks on busy clusters.
3. **Lookups by TaskId** of tasks that left a complete running listing without showing up on an archived
   page: how they ended. A task whose lookup keeps failing (purged history, a deleted cluster) is closed
   as LOST after ``lost_after`` failed lookups and costs no call after that.

Measured: ``python -m bench.bench_scale`` (1,000 clusters, 30 s, 100 ms per call) — quiet polls 1.00 call,
busy polls 1.00 (new tasks fit on the first page), change → Slack p95 28.8 s; a naive poller reading every
archived page costs 2.00 calls there, and its cost grows with the history. ``python -m bench.bench_poll``:
one call up to 50 running tasks, then one more per 50 (the running list); 170 tasks ending between two
polls cost 4 calls (``tests/worker/detect/test_poll.py``).

Partial progress is kept: each page is recorded as it arrives (one atomic diff per page), so a throttled
or failed page loses nothing the earlier pages showed — a task proven finished there is announced even
though the listing is incomplete. Where the read stopped is saved in the cursor, and the next attempt (the
Celery retry after the server's retry-after, or the next beat poll) resumes there instead of starting
over. The poll lease is renewed before every call and every write checks it (fenced), so a slow poll is
never overlapped by the next one and one that overran its lease stops without writing.

A cluster that answers ``ClusterNotFound`` after a DeleteCluster was seen running: that task is closed as
finished (Success), the cluster's other open tasks as LOST, and the cluster is not polled again. Without a
DeleteCluster the open tasks are closed as LOST and the error is announced; at the first poll it is a
configuration error (the cluster ID is wrong), said so. Nothing here sleeps or retries: the Celery task in
:mod:`worker.tasks` maps an error to a retry.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from integrations.base import Transition
from integrations.ehpc.client import MAX_PAGE, PAGE_SIZE, EhpcClient, ListedPage, ListingPosition
from integrations.ehpc.client2024 import EhpcClient2024
from integrations.ehpc.errors import EhpcError, PermanentEhpcError, RetryableEhpcError
from integrations.ehpc.task import Task, TaskStatus, TaskType
from worker.detect.cursor import ArchiveResume, CursorStore, top_ids
from worker.detect.diff import ClusterRef, PollLeaseLost, Source, TaskState, task_key_of
from worker.detect.oplog import OperationMemory
from worker.detect.outcome import PollOutcome
from worker.detect.poll2024 import generation_of, observe_operations
from worker.detect.recovery import ensure_state
from worker.ops import metrics
from worker.runtime import Runtime
from worker.store.epoch import ROLLBACK_WINDOW
from worker.store.lease import Lease

__all__ = [
    "POLL_LEASE",
    "PollOutcome",
    "close_missing_cluster",
    "observe_cluster",
    "poll_cluster",
    "preview_poll",
]

logger = logging.getLogger(__name__)

# Renewed before every ListTasks call, so it only has to outlast one call (the SDK's 5 s connect + 10 s
# read timeouts) and the page's diff: a worker killed mid-poll delays the cluster's polls by this much.
POLL_LEASE = timedelta(seconds=20)
MIN_POLL_BUDGET = 10.0  # seconds a poll may read for, at least (else one poll interval)
CLUSTER_NOT_FOUND = "ClusterNotFound"

_T = TypeVar("_T")


class _OutOfTime(Exception):
    """The poll used its time budget; it stops and the next one resumes."""


def poll_cluster(rt: Runtime, *, cluster_id: str, now: datetime, owner: str | None = None) -> PollOutcome:
    """Poll one cluster under its lease and record what changed; a held lease means another poll runs.

    First the state is checked to be this deployment's (:func:`worker.detect.recovery.ensure_state`): after
    a loss it is rebuilt from the Slack channels before anything is observed. ``owner`` (the Celery task
    id): a retry of this poll takes back the lease its first try could not release, Redis having gone away
    meanwhile, instead of skipping itself until the lease expires.
    """
    if not ensure_state(rt, now=now):
        metrics.record_poll(cluster_id=cluster_id, result="skipped")
        return PollOutcome(skipped=True)  # another worker is rebuilding the lost state
    rechecked = _recheck_after_rollback(rt, cluster_id=cluster_id, now=now)
    if rt.redis.exists(rt.keys.cluster_gone(cluster_id=cluster_id)):
        metrics.record_poll(cluster_id=cluster_id, result="gone")
        return PollOutcome(skipped=True, gone=True)
    lease = rt.state.acquire_poll_lease(cluster_id=cluster_id, ttl=POLL_LEASE, owner=owner)
    if lease is None:
        metrics.record_poll(cluster_id=cluster_id, result="skipped")
        return PollOutcome(skipped=True, rechecked=rechecked)
    started = time.monotonic()
    listing = rt.ehpc(cluster_id)
    client: EhpcClient | EhpcClient2024 = listing
    calls_before = client.api_calls
    cluster = rt.ref(cluster_id)
    budget = max(MIN_POLL_BUDGET, rt.poll_interval(cluster_id))
    try:
        if generation_of(rt, cluster_id=cluster_id) == "2.0":  # E-HPC 2.0: operation logs, not ListTasks
            client = rt.ehpc2024(cluster_id)
            calls_before = client.api_calls
            outcome = _observe_operations(
                rt, state=rt.state, memory=rt.oplog, cluster=cluster, now=now, lease=lease
            )
        else:
            outcome = observe_cluster(
                client=listing,
                state=rt.state,
                cursors=rt.cursors,
                cluster=cluster,
                now=now,
                lease=lease,
                deadline=started + budget,
                lost_after=rt.settings.lost_after,
            )
    except PollLeaseLost as error:
        logger.warning("%s", error, extra={"cluster": cluster_id})
        metrics.record_poll(cluster_id=cluster_id, result="fenced")
        return PollOutcome(skipped=True)
    except EhpcError as error:  # recorded for /ehpc clusters and metrics; the caller retries or announces
        metrics.record_api_error(cluster_id=cluster_id, code=error.code)
        if isinstance(error, PermanentEhpcError) and error.code == CLUSTER_NOT_FOUND:
            outcome = close_missing_cluster(rt, cluster=cluster, now=now, lease=lease, error=error)
            _record(rt, cluster_id=cluster_id, outcome=outcome, now=now, started=started, error=None)
            return outcome
        rt.lookup.record_poll(cluster_id=cluster_id, at=now, error=f"{error.code}: {error.message}")
        metrics.record_poll(cluster_id=cluster_id, result="error", duration=time.monotonic() - started)
        if error.throttled:
            metrics.record_rate_limited(service="ehpc")
        raise
    finally:
        metrics.record_api_calls(cluster_id=cluster_id, calls=client.api_calls - calls_before)
        lease.release()
    _record(rt, cluster_id=cluster_id, outcome=outcome, now=now, started=started, error=None)
    outcome.rechecked = rechecked
    return outcome


def _record(
    rt: Runtime, *, cluster_id: str, outcome: PollOutcome, now: datetime, started: float, error: str | None
) -> None:
    rt.lookup.record_poll(cluster_id=cluster_id, at=now, error=error)
    result: metrics.PollResult = "gone" if outcome.gone else "ok" if outcome.complete else "partial"
    metrics.record_poll(cluster_id=cluster_id, result=result, duration=time.monotonic() - started)
    for transition in outcome.transitions:
        metrics.record_transition(cluster_id=cluster_id, kind=transition.kind.value)


def _recheck_after_rollback(rt: Runtime, *, cluster_id: str, now: datetime) -> int:
    """Once per cluster after Redis lost writes: put its running and recently finished tasks back in the
    outbox, so a delivery lost with the broker's messages (or failed while Redis was down) runs again.

    Level-triggered: the dispatcher only schedules tasks with transitions after their cursors, and the
    deliveries look before posting (the suspect window of :mod:`worker.store.epoch`).
    """
    since = rt.epoch.suspect_since(now=now)
    restarted_at = rt.epoch.restarted_at()
    if since is None or restarted_at is None:
        return 0
    marker = rt.keys.rollback_recheck(cluster_id=cluster_id, restarted_at=restarted_at)
    if not rt.redis.set(marker, "1", nx=True, px=int(ROLLBACK_WINDOW.total_seconds() * 1000)):
        return 0
    task_ids = rt.state.running_task_ids(cluster_id=cluster_id)
    task_ids |= rt.state.finished_task_ids(cluster_id=cluster_id, since=since)
    rt.outbox.add(
        task_keys=[task_key_of(cluster_id=cluster_id, task_id=task_id) for task_id in sorted(task_ids)]
    )
    return len(task_ids)


def observe_cluster(
    *,
    client: EhpcClient,
    state: TaskState,
    cursors: CursorStore,
    cluster: ClusterRef,
    now: datetime,
    lease: Lease | None = None,
    deadline: float | None = None,
    lost_after: int = 5,
) -> PollOutcome:
    """Read ListTasks for ``cluster`` as the module docstring says and feed every page to ``state``.

    The lease is the caller's (``None``: unfenced, as ``poll-once`` and benchmarks run it). Stopping at
    ``deadline`` (``time.monotonic()``) returns normally with ``complete`` False; an API error is raised
    after the cursor was saved, so that a retry resumes.
    """
    poll = _Poll(
        client=client,
        state=state,
        cursors=cursors,
        cluster=cluster,
        now=now,
        lease=lease,
        deadline=deadline,
        lost_after=lost_after,
    )
    calls_before = client.api_calls
    try:
        poll.run()
    finally:
        poll.outcome.api_calls = client.api_calls - calls_before
    return poll.outcome


class _Poll:
    """One poll's reading plan and progress (see the module docstring)."""

    def __init__(
        self,
        *,
        client: EhpcClient,
        state: TaskState,
        cursors: CursorStore,
        cluster: ClusterRef,
        now: datetime,
        lease: Lease | None,
        deadline: float | None,
        lost_after: int,
    ) -> None:
        self.client, self.state, self.cursors, self.cluster = client, state, cursors, cluster
        self.cluster_id = cluster.cluster_id
        self.now, self.lease, self.deadline, self.lost_after = now, lease, deadline, lost_after
        self.outcome = PollOutcome()
        stored = cursors.load(cluster_id=self.cluster_id)
        self.cursor = stored.cursor
        self.seen_running = stored.seen_running
        self.new_seen: set[str] = set()
        self.reset_seen = False
        self.archive_seen: set[str] = set()

    def run(self) -> None:
        first = not self.state.has_baseline(cluster_id=self.cluster_id)
        saved = False
        try:
            self.read_archive(first=first)
            if self.cursor.lookups:  # left over by an attempt that stopped: before a new listing starts
                self.look_up_vanished()
            old_running = self.state.running_task_ids(cluster_id=self.cluster_id) - self.archive_seen
            if first or self.cursor.running is not None or old_running:
                self.read_running()
            self.look_up_vanished()
            self.save()
            saved = True
            if first:
                self.state.mark_baseline(cluster_id=self.cluster_id)
            self.outcome.complete = True
        except _OutOfTime:
            self.stopped_at("time")
        finally:
            if not saved and not _lease_lost(self.lease):
                self.save()

    # -- the three reads -----------------------------------------------------------------------------
    def read_archive(self, *, first: bool) -> None:
        """Archived pages newest first down to the watermark (at the first poll: one page of history)."""
        cursor = self.cursor
        resume = cursor.resume
        stop = set(resume.top if resume else cursor.watermark)
        top: tuple[str, ...] | None = None
        page_number, last_total, tail = 1, None, False
        try:
            listed = self.archived_page(page_number)
            top, last_total = top_ids(task.task_id for task in listed.tasks), listed.total_count
            while not (first or listed.last or stop.intersection(_ids(listed))):
                if page_number >= MAX_PAGE:
                    self.stopped_at("pages")
                    break
                page_number += 1
                listed = self.archived_page(page_number)
                last_total = listed.total_count
            if resume is not None and not first and not listed.last and page_number < MAX_PAGE:
                tail, stop = True, set(cursor.watermark)
                page_number = max(page_number + 1, _resume_page(resume, total=last_total))
                listed = self.archived_page(page_number)
                last_total = listed.total_count
                while not (listed.last or stop.intersection(_ids(listed))):
                    if page_number >= MAX_PAGE:
                        self.stopped_at("pages")
                        break
                    page_number += 1
                    listed = self.archived_page(page_number)
                    last_total = listed.total_count
        except BaseException:
            # Covered now: from the head down to the page that failed. With an older gap still unread
            # below a head that failed, keep the older resume point: the head is cheap to read again.
            if top is not None and (tail or resume is None):
                stopped = ArchiveResume(top=top, page=page_number, total=last_total)
                self.cursor = cursor.model_copy(update={"resume": stopped})
            raise
        self.cursor = cursor.model_copy(update={"watermark": top, "resume": None})

    def read_running(self) -> None:
        """The running list, resumed where the last poll left it; vanished tasks join the lookups."""
        position: ListingPosition | None = self.cursor.running
        if position is None:
            position, self.reset_seen, self.seen_running = ListingPosition(), True, set()
        try:
            while position is not None:
                listed = self.running_page(position.page)
                self.observe(listed.tasks, Source.RUNNING)
                self.seen_running.update(_ids(listed))
                self.new_seen.update(_ids(listed))
                position = position.after(listed, cluster_id=self.cluster_id)
        except RetryableEhpcError as error:
            unstable = error.code == "ListingUnstable"
            self.cursor = self.cursor.with_running(None if unstable else position)  # unstable: start over
            raise
        except BaseException:
            self.cursor = self.cursor.with_running(position)
            raise
        tracked = self.state.running_task_ids(cluster_id=self.cluster_id)
        vanished = tracked - self.seen_running - self.archive_seen
        lookups = tuple(sorted(set(self.cursor.lookups) | vanished))
        self.cursor = self.cursor.with_running(None).model_copy(update={"lookups": lookups})
        self.reset_seen, self.new_seen = True, set()

    def look_up_vanished(self) -> None:
        """Ask how each vanished task ended; one whose lookup keeps failing is closed as LOST."""
        pending = list(self.cursor.lookups)
        lost: list[str] = []
        try:
            while pending:
                task_id = pending[0]
                found = self.look_up(task_id)
                if found is None:
                    misses = self.state.record_missed_lookup(cluster_id=self.cluster_id, task_id=task_id)
                    if misses >= self.lost_after:
                        lost.append(task_id)
                else:
                    self.state.clear_missed_lookups(cluster_id=self.cluster_id, task_id=task_id)
                    self.observe([found], Source.LOOKUP)
                pending.pop(0)
        finally:
            self.cursor = self.cursor.model_copy(update={"lookups": tuple(pending)})
            if lost:
                self.close_lost(lost)

    def look_up(self, task_id: str) -> Task | None:
        """The task by TaskId; None (a failed lookup) when E-HPC does not know it or refuses to say."""
        try:
            task = self.call(lambda: self.client.get_task(self.cluster_id, task_id))
        except PermanentEhpcError as error:
            if error.code == CLUSTER_NOT_FOUND:
                raise
            logger.warning("lookup of vanished task %s/%s failed: %s", self.cluster_id, task_id, error)
            return None
        if task is None:
            logger.warning("vanished task %s/%s is unknown to ListTasks", self.cluster_id, task_id)
        return task

    def close_lost(self, task_ids: Sequence[str]) -> None:
        sightings = self.state.last_sightings(cluster_id=self.cluster_id, task_ids=task_ids)
        for task_id, sighting in sightings.items():
            logger.warning(
                "E-HPC no longer reports task %s/%s (last seen %s at %s, %d lookups failed): closed as lost",
                self.cluster_id,
                task_id,
                sighting.task.raw_status,
                sighting.last_seen.isoformat(),
                self.lost_after,
            )
        self.observe([sighting.task for sighting in sightings.values()], Source.LOST)
        self.outcome.lost += list(sightings)

    # -- plumbing ------------------------------------------------------------------------------------
    def archived_page(self, page_number: int) -> ListedPage:
        listed = self.call(
            lambda: self.client.list_page(self.cluster_id, archived=True, page_number=page_number)
        )
        self.observe(listed.tasks, Source.ARCHIVE)
        self.archive_seen.update(_ids(listed))
        return listed

    def running_page(self, page_number: int) -> ListedPage:
        return self.call(
            lambda: self.client.list_page(self.cluster_id, archived=False, page_number=page_number)
        )

    def call(self, request: Callable[[], _T]) -> _T:
        """One ListTasks call, after checking the time budget and renewing (fenced) the lease."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise _OutOfTime
        if self.lease is not None and not self.lease.extend(POLL_LEASE):
            raise PollLeaseLost(f"the poll of {self.cluster_id} lost its lease; it stops here")
        return request()

    def observe(self, tasks: Sequence[Task], source: Source) -> None:
        self.outcome.transitions += self.state.observe_page(
            cluster=self.cluster, tasks=tasks, now=self.now, source=source, fence=self.lease
        )

    def save(self) -> None:
        self.cursors.save(
            cluster_id=self.cluster_id,
            cursor=self.cursor,
            seen_running=self.new_seen,
            reset_seen=self.reset_seen,
            fence=self.lease,
        )
        self.reset_seen, self.new_seen = False, set()

    def stopped_at(self, bound: metrics.PollBound) -> None:
        self.outcome.bound = bound
        metrics.record_poll_bound(cluster_id=self.cluster_id, bound=bound)
        what = "its time budget" if bound == "time" else f"page {MAX_PAGE}, the API's last"
        logger.warning(
            "the poll of %s stopped at %s before reaching what the previous poll saw; %s",
            self.cluster_id,
            what,
            "the next poll resumes there" if bound == "time" else "older tasks cannot be listed",
            extra={"cluster": self.cluster_id},
        )


def _ids(listed: ListedPage) -> list[str]:
    return [task.task_id for task in listed.tasks]


def _resume_page(resume: ArchiveResume, *, total: int | None) -> int:
    """The page where the unread place of a stopped read is now (never past it: see worker.detect.cursor)."""
    if resume.total is None or total is None:
        return 1
    position = (resume.page - 1) * PAGE_SIZE + (total - resume.total)
    return max(1, position // PAGE_SIZE + 1)


def _lease_lost(lease: Lease | None) -> bool:
    return lease is not None and not lease.extend(POLL_LEASE)


def close_missing_cluster(
    rt: Runtime, *, cluster: ClusterRef, now: datetime, lease: Lease | None, error: PermanentEhpcError
) -> PollOutcome:
    """ClusterNotFound: close a seen DeleteCluster as finished and the other open tasks as LOST.

    After a DeleteCluster the cluster is marked gone and never polled again (the one message is that task's
    own end). Without one the open tasks are closed as LOST and the error is raised to be announced; at the
    first poll it is a configuration error, raised with a message that says so.
    """
    cluster_id = cluster.cluster_id
    if not rt.state.has_baseline(cluster_id=cluster_id):
        region = rt.cluster(cluster_id).region or rt.settings.region
        logger.error("configuration error: cluster %s does not exist in region %s", cluster_id, region)
        raise PermanentEhpcError(
            f"cluster {cluster_id} does not exist in region {region}: check its ID and region in "
            "EHPC_CLUSTERS / EHPC_CONFIG (E-HPC answered ClusterNotFound at the first poll)",
            code=CLUSTER_NOT_FOUND,
            http_status=error.http_status,
            request_id=error.request_id,
        ) from None
    open_ids = sorted(rt.state.running_task_ids(cluster_id=cluster_id))
    sightings = rt.state.last_sightings(cluster_id=cluster_id, task_ids=open_ids)
    deleting = [s.task for s in sightings.values() if s.task.task_type is TaskType.DELETE_CLUSTER]
    others = [s.task for s in sightings.values() if s.task.task_type is not TaskType.DELETE_CLUSTER]
    outcome = PollOutcome(complete=True, gone=bool(deleting))
    done = [
        task.model_copy(
            update={"status": TaskStatus.SUCCESS, "raw_status": "Success", "current_step": task.total_steps}
        )
        for task in deleting
    ]
    for tasks, source in ((done, Source.LOOKUP), (others, Source.LOST)):
        outcome.transitions += rt.state.observe_page(
            cluster=cluster, tasks=tasks, now=now, source=source, fence=lease
        )
    outcome.lost = [task.task_id for task in others]
    if not deleting:
        raise error
    rt.redis.set(rt.keys.cluster_gone(cluster_id=cluster_id), deleting[0].task_id)
    rt.cursors.forget(cluster_id=cluster_id)
    logger.info(
        "cluster %s was deleted (DeleteCluster %s succeeded), %d other open task(s) closed as lost; "
        "it is not polled again",
        cluster_id,
        deleting[0].task_id,
        len(others),
    )
    return outcome


def _observe_operations(
    rt: Runtime,
    *,
    state: TaskState,
    memory: OperationMemory,
    cluster: ClusterRef,
    now: datetime,
    lease: Lease | None,
) -> PollOutcome:
    """The E-HPC 2.0 path (:mod:`worker.detect.poll2024`) with this runtime's client and settings."""
    return observe_operations(
        client=rt.ehpc2024(cluster.cluster_id),
        state=state,
        memory=memory,
        cluster=cluster,
        now=now,
        overlap=rt.settings.oplog_overlap,
        lookback=rt.settings.oplog_lookback,
        lease=lease,
        lease_ttl=POLL_LEASE,
    )


def preview_poll(rt: Runtime, *, cluster_id: str, now: datetime) -> list[Transition]:
    """The transitions a poll would announce now, computed in a scratch copy of the state (``poll-once``)."""
    scratch = rt.keys.scratch(token=secrets.token_hex(8))
    state = TaskState(client=rt.redis, keys=scratch)
    try:
        if generation_of(rt, cluster_id=cluster_id) == "2.0":
            memory = OperationMemory(client=rt.redis, keys=scratch)
            cluster = rt.ref(cluster_id)
            outcome = _observe_operations(
                rt, state=state, memory=memory, cluster=cluster, now=now, lease=None
            )
        else:
            outcome = observe_cluster(
                client=rt.ehpc(cluster_id),
                state=state,
                cursors=CursorStore(client=rt.redis, keys=scratch),
                cluster=rt.ref(cluster_id),
                now=now,
            )
    finally:
        for key in rt.redis.scan_iter(match=f"{scratch.prefix}:*", count=1000):
            rt.redis.delete(key)
    return outcome.transitions
