"""Change detection: compare what ListTasks shows with what Redis remembers, and log each transition once.

:meth:`TaskState.observe_page` sends a whole page to one Lua script
(:data:`worker.store.scripts.OBSERVE_PAGE`): one EVALSHA, one round trip, atomic whatever the page size, so
two workers observing the same page at once still produce each transition exactly once. Per task (``task_key``
= ``<cluster_id>/<task_id>``) Redis holds:

- a hash: ``status``, ``step``, ``total``, ``first_seen``/``last_seen``/``step_since`` (epoch ms),
  ``first_step``, ``seq`` (last transition's sequence), ``final``, ``announce`` (0 for a task recorded
  silently, which then never produces a transition), ``stalled_step``;
- a log list: each transition's JSON, index = sequence - 1. In the same script one outbox entry lists the
  page's changed tasks (:mod:`worker.deliver.outbox`): a transactional outbox, so a crash after the diff loses
  nothing.

Rules, in the order the script applies them:

- A task in the cluster's *finished* set is final and never changes again (no backwards, no second
  announcement). That set outlives the task's hash and log: it keeps the newest ``finished_memory`` task IDs
  per cluster (default 10,000; far more than the archived sweep's few pages can show), so an old task the
  sweep sees again is recognised however old it is. Hashes and logs of final tasks expire after
  ``retention`` (default 7 days); running tasks never expire (never forgotten).
- First sight of a Processing task: STARTED, and its ID joins the cluster's *running* set; the pipeline looks
  up by TaskId every running ID a poll did not see (source LOOKUP). A failed lookup changes nothing.
- First sight of a final task (it started and ended between two polls): one FINISHED, no STARTED. But before
  the cluster's baseline is marked, final tasks from the ARCHIVE sweep are history: remembered silently.
  Before the baseline, new running tasks are announced unless ``announce_running_on_baseline`` is False
  (then they are recorded silently and stay silent to the end).
- A known task turning Success/Fail/PartialFail: FINISHED. CurrentStep higher than recorded: PROGRESSED; a
  lower one is ignored. A task with status Unknown is ignored until it shows a known one.
- STALLED, once per step: same step for at least max(``stall_after``, ``stall_factor`` x the task's own mean
  step duration so far). That mean (not a per-type median) needs no cross-task statistics and adapts to
  slow operations; before the task has advanced once, ``stall_after`` alone applies.

Each transition's ``sequence`` is the task's counter incremented in Lua (1, 2, 3 … no gaps) and its
``fingerprint`` is ``<task_key>/<kind>/<status or step>``, unique because each (kind, detail) occurs once.
In the log, times are epoch seconds with milliseconds (pydantic reads them back as UTC datetimes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import cast

import redis
from pydantic import BaseModel, ConfigDict, Field

from integrations.base import Transition, TransitionKind
from integrations.ehpc.task import Task, TaskStatus, TaskType
from worker.store.keys import Keys
from worker.store.lease import Lease
from worker.store.scripts import OBSERVE_PAGE, RESTORE_TASK, reply_text

__all__ = [
    "LOST_TRANSITION",
    "ClusterRef",
    "PollLeaseLost",
    "Sighting",
    "Source",
    "TaskState",
    "cluster_of",
    "task_key_of",
]

# A log entry standing for a transition delivered before a state loss (:meth:`TaskState.restore`).
LOST_TRANSITION = "{}"


class PollLeaseLost(Exception):
    """The poll's lease is held by another poll now: this one overran it and must stop writing."""


@dataclass(frozen=True)
class Sighting:
    """What was last seen of a tracked task: the task as then, when, and whether it is being announced."""

    task: Task
    last_seen: datetime
    announced: bool


class Source(StrEnum):
    """Where a page of tasks came from; only the baseline treats ARCHIVE differently."""

    RUNNING = "running"  # ListTasks Archived=false
    LOOKUP = "lookup"  # ListTasks TaskId=… for a running task that vanished
    ARCHIVE = "archive"  # ListTasks Archived=true, newest first down to the watermark
    LOST = "lost"  # tasks E-HPC no longer reports, as last seen: each one is closed with a LOST transition


class ClusterRef(BaseModel):
    """The cluster a page belongs to, as transitions name it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster_id: str
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    announce_running_on_baseline: bool | None = None  # None: the TaskState's own setting


def task_key_of(*, cluster_id: str, task_id: str) -> str:
    """The key naming one task everywhere (state, log, outbox, cursors): ``<cluster_id>/<task_id>``."""
    return f"{cluster_id}/{task_id}"


def cluster_of(task_key: str) -> str:
    """The cluster part of a :func:`task_key_of` key."""
    return task_key.split("/", 1)[0]


_CLASS = {TaskStatus.PROCESSING: "R", TaskStatus.UNKNOWN: "U"}  # every other status is final ("F")


def _datetime(ms: int) -> datetime:
    """Exactly the instant the log's ``<seconds>.<ms>`` text means (no float rounding)."""
    return _EPOCH + timedelta(milliseconds=ms)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _step(value: bytes | str | None) -> int | None:
    """A step field of the hash (-1 stands for unknown)."""
    if value is None or int(reply_text(value)) < 0:
        return None
    return int(reply_text(value))


def _ms(value: datetime | timedelta) -> int:
    if isinstance(value, timedelta):
        return int(value.total_seconds() * 1000)
    if value.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(value.timestamp() * 1000)


class TaskState:
    """What Redis remembers of every watched task, and the one place transitions are decided."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        keys: Keys,
        announce_running_on_baseline: bool = True,
        retention: timedelta = timedelta(days=7),
        finished_memory: int = 10_000,
        stall_after: timedelta = timedelta(minutes=10),
        stall_factor: float = 5.0,
    ) -> None:
        self._client = client
        self._keys = keys
        self._observe = client.register_script(OBSERVE_PAGE)
        self._restore = client.register_script(RESTORE_TASK)
        self._settings = [
            "1" if announce_running_on_baseline else "0",
            str(_ms(retention)),
            str(_ms(stall_after)),
            repr(stall_factor),
            str(finished_memory),
        ]

    def observe_page(
        self,
        *,
        cluster: ClusterRef,
        tasks: Sequence[Task],
        now: datetime,
        source: Source,
        fence: Lease | None = None,
    ) -> list[Transition]:
        """Record one page of tasks and return the transitions it caused, in order (one round trip).

        ``fence``: the poll's lease; if another poll holds it now, nothing is written and
        :class:`PollLeaseLost` is raised (a poll that overran its lease must not write over a newer one).
        """
        if not tasks:
            return []
        cluster_id = cluster.cluster_id
        keys = [
            self._keys.running_tasks(cluster_id=cluster_id),
            self._keys.finished_tasks(cluster_id=cluster_id),
            self._keys.baseline(cluster_id=cluster_id),
            self._keys.outbox(),
            self._keys.poll_lease(cluster_id=cluster_id),
        ]
        now_ms = _ms(now)
        cluster_json = json.dumps({"cluster_name": cluster.name, "cluster_labels": cluster.labels})[1:-1]
        facts, documents = [], []
        for task in tasks:
            task_key = task_key_of(cluster_id=cluster_id, task_id=task.task_id)
            keys += [self._keys.task_state(task_key=task_key), self._keys.task_log(task_key=task_key)]
            facts.append(
                [
                    task.task_id,
                    "L" if source is Source.LOST else _CLASS.get(task.status, "F"),
                    task.status.value,
                    -1 if task.current_step is None else task.current_step,
                    -1 if task.total_steps is None else task.total_steps,
                ]
            )
            documents.append(task.model_dump_json())
        settings = list(self._settings)
        if cluster.announce_running_on_baseline is not None:
            settings[0] = "1" if cluster.announce_running_on_baseline else "0"
        args = [now_ms, f"{now_ms / 1000:.3f}", source.value, *settings, cluster_json, cluster_id]
        args.append(fence.token if fence is not None else "")
        try:
            emitted = self._observe(keys=keys, args=[*args, json.dumps(facts), *documents])
        except redis.ResponseError as error:
            if str(error).startswith("FENCED"):
                raise PollLeaseLost(f"the poll of {cluster_id} lost its lease; nothing was written") from None
            raise
        # Built here from the tasks in hand rather than parsed back from the log: half the cost per page.
        observed_at = _datetime(now_ms)
        transitions = []
        for item in emitted:
            index, kind, sequence, first_seen, previous_step, last_seen, fingerprint = reply_text(item).split(
                " ", 6
            )
            task = tasks[int(index) - 1]
            transitions.append(
                Transition(
                    kind=TransitionKind(kind),
                    task=task,
                    sequence=int(sequence),
                    fingerprint=fingerprint,
                    task_key=task_key_of(cluster_id=cluster_id, task_id=task.task_id),
                    cluster_name=cluster.name,
                    cluster_labels=cluster.labels,
                    first_seen=observed_at if int(first_seen) == now_ms else _datetime(int(first_seen)),
                    observed_at=observed_at,
                    previous_step=None if int(previous_step) < 0 else int(previous_step),
                    last_seen=None if int(last_seen) < 0 else _datetime(int(last_seen)),
                )
            )
        return transitions

    def has_baseline(self, *, cluster_id: str) -> bool:
        """True once the cluster's first poll has been recorded (see :meth:`mark_baseline`)."""
        return bool(self._client.exists(self._keys.baseline(cluster_id=cluster_id)))

    def mark_baseline(self, *, cluster_id: str) -> None:
        """Say the cluster's first complete poll (running pages and archived sweep) is recorded."""
        self._client.set(self._keys.baseline(cluster_id=cluster_id), "1")

    def finished_task_ids(self, *, cluster_id: str, since: datetime) -> set[str]:
        """IDs of the cluster's tasks that became final at or after ``since``."""
        key = self._keys.finished_tasks(cluster_id=cluster_id)
        members = cast("list[bytes]", self._client.zrangebyscore(key, _ms(since), "+inf"))
        return {reply_text(member) for member in members}

    def running_task_ids(self, *, cluster_id: str) -> set[str]:
        """IDs of the cluster's tasks last seen running; those missing from a poll get looked up."""
        members = self._client.smembers(self._keys.running_tasks(cluster_id=cluster_id))
        return {reply_text(member) for member in members}

    def last_sightings(self, *, cluster_id: str, task_ids: Sequence[str]) -> dict[str, Sighting]:
        """How each tracked task was last seen (one round trip); unknown IDs are left out.

        An announced task's latest log entry holds it as last seen (every change of step is logged); a
        silent one has no log (nor one restored after a state loss), so a bare task is built from its hash.
        """
        pipe = self._client.pipeline(transaction=False)
        for task_id in task_ids:
            task_key = task_key_of(cluster_id=cluster_id, task_id=task_id)
            pipe.hmget(
                self._keys.task_state(task_key=task_key), "status", "step", "total", "last_seen", "announce"
            )
            pipe.lindex(self._keys.task_log(task_key=task_key), -1)
        replies = pipe.execute()
        found: dict[str, Sighting] = {}
        for index, task_id in enumerate(task_ids):
            (status, step, total, last_seen, announce), last_entry = replies[2 * index : 2 * index + 2]
            if last_seen is None:
                continue
            if last_entry is not None and reply_text(last_entry) != LOST_TRANSITION:
                task = Transition.model_validate_json(last_entry).task
            else:
                raw_status = reply_text(status or b"Processing")
                task = Task(
                    task_id=task_id,
                    cluster_id=cluster_id,
                    task_type=TaskType.UNKNOWN,
                    raw_task_type="",
                    status=TaskStatus(raw_status),  # the hash keeps our own status value
                    raw_status=raw_status,
                    current_step=_step(step),
                    total_steps=_step(total),
                )
            found[task_id] = Sighting(
                task=task,
                last_seen=_datetime(int(reply_text(last_seen))),
                announced=reply_text(announce or b"0") == "1",
            )
        return found

    def record_missed_lookup(self, *, cluster_id: str, task_id: str) -> int:
        """Count one more failed lookup of a vanished task; returns how many in a row so far."""
        key = self._keys.task_state(task_key=task_key_of(cluster_id=cluster_id, task_id=task_id))
        return int(self._client.hincrby(key, "misses", 1))

    def clear_missed_lookups(self, *, cluster_id: str, task_id: str) -> None:
        """A lookup found the task again: its count of failed lookups starts over."""
        key = self._keys.task_state(task_key=task_key_of(cluster_id=cluster_id, task_id=task_id))
        self._client.hdel(key, "misses")

    def transitions_after(self, *, task_key: str, sequence: int) -> list[Transition]:
        """The task's logged transitions with a sequence above ``sequence``, in order."""
        items = self._client.lrange(self._keys.task_log(task_key=task_key), sequence, -1)
        return [Transition.model_validate_json(item) for item in items if reply_text(item) != LOST_TRANSITION]

    def restore(
        self,
        *,
        cluster_id: str,
        task_id: str,
        sequence: int,
        status: str,
        step: int,
        total: int,
        first_seen: datetime,
        now: datetime,
    ) -> bool:
        """Follow a task again after a state loss, as its Slack message shows it (sequence, status, step).

        Its counter resumes at ``sequence`` (the next change is ``sequence + 1``, so it never looks older
        than the message), and the polls look it up like any running task: when it ended meanwhile, its
        FINISHED is announced. Returns False, changing nothing, when Redis still knows the task.
        """
        task_key = task_key_of(cluster_id=cluster_id, task_id=task_id)
        keys = [
            self._keys.task_state(task_key=task_key),
            self._keys.task_log(task_key=task_key),
            self._keys.running_tasks(cluster_id=cluster_id),
            self._keys.finished_tasks(cluster_id=cluster_id),
        ]
        args: list[str | int] = [task_id, sequence, status, step, total, _ms(first_seen), _ms(now)]
        args.append(LOST_TRANSITION)
        return bool(self._restore(keys=keys, args=args))

    def acquire_poll_lease(self, *, cluster_id: str, ttl: timedelta) -> Lease | None:
        """Take the cluster's poll lock, or None while another poll holds it (that poll is then skipped)."""
        return Lease.acquire(client=self._client, key=self._keys.poll_lease(cluster_id=cluster_id), ttl=ttl)
