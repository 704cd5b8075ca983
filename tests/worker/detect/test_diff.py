"""Change detection against the real Redis: each rule of worker.detect.diff, one scenario per test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis

from integrations.base import Transition, TransitionKind
from integrations.ehpc.schema import RawTask
from integrations.ehpc.task import Task, normalize
from tests.fixtures.environment import REDIS_URL
from tests.fixtures.redis_counting import CountingRedis
from worker.detect.diff import ClusterRef, PollLeaseLost, Source, TaskState, task_key_of
from worker.store.keys import Keys

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CLUSTER = ClusterRef(cluster_id="ehpc-hz-test", name="test cluster", labels={"team": "hpc"})


def _task(task_id: str, status: str = "Processing", step: int | None = 1, total: int = 10) -> Task:
    raw = RawTask(
        TaskId=task_id,
        ClusterId=CLUSTER.cluster_id,
        TaskType="AddComputes",
        Status=status,
        CurrentStep=step,
        TotalSteps=total,
        Result="{}",
        Errors="[]",
        Request="{}",
    )
    return normalize(raw)


def _kinds(transitions: list[Transition]) -> list[tuple[str, TransitionKind]]:
    return [(t.task.task_id, t.kind) for t in transitions]


@pytest.fixture
def keys(redis_prefix: str) -> Keys:
    return Keys(prefix=redis_prefix)


@pytest.fixture
def counting_redis() -> Iterator[CountingRedis]:
    counter = CountingRedis.connect(url=REDIS_URL)
    yield counter
    counter.client.close()


@pytest.fixture
def state(redis_client: redis.Redis, keys: Keys) -> TaskState:
    """A state whose cluster already has its baseline (the usual case after the first poll)."""
    state = TaskState(client=redis_client, keys=keys)
    state.mark_baseline(cluster_id=CLUSTER.cluster_id)
    return state


def _observe(
    state: TaskState, tasks: list[Task], *, at: datetime = T0, source: Source = Source.RUNNING
) -> list[Transition]:
    return state.observe_page(cluster=CLUSTER, tasks=tasks, now=at, source=source)


def test_first_sight_of_running_task_is_started(state: TaskState) -> None:
    [started] = _observe(state, [_task("t1", step=2)])
    assert started.kind is TransitionKind.STARTED
    assert started.sequence == 1
    assert started.task_key == "ehpc-hz-test/t1"
    assert started.fingerprint == "ehpc-hz-test/t1/started/Processing"
    assert (started.cluster_name, started.cluster_labels) == ("test cluster", {"team": "hpc"})
    assert started.first_seen == T0 == started.observed_at
    assert started.task == _task("t1", step=2)


def test_same_page_twice_announces_nothing_the_second_time(state: TaskState) -> None:
    page = [_task("t1"), _task("t2", status="Success")]
    assert len(_observe(state, page)) == 2
    assert _observe(state, page, at=T0 + timedelta(seconds=30)) == []


def test_step_advance_is_progressed(state: TaskState) -> None:
    _observe(state, [_task("t1", step=3)])
    [progressed] = _observe(state, [_task("t1", step=5)], at=T0 + timedelta(minutes=1))
    assert progressed.kind is TransitionKind.PROGRESSED
    assert (progressed.sequence, progressed.previous_step) == (2, 3)
    assert progressed.fingerprint == "ehpc-hz-test/t1/progressed/5"
    assert progressed.first_seen == T0


def test_lower_step_is_ignored(state: TaskState) -> None:
    _observe(state, [_task("t1", step=5)])
    assert _observe(state, [_task("t1", step=4)]) == []
    [progressed] = _observe(state, [_task("t1", step=6)])
    assert progressed.previous_step == 5


@pytest.mark.parametrize("status", ["Success", "Fail", "PartialFail"])
def test_final_status_is_finished_once_and_never_left(state: TaskState, status: str) -> None:
    _observe(state, [_task("t1")])
    [finished] = _observe(state, [_task("t1", status=status, step=10)])
    assert (finished.kind, finished.sequence) == (TransitionKind.FINISHED, 2)
    assert finished.fingerprint == f"ehpc-hz-test/t1/finished/{status}"
    assert state.running_task_ids(cluster_id=CLUSTER.cluster_id) == set()
    assert _observe(state, [_task("t1", step=10)]) == []
    assert _observe(state, [_task("t1", status="Success", step=10)], source=Source.LOOKUP) == []


@pytest.mark.parametrize("source", [source for source in Source if source is not Source.LOST])
def test_task_first_seen_final_is_one_finished(state: TaskState, source: Source) -> None:
    [finished] = _observe(state, [_task("t1", status="Success", step=10)], source=source)
    assert (finished.kind, finished.sequence, finished.previous_step) == (TransitionKind.FINISHED, 1, None)


def test_unknown_status_is_ignored(state: TaskState) -> None:
    assert _observe(state, [_task("t1", status="Queued")]) == []
    assert _kinds(_observe(state, [_task("t1")])) == [("t1", TransitionKind.STARTED)]


def test_baseline_records_archived_history_silently(redis_client: redis.Redis, keys: Keys) -> None:
    state = TaskState(client=redis_client, keys=keys)
    assert not state.has_baseline(cluster_id=CLUSTER.cluster_id)
    running = _observe(state, [_task("run")])
    history = _observe(state, [_task("old", status="Fail"), _task("run")], source=Source.ARCHIVE)
    state.mark_baseline(cluster_id=CLUSTER.cluster_id)
    assert state.has_baseline(cluster_id=CLUSTER.cluster_id)
    assert (_kinds(running), history) == ([("run", TransitionKind.STARTED)], [])
    assert _observe(state, [_task("old", status="Fail")], source=Source.ARCHIVE) == []


def test_before_the_baseline_only_archived_history_is_silent(redis_client: redis.Redis, keys: Keys) -> None:
    state = TaskState(client=redis_client, keys=keys)
    [finished] = _observe(state, [_task("t1", status="Success")], source=Source.LOOKUP)
    assert finished.kind is TransitionKind.FINISHED


def test_baseline_can_keep_running_tasks_silent(redis_client: redis.Redis, keys: Keys) -> None:
    state = TaskState(client=redis_client, keys=keys, announce_running_on_baseline=False)
    assert _observe(state, [_task("t1")]) == []
    state.mark_baseline(cluster_id=CLUSTER.cluster_id)
    assert _observe(state, [_task("t1", step=2)]) == []
    assert _observe(state, [_task("t1", status="Success")], source=Source.LOOKUP) == []
    assert state.running_task_ids(cluster_id=CLUSTER.cluster_id) == set()
    assert _kinds(_observe(state, [_task("t2")])) == [("t2", TransitionKind.STARTED)]


def test_vanished_task_stays_tracked_until_its_lookup_tells_how_it_ended(state: TaskState) -> None:
    _observe(state, [_task("t1"), _task("t2")])
    _observe(state, [_task("t2")], at=T0 + timedelta(seconds=30))
    # The pipeline looks up what it tracks but did not see; a failed lookup simply observes nothing.
    assert state.running_task_ids(cluster_id=CLUSTER.cluster_id) == {"t1", "t2"}
    [finished] = _observe(state, [_task("t1", status="PartialFail", step=9)], source=Source.LOOKUP)
    assert (finished.kind, finished.previous_step) == (TransitionKind.FINISHED, 1)
    assert state.running_task_ids(cluster_id=CLUSTER.cluster_id) == {"t2"}


def test_stalled_once_per_step(state: TaskState) -> None:
    _observe(state, [_task("t1", step=4)])
    assert _observe(state, [_task("t1", step=4)], at=T0 + timedelta(minutes=9)) == []
    [stalled] = _observe(state, [_task("t1", step=4)], at=T0 + timedelta(minutes=10))
    assert (stalled.kind, stalled.fingerprint) == (TransitionKind.STALLED, "ehpc-hz-test/t1/stalled/4")
    assert _observe(state, [_task("t1", step=4)], at=T0 + timedelta(hours=5)) == []


def test_stall_threshold_scales_with_the_tasks_own_pace(state: TaskState) -> None:
    _observe(state, [_task("t1", step=1)])
    _observe(state, [_task("t1", step=2)], at=T0 + timedelta(minutes=20))  # 20 min per step → 100 min
    assert _observe(state, [_task("t1", step=2)], at=T0 + timedelta(minutes=119)) == []
    [stalled] = _observe(state, [_task("t1", step=2)], at=T0 + timedelta(minutes=120))
    assert (stalled.kind, stalled.sequence, stalled.previous_step) == (TransitionKind.STALLED, 3, 2)


def test_log_keeps_every_transition_in_sequence_order(state: TaskState) -> None:
    emitted = [
        *_observe(state, [_task("t1", step=1)]),
        *_observe(state, [_task("t1", step=3)]),
        *_observe(state, [_task("t1", step=3)], at=T0 + timedelta(minutes=10)),
        *_observe(state, [_task("t1", status="Success", step=10)]),
    ]
    task_key = task_key_of(cluster_id=CLUSTER.cluster_id, task_id="t1")
    assert [t.sequence for t in emitted] == [1, 2, 3, 4]
    assert state.transitions_after(task_key=task_key, sequence=0) == emitted
    assert state.transitions_after(task_key=task_key, sequence=2) == emitted[2:]


def test_finished_fact_outlives_the_tasks_expiring_state(
    state: TaskState, redis_client: redis.Redis, keys: Keys
) -> None:
    _observe(state, [_task("t1", status="Success")])
    task_key = task_key_of(cluster_id=CLUSTER.cluster_id, task_id="t1")
    state_key, log_key = keys.task_state(task_key=task_key), keys.task_log(task_key=task_key)
    week = 7 * 24 * 3600 * 1000
    assert 0 < redis_client.pttl(state_key) <= week
    assert 0 < redis_client.pttl(log_key) <= week
    redis_client.delete(state_key, log_key)  # as if the retention had passed
    assert _observe(state, [_task("t1", status="Success")], source=Source.ARCHIVE) == []


def test_finished_memory_is_bounded(redis_client: redis.Redis, keys: Keys) -> None:
    state = TaskState(client=redis_client, keys=keys, finished_memory=3)
    _observe(state, [_task(f"t{n}", status="Success") for n in range(5)], source=Source.ARCHIVE)
    assert redis_client.zcard(keys.finished_tasks(cluster_id=CLUSTER.cluster_id)) == 3


@pytest.mark.parametrize("size", [50, 500])
def test_one_round_trip_per_page(counting_redis: CountingRedis, keys: Keys, size: int) -> None:
    state = TaskState(client=counting_redis.client, keys=keys)
    _observe(state, [_task("warm-up")])  # the first call may load the script (NOSCRIPT, then LOAD)
    counting_redis.round_trips = 0
    first = _observe(state, [_task(f"t{n}") for n in range(size)])
    second = _observe(state, [_task(f"t{n}", step=2) for n in range(size)])
    assert (len(first), len(second)) == (size, size)
    assert counting_redis.round_trips == 2


def test_concurrent_observers_announce_each_transition_once(state: TaskState) -> None:
    pages = [[_task(f"t{n}", step=step) for n in range(20)] for step in range(1, 6)]
    pages.append([_task(f"t{n}", status="Success", step=5) for n in range(20)])

    def observe_all(_: int) -> list[Transition]:
        return [t for page in pages for t in _observe(state, page)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        emitted = [t for result in pool.map(observe_all, range(2)) for t in result]
    assert len(emitted) == 20 * 6
    assert set(Counter(t.fingerprint for t in emitted).values()) == {1}
    for n in range(20):
        task_key = task_key_of(cluster_id=CLUSTER.cluster_id, task_id=f"t{n}")
        logged = state.transitions_after(task_key=task_key, sequence=0)
        assert [t.sequence for t in logged] == [1, 2, 3, 4, 5, 6]


def test_overlapping_poll_is_refused_the_lease(state: TaskState) -> None:
    lease = state.acquire_poll_lease(cluster_id=CLUSTER.cluster_id, ttl=timedelta(minutes=1))
    assert lease is not None
    assert state.acquire_poll_lease(cluster_id=CLUSTER.cluster_id, ttl=timedelta(minutes=1)) is None
    assert lease.release()
    assert state.acquire_poll_lease(cluster_id=CLUSTER.cluster_id, ttl=timedelta(minutes=1)) is not None


def test_naive_time_is_refused(state: TaskState) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _observe(state, [_task("t1")], at=T0.replace(tzinfo=None))


def test_a_cluster_can_override_the_baseline_setting(redis_client: redis.Redis, keys: Keys) -> None:
    state = TaskState(client=redis_client, keys=keys, announce_running_on_baseline=True)
    quiet = CLUSTER.model_copy(update={"announce_running_on_baseline": False})
    assert state.observe_page(cluster=quiet, tasks=[_task("t1")], now=T0, source=Source.RUNNING) == []


def test_lost_closes_a_tracked_task_once_with_its_last_sighting(state: TaskState) -> None:
    _observe(state, [_task("t1", step=3)])
    _observe(state, [_task("t1", step=5)], at=T0 + timedelta(minutes=1))
    [sighting] = state.last_sightings(cluster_id=CLUSTER.cluster_id, task_ids=["t1", "never-seen"]).values()

    [lost] = _observe(state, [sighting.task], at=T0 + timedelta(minutes=9), source=Source.LOST)

    assert (lost.kind, lost.sequence, lost.task.current_step) == (TransitionKind.LOST, 3, 5)
    assert lost.last_seen == sighting.last_seen == T0 + timedelta(minutes=1)
    task_key = task_key_of(cluster_id=CLUSTER.cluster_id, task_id="t1")
    assert state.transitions_after(task_key=task_key, sequence=2) == [lost]
    assert state.running_task_ids(cluster_id=CLUSTER.cluster_id) == set()
    assert _observe(state, [_task("t1", status="Success", step=10)]) == []  # closed for good
    assert _observe(state, [_task("t2")], source=Source.LOST) == []  # never tracked: nothing to close


def test_a_silent_task_is_closed_silently(redis_client: redis.Redis, keys: Keys) -> None:
    state = TaskState(client=redis_client, keys=keys, announce_running_on_baseline=False)
    _observe(state, [_task("t1", step=4)])
    [sighting] = state.last_sightings(cluster_id=CLUSTER.cluster_id, task_ids=["t1"]).values()

    assert (sighting.announced, sighting.task.current_step, sighting.task.total_steps) == (False, 4, 10)
    assert _observe(state, [sighting.task], source=Source.LOST) == []
    assert state.running_task_ids(cluster_id=CLUSTER.cluster_id) == set()


def test_missed_lookups_are_counted_until_cleared(state: TaskState) -> None:
    _observe(state, [_task("t1")])
    counts = [state.record_missed_lookup(cluster_id=CLUSTER.cluster_id, task_id="t1") for _ in range(3)]
    state.clear_missed_lookups(cluster_id=CLUSTER.cluster_id, task_id="t1")

    assert counts == [1, 2, 3]
    assert state.record_missed_lookup(cluster_id=CLUSTER.cluster_id, task_id="t1") == 1


def test_a_poll_that_lost_its_lease_writes_nothing(state: TaskState, redis_client: redis.Redis) -> None:
    ttl = timedelta(minutes=1)
    stale = state.acquire_poll_lease(cluster_id=CLUSTER.cluster_id, ttl=ttl)
    assert stale is not None
    redis_client.delete(stale.key)  # it expired while the poll was slow, and another poll took over
    assert state.acquire_poll_lease(cluster_id=CLUSTER.cluster_id, ttl=ttl) is not None

    with pytest.raises(PollLeaseLost):
        state.observe_page(cluster=CLUSTER, tasks=[_task("t1")], now=T0, source=Source.RUNNING, fence=stale)

    assert state.running_task_ids(cluster_id=CLUSTER.cluster_id) == set()
