"""The poll step against the simulator over HTTP and the real Redis: what it reads, and what it costs."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from integrations.base import Transition, TransitionKind
from integrations.ehpc.errors import PermanentEhpcError, RetryableEhpcError
from integrations.ehpc.simulator import Fault, SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import Stack, make_stack
from worker.config.models import ClusterConfig
from worker.detect.diff import task_key_of
from worker.detect.poll import PollOutcome, observe_cluster, poll_cluster
from worker.runtime import Runtime

CLUSTER = "ehpc-hz-pipe0001"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def poll(stack: Stack, minute: int) -> PollOutcome:
    return poll_cluster(stack.runtime, cluster_id=CLUSTER, now=T0 + timedelta(minutes=minute))


def kinds(outcome: PollOutcome) -> Counter[TransitionKind]:
    return Counter(transition.kind for transition in outcome.transitions)


def logged(rt: Runtime, task_id: str) -> list[Transition]:
    return rt.state.transitions_after(task_key=task_key_of(cluster_id=CLUSTER, task_id=task_id), sequence=0)


def start_finished(stack: Stack, count: int) -> list[str]:
    """``count`` short tasks that start a second from now and are over once the clock moves 10 s more."""
    sim = stack.simulator.simulator
    sim.advance(1)  # newer than everything before (the list is ordered by start time)
    return [sim.start_task(CLUSTER, "StartComputes", total_steps=1, step_seconds=5) for _ in range(count)]


def test_a_quiet_poll_is_one_list_tasks_call(stack: Stack) -> None:
    sim = stack.simulator.simulator
    sim.add_tasks(CLUSTER, 120, status="Success")  # history, newest first: 3 pages
    poll(stack, 0)
    sim.start_task(CLUSTER, "AddComputes", total_steps=10, step_seconds=60)  # recent: on the first page

    calls = [poll(stack, minute).api_calls for minute in range(1, 5)]

    assert calls == [1, 1, 1, 1]


def test_tasks_that_started_and_ended_between_two_polls_are_read_down_to_the_watermark(stack: Stack) -> None:
    sim = stack.simulator.simulator
    sim.add_tasks(CLUSTER, 30, status="Success")
    poll(stack, 0)
    short = start_finished(stack, 170)
    sim.advance(10)

    busy = poll(stack, 1)
    quiet = poll(stack, 2)

    assert kinds(busy) == {TransitionKind.FINISHED: 170}
    assert {transition.task.task_id for transition in busy.transitions} == set(short)
    assert busy.api_calls == 4  # 200 tasks: the watermark is on page 4
    assert (quiet.transitions, quiet.api_calls) == ([], 1)


def test_a_throttled_page_keeps_what_came_before_and_the_next_attempt_resumes_there(stack: Stack) -> None:
    sim = stack.simulator.simulator
    sim.add_tasks(CLUSTER, 10, status="Success")
    poll(stack, 0)
    short = start_finished(stack, 200)
    sim.advance(10)
    sim.inject(Fault.slow(0))  # page 1
    sim.inject(Fault.slow(0))  # page 2
    sim.inject(Fault.error("Throttling.User", retry_after_ms=100))  # page 3

    with pytest.raises(RetryableEhpcError):
        poll(stack, 1)
    announced_before_retry = [task_id for task_id in short if logged(stack.runtime, task_id)]
    resumed = poll(stack, 2)

    assert len(announced_before_retry) == 100  # pages 1 and 2, not thrown away
    assert resumed.api_calls == 4  # page 1 (the head), then pages 3 to 5: not pages 1-2 again
    for task_id in short:
        assert [t.kind for t in logged(stack.runtime, task_id)] == [TransitionKind.FINISHED]


def test_the_running_list_is_read_only_for_a_running_task_older_than_the_first_page(stack: Stack) -> None:
    sim = stack.simulator.simulator
    poll(stack, 0)
    old = sim.start_task(CLUSTER, "CreateCluster", total_steps=3, step_seconds=60)
    poll(stack, 1)
    start_finished(stack, 60)  # pushes the old task off the first archived page
    sim.advance(10)
    busy = poll(stack, 2)
    steady = poll(stack, 3)
    sim.advance(200)  # the old task ends, out of sight of the first page

    ended = poll(stack, 4)

    assert busy.api_calls == 2  # two archived pages: the watermark (the old task) is on the second
    assert steady.api_calls == 2  # one archived page, one running page
    assert [(t.kind, t.task.task_id, t.task.status.value) for t in ended.transitions] == [
        (TransitionKind.FINISHED, old, "Success")
    ]
    assert ended.api_calls == 3  # archived page, running page, the lookup of the task that left it
    assert poll(stack, 5).api_calls == 1  # nothing old runs any more


def test_a_task_whose_lookup_keeps_failing_is_lost_track_after_the_bound_and_costs_nothing_after(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str
) -> None:
    stack = make_stack(
        simulator=simulator, slack=slack_standin, prefix=redis_prefix, clusters=(CLUSTER,), EHPC_LOST_AFTER=3
    )
    sim = simulator.simulator
    poll(stack, 0)
    task_id = sim.start_task(CLUSTER, "AddComputes", total_steps=35, step_seconds=10)
    sim.advance(120)
    poll(stack, 1)  # started, then seen at step 12
    sim.purge_task(CLUSTER, task_id)

    misses = [poll(stack, minute) for minute in (2, 3)]
    closing = poll(stack, 4)
    after = [poll(stack, minute).api_calls for minute in (5, 6)]

    assert [outcome.transitions for outcome in misses] == [[], []]
    [lost] = closing.transitions
    assert (lost.kind, lost.task.current_step, lost.task.total_steps) == (TransitionKind.LOST, 12, 35)
    assert lost.last_seen == T0 + timedelta(minutes=1)
    assert closing.lost == [task_id]
    assert after == [1, 1]
    assert stack.runtime.state.running_task_ids(cluster_id=CLUSTER) == set()


def test_cluster_not_found_after_a_delete_cluster_closes_it_as_finished_and_the_rest_as_lost(
    stack: Stack,
) -> None:
    sim = stack.simulator.simulator
    poll(stack, 0)
    other = sim.start_task(CLUSTER, "AddComputes", total_steps=50, step_seconds=10)
    deleting = sim.start_task(CLUSTER, "DeleteCluster", total_steps=2, step_seconds=10)
    poll(stack, 1)
    sim.advance(30)

    closed = poll(stack, 2)
    later = poll(stack, 3)

    assert sorted((t.kind, t.task.task_id, t.task.status.value) for t in closed.transitions) == sorted(
        [(TransitionKind.FINISHED, deleting, "Success"), (TransitionKind.LOST, other, "Processing")]
    )
    assert closed.gone
    assert (later.skipped, later.gone, later.api_calls) == (True, True, 0)


def test_a_cluster_missing_from_the_first_poll_is_a_configuration_error(stack: Stack) -> None:
    rt = stack.runtime
    rt.clusters["ehpc-hz-typo0001"] = ClusterConfig(id="ehpc-hz-typo0001")

    expected = "does not exist in region cn-hangzhou: check its ID"
    with pytest.raises(PermanentEhpcError, match=expected) as raised:
        poll_cluster(rt, cluster_id="ehpc-hz-typo0001", now=T0)

    assert raised.value.code == "ClusterNotFound"


def test_a_poll_out_of_time_stops_and_the_next_one_resumes(stack: Stack) -> None:
    sim = stack.simulator.simulator
    rt = stack.runtime
    poll(stack, 0)
    short = start_finished(stack, 500)  # 10 pages
    sim.advance(10)
    sim.latency = 0.4
    cut = observe_cluster(
        client=rt.ehpc(CLUSTER),
        state=rt.state,
        cursors=rt.cursors,
        cluster=rt.ref(CLUSTER),
        now=T0 + timedelta(minutes=1),
        deadline=time.monotonic() + 1.0,  # room for three calls at most
    )
    sim.latency = 0

    rest = poll(stack, 2)

    assert (cut.complete, cut.bound) == (False, "time")
    assert 0 < cut.api_calls <= 3
    assert rest.complete
    assert len(cut.transitions) + len(rest.transitions) == 500
    assert {t.task.task_id for t in [*cut.transitions, *rest.transitions]} == set(short)
