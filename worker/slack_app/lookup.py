"""Answers for ``/ehpc`` from what Redis already knows, fast enough for Slack's 3-second window.

Reads what :mod:`worker.detect.diff` writes (per-task hash and transition log, the cluster's running and
finished sets), the Slack message refs the notifier records (for ``/ehpc history``'s links) and, for
``/ehpc clusters`` and ``status``, the per-cluster health hash that the poll records through
:meth:`Lookup.record_poll`. Every answer costs one pipelined round trip, whatever the number of tasks.

A task's card shows the latest ``Task`` snapshot in its log with the hash's newer status and step laid over
it; a task recorded silently (history at the first poll) has no snapshot, so its card is built from the hash
alone (type unknown until the live refresh fills it in). TaskIds are found without an index: the hash key
of every cluster visible to the asker is probed in the same round trip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis

from integrations.base import Transition
from integrations.ehpc.task import Task, TaskStatus, TaskType
from integrations.slack.answers import ClusterHealth, TaskRecord
from integrations.slack.overview import ClusterStatus
from worker.detect.diff import LOST_TRANSITION, task_key_of
from worker.store.keys import Keys
from worker.store.scripts import reply_text

__all__ = ["RECENT_LIMIT", "BoardRow", "FinishedTask", "Lookup"]

RECENT_LIMIT = 100  # finished tasks ``/ehpc tasks <cluster> all`` looks at, newest first
_MAX_ERROR = 500


@dataclass(frozen=True)
class BoardRow:
    """A cluster to put on the status board, and how old its last good poll may be before it is stale."""

    cluster_id: str
    name: str
    stale_after: timedelta


@dataclass(frozen=True)
class FinishedTask:
    """A finished task as ``/ehpc history`` shows it; ``message`` is its Slack ``(channel, ts)``, if any."""

    record: TaskRecord
    finished_at: datetime
    message: tuple[str, str] | None


class Lookup:
    """Read-only views of the task state for the Slack app (plus the poll-health record it shows)."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def find_task(self, task_id: str, *, cluster_ids: Sequence[str]) -> TaskRecord | None:
        """The task with this TaskId on one of ``cluster_ids`` (the asker's visible clusters), if recorded."""
        records = self._records([(cluster_id, task_id) for cluster_id in cluster_ids])
        return next(iter(records), None)

    def running(self, cluster_id: str) -> list[TaskRecord]:
        """The cluster's tasks last seen running, newest first."""
        members = self._client.smembers(self._keys.running_tasks(cluster_id=cluster_id))
        return _newest_first(self._records([(cluster_id, reply_text(task_id)) for task_id in members]))

    def recent(self, cluster_id: str, *, limit: int = RECENT_LIMIT) -> list[TaskRecord]:
        """Running tasks and the ``limit`` most recently finished ones still remembered, newest first."""
        pipe = self._client.pipeline(transaction=False)
        pipe.smembers(self._keys.running_tasks(cluster_id=cluster_id))
        pipe.zrevrange(self._keys.finished_tasks(cluster_id=cluster_id), 0, limit - 1)
        running, finished = pipe.execute()
        task_ids = dict.fromkeys(reply_text(task_id) for task_id in [*running, *finished])
        return _newest_first(self._records([(cluster_id, task_id) for task_id in task_ids]))

    def health(self, clusters: Sequence[tuple[str, str]]) -> list[ClusterHealth]:
        """Last poll, last error, running count and mute end of each ``(cluster_id, name)``."""
        pipe = self._client.pipeline(transaction=False)
        for cluster_id, _ in clusters:
            pipe.hgetall(self._keys.cluster_health(cluster_id=cluster_id))
            pipe.scard(self._keys.running_tasks(cluster_id=cluster_id))
            pipe.hget(self._keys.mute(cluster_id=cluster_id), "until")
        replies = pipe.execute()
        now = datetime.now(UTC)
        answers = []
        for index, (cluster_id, name) in enumerate(clusters):
            fields = _decode(replies[3 * index])
            muted = replies[3 * index + 2]
            until = _time(reply_text(muted)) if muted is not None else None
            answers.append(
                ClusterHealth(
                    cluster_id=cluster_id,
                    name=name,
                    last_poll=_time(fields["polled_at"]) if "polled_at" in fields else None,
                    last_error=fields.get("error") or None,
                    running=int(replies[3 * index + 1]),
                    muted_until=until if until is not None and until > now else None,
                )
            )
        return answers

    def record_poll(self, *, cluster_id: str, at: datetime, error: str | None) -> None:
        """Remember a poll's time and outcome for ``/ehpc clusters`` and ``status`` (``error``: code and
        message); a successful poll is also the last good one, a failed one keeps the last good one."""
        stamp = f"{at.timestamp():.3f}"
        self._client.hset(
            self._keys.cluster_health(cluster_id=cluster_id),
            mapping={
                "polled_at": stamp,
                "error": (error or "")[:_MAX_ERROR],
                "error_at" if error else "ok_at": stamp,
            },
        )

    def board(self, clusters: Sequence[BoardRow], *, now: datetime) -> list[ClusterStatus]:
        """Each cluster's last good poll, latest error, running tasks and mute: two round trips in all."""
        pipe = self._client.pipeline(transaction=False)
        for row in clusters:
            pipe.hgetall(self._keys.cluster_health(cluster_id=row.cluster_id))
            pipe.smembers(self._keys.running_tasks(cluster_id=row.cluster_id))
            pipe.hget(self._keys.mute(cluster_id=row.cluster_id), "until")
        replies = pipe.execute()
        running_ids = [
            [(row.cluster_id, reply_text(task_id)) for task_id in replies[3 * index + 1]]
            for index, row in enumerate(clusters)
        ]
        records = self._records([pair for pairs in running_ids for pair in pairs])
        by_cluster: dict[str, list[TaskRecord]] = {}
        for record in records:
            by_cluster.setdefault(record.task.cluster_id, []).append(record)
        answers = []
        for index, row in enumerate(clusters):
            fields = _decode(replies[3 * index])
            muted = replies[3 * index + 2]
            until = _time(reply_text(muted)) if muted is not None else None
            answers.append(
                ClusterStatus(
                    cluster_id=row.cluster_id,
                    name=row.name,
                    last_ok=_time(fields["ok_at"]) if fields.get("ok_at") else None,
                    last_error=fields.get("error") or None,
                    error_at=_time(fields["error_at"]) if fields.get("error_at") else None,
                    running=[record.task for record in _newest_first(by_cluster.get(row.cluster_id, []))],
                    muted_until=until if until is not None and until > now else None,
                    stale_after=row.stale_after,
                )
            )
        return answers

    def finished(
        self, cluster_id: str, *, count: int, since: datetime | None, destinations: Sequence[str]
    ) -> list[FinishedTask]:
        """The newest ``count`` finished tasks (finished at or after ``since``), each with the Slack message
        of the first of ``destinations`` that has one: two round trips."""
        key = self._keys.finished_tasks(cluster_id=cluster_id)
        low = f"{int(since.timestamp() * 1000)}" if since is not None else "-inf"
        finished = cast(
            "list[tuple[bytes, float]]",
            self._client.zrevrangebyscore(key, "+inf", low, start=0, num=count, withscores=True),
        )
        ordered = [(reply_text(task_id), _time_ms(str(int(score)))) for task_id, score in finished]
        records = {
            r.task.task_id: r for r in self._records([(cluster_id, task_id) for task_id, _ in ordered])
        }
        pipe = self._client.pipeline(transaction=False)
        for task_id, _ in ordered:
            task_key = task_key_of(cluster_id=cluster_id, task_id=task_id)
            for destination in destinations:
                pipe.hmget(
                    self._keys.slack_message(destination=destination, task_key=task_key), ["channel", "ts"]
                )
        refs = pipe.execute()
        answers = []
        for index, (task_id, finished_at) in enumerate(ordered):
            record = records.get(task_id)
            if record is None:
                continue  # its state expired; the finished set remembers the ID only
            found = [
                (reply_text(channel), reply_text(ts))
                for channel, ts in refs[index * len(destinations) : (index + 1) * len(destinations)]
                if channel is not None and ts is not None
            ]
            answers.append(
                FinishedTask(record=record, finished_at=finished_at, message=next(iter(found), None))
            )
        return answers

    def _records(self, pairs: Sequence[tuple[str, str]]) -> list[TaskRecord]:
        """Hash and last log entry of each ``(cluster_id, task_id)``, one round trip; unknown ones omitted."""
        pipe = self._client.pipeline(transaction=False)
        for cluster_id, task_id in pairs:
            task_key = task_key_of(cluster_id=cluster_id, task_id=task_id)
            pipe.hgetall(self._keys.task_state(task_key=task_key))
            pipe.lindex(self._keys.task_log(task_key=task_key), -1)
        replies = pipe.execute()
        records = []
        for index, (cluster_id, task_id) in enumerate(pairs):
            fields = _decode(replies[2 * index])
            if "status" in fields:
                records.append(_record(cluster_id, task_id, fields, replies[2 * index + 1]))
        return records


def _record(cluster_id: str, task_id: str, fields: Mapping[str, str], last: bytes | str | None) -> TaskRecord:
    status = _status(fields["status"])
    step, total = _count(fields.get("step")), _count(fields.get("total"))
    if last is not None and reply_text(last) != LOST_TRANSITION:
        snapshot = Transition.model_validate_json(last).task
        task = snapshot.model_copy(update={"status": status, "current_step": step, "total_steps": total})
    else:
        task = Task(
            task_id=task_id,
            cluster_id=cluster_id,
            task_type=TaskType.UNKNOWN,
            raw_task_type="",
            status=status,
            raw_status=fields["status"],
            current_step=step,
            total_steps=total,
        )
    return TaskRecord(
        task=task,
        first_seen=_time_ms(fields.get("first_seen")),
        last_seen=_time_ms(fields.get("last_seen")),
    )


def _newest_first(records: list[TaskRecord]) -> list[TaskRecord]:
    return sorted(records, key=lambda record: (record.first_seen, record.task.task_id), reverse=True)


def _status(value: str) -> TaskStatus:
    try:
        return TaskStatus(value)
    except ValueError:
        return TaskStatus.UNKNOWN


def _count(value: str | None) -> int | None:
    """State stores a missing step count as -1."""
    if value is None or int(value) < 0:
        return None
    return int(value)


def _decode(fields: Any) -> dict[str, str]:
    return {reply_text(name): reply_text(value) for name, value in cast("Mapping[Any, Any]", fields).items()}


def _time(epoch_seconds: str) -> datetime:
    return datetime.fromtimestamp(float(epoch_seconds), UTC)


def _time_ms(epoch_ms: str | None) -> datetime:
    return datetime.fromtimestamp(int(epoch_ms or 0) / 1000, UTC)
