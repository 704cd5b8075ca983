"""Answers from Redis, seeded through the state tracker: tasks by TaskId, running and recent lists, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from integrations.ehpc.task import Task, TaskStatus, TaskType
from worker.deliver.mutes import Mutes
from worker.detect.diff import ClusterRef, Source, TaskState
from worker.slack_app.lookup import Lookup
from worker.store.keys import Keys

CLUSTER = "ehpc-hz-test0001"
OTHER = "ehpc-sh-test0002"
NOW = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


def _task(number: int, status: TaskStatus = TaskStatus.PROCESSING, *, cluster_id: str = CLUSTER) -> Task:
    return Task(
        task_id=f"{number:08X}-3155-4B94-95D0-4B73D4D2A1B2",
        cluster_id=cluster_id,
        task_type=TaskType.STOP_COMPUTES,
        raw_task_type="StopComputes",
        status=status,
        raw_status=status.value,
        current_step=2,
        total_steps=6,
    )


def _seed(client: redis.Redis, keys: Keys, *tasks: Task, at: datetime, announce: bool = True) -> None:
    state = TaskState(client=client, keys=keys, announce_running_on_baseline=announce)
    cluster = ClusterRef(cluster_id=tasks[0].cluster_id, name="Prod")
    state.observe_page(cluster=cluster, tasks=list(tasks), now=at, source=Source.RUNNING)


def test_a_task_is_found_on_whichever_visible_cluster_has_it(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = Keys(prefix=redis_prefix)
    _seed(redis_client, keys, _task(1, cluster_id=OTHER), at=NOW)
    lookup = Lookup(client=redis_client, keys=keys)

    record = lookup.find_task(_task(1).task_id, cluster_ids=[CLUSTER, OTHER])

    assert record is not None
    assert record.task == _task(1, cluster_id=OTHER)
    assert record.first_seen == NOW
    assert lookup.find_task(_task(1).task_id, cluster_ids=[CLUSTER]) is None


def test_running_tasks_come_newest_first(redis_client: redis.Redis, redis_prefix: str) -> None:
    keys = Keys(prefix=redis_prefix)
    _seed(redis_client, keys, _task(1), at=NOW)
    _seed(redis_client, keys, _task(1), _task(2), at=NOW + timedelta(minutes=1))
    running = Lookup(client=redis_client, keys=keys).running(CLUSTER)
    assert [record.task.task_id for record in running] == [_task(2).task_id, _task(1).task_id]


def test_a_task_recorded_silently_still_answers_from_its_hash(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = Keys(prefix=redis_prefix)
    _seed(redis_client, keys, _task(7), at=NOW, announce=False)  # running at the first poll, not announced
    lookup = Lookup(client=redis_client, keys=keys)

    (record,) = lookup.running(CLUSTER)

    assert record.task.status is TaskStatus.PROCESSING
    assert record.task.task_type is TaskType.UNKNOWN  # no snapshot: the live refresh fills it in
    assert (record.task.current_step, record.task.total_steps) == (2, 6)
    assert lookup.recent(CLUSTER) == [record]


def test_health_shows_last_poll_error_running_count_and_mute(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = Keys(prefix=redis_prefix)
    _seed(redis_client, keys, _task(1), _task(2), at=NOW)
    lookup = Lookup(client=redis_client, keys=keys)
    lookup.record_poll(cluster_id=CLUSTER, at=NOW, error="NotAuthorized: RAM denies")
    now = datetime.now(UTC)
    Mutes(client=redis_client, keys=keys).mute(
        cluster_id=CLUSTER, until=now + timedelta(hours=1), reason="", user_id="U0", now=now
    )

    prod, other = lookup.health([(CLUSTER, "Prod"), (OTHER, "Lab")])

    assert (prod.last_poll, prod.last_error, prod.running) == (NOW, "NotAuthorized: RAM denies", 2)
    assert prod.muted_until is not None
    assert (other.last_poll, other.last_error, other.running, other.muted_until) == (None, None, 0, None)


def test_a_successful_poll_clears_the_last_error(redis_client: redis.Redis, redis_prefix: str) -> None:
    lookup = Lookup(client=redis_client, keys=Keys(prefix=redis_prefix))
    lookup.record_poll(cluster_id=CLUSTER, at=NOW, error="Throttling")
    lookup.record_poll(cluster_id=CLUSTER, at=NOW + timedelta(seconds=30), error=None)
    (health,) = lookup.health([(CLUSTER, "Prod")])
    assert health.last_error is None
    assert health.last_poll == NOW + timedelta(seconds=30)
