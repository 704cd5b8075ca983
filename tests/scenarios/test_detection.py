"""Detection end to end through a real worker and beat: busy clusters, lost tasks, deleted clusters,
sustained throttling, and slow polls (issue 11). The simulator's clock is virtual: a test moves it on and
waits for beat's next polls, so "within one interval" means "by the first poll that starts after the end"."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from integrations.base import TransitionKind
from integrations.ehpc.simulator import Fault, RequestRecord, SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from tests.fixtures.processes import Processes, slack_settled, wait_for
from worker.detect.diff import task_key_of
from worker.detect.poll import POLL_LEASE

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-pipe0001"
OUTCOMES = ("Success", "Fail", "PartialFail")
GONE = re.compile(r"ehpc\.poll_cluster\[[^]]+\] succeeded .*'skipped': True")


def wait_polls(processes: Processes, count: int, *, timeout: float = 60.0) -> None:
    """Wait until ``count`` more polls of the cluster have been recorded (beat drives them)."""
    for _ in range(count):
        before = processes.last_poll(CLUSTER)

        def moved(before: datetime | None = before) -> bool:
            return processes.last_poll(CLUSTER) != before

        wait_for(moved, timeout=timeout, why="beat's next poll", logs=processes)


@contextmanager
def running(stack: Stack, log_dir: Path) -> Iterator[Processes]:
    """Processes for a stack built by the test itself (the ``processes`` fixture uses the default one)."""
    processes = Processes(stack, log_dir)
    try:
        yield processes
    finally:
        processes.stop_all()


def replied(stack: Stack, task_ids: list[str]) -> bool:
    """Each of these tasks has its message and exactly one thread reply."""
    mine = {
        task_id: message
        for message in stack.slack.messages(CHANNEL)
        for task_id in task_ids
        if task_id in message.text
    }
    return len(mine) == len(task_ids) and all(
        len(stack.slack.replies(CHANNEL, message.ts)) == 1 for message in mine.values()
    )


def final_status(stack: Stack, task_id: str) -> str | None:
    """The status of the task's FINISHED transition, if one is logged."""
    log = stack.runtime.state.transitions_after(
        task_key=task_key_of(cluster_id=CLUSTER, task_id=task_id), sequence=0
    )
    return next((t.task.status.value for t in log if t.kind is TransitionKind.FINISHED), None)


def lookups_of(server: SimulatorServer, task_id: str) -> int:
    return sum(1 for request in server.simulator.requests if request.params.get("TaskId") == task_id)


def test_150_short_and_20_long_tasks_in_a_minute_are_each_announced_once_by_the_next_poll(
    stack: Stack, processes: Processes
) -> None:
    sim = stack.simulator.simulator
    rng = random.Random(11)
    processes.start("worker", "--concurrency", "4")
    processes.start("beat", EHPC_POLL_INTERVAL="1")
    wait_polls(processes, 1)  # baseline
    ends: dict[str, tuple[float, str]] = {}
    for number in range(170):
        steps, step_seconds = (10, 12.0) if number < 20 else (1, float(rng.randint(2, 8)))
        start_in, outcome = rng.uniform(0, 60), OUTCOMES[number % 3]
        task_id = sim.start_task(
            CLUSTER,
            "AddComputes" if number < 20 else "StartComputes",
            total_steps=steps,
            step_seconds=step_seconds,
            outcome=outcome,
            start_in=start_in,
        )
        end_step = max(1, (steps + 1) // 2) if outcome == "Fail" else steps
        ends[task_id] = (sim.clock.now() + start_in + end_step * step_seconds, outcome)

    late: dict[str, float] = {}
    while sim.clock.now() < 200:
        sim.advance(10)  # one virtual poll interval
        wait_polls(processes, 2)  # the second one started after the clock moved
        now = sim.clock.now()
        for task_id, (end, _) in ends.items():
            if end <= now and final_status(stack, task_id) is None:
                late.setdefault(task_id, now - end)
    wait_for(
        lambda: slack_settled(stack, parents=170),
        timeout=120,
        why="170 settled task messages",
        logs=processes,
    )

    assert late == {}, f"{len(late)} task(s) not announced by the first poll after they ended"
    assert {task_id: final_status(stack, task_id) for task_id in ends} == {
        task_id: outcome for task_id, (_, outcome) in ends.items()
    }
    messages = stack.slack.messages(CHANNEL)
    assert len(messages) == 170
    assert all(len(stack.slack.replies(CHANNEL, message.ts)) == 1 for message in messages)


def test_a_task_whose_lookup_always_fails_is_lost_track_after_the_bound_and_then_costs_nothing(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str, tmp_path: Path
) -> None:
    stack = make_stack(
        simulator=simulator, slack=slack_standin, prefix=redis_prefix, clusters=(CLUSTER,), EHPC_LOST_AFTER=3
    )
    sim = simulator.simulator
    with running(stack, tmp_path) as processes:
        processes.start("worker")
        processes.start("beat", EHPC_POLL_INTERVAL="1")
        wait_polls(processes, 1)
        task_id = sim.start_task(CLUSTER, "AddComputes", total_steps=35, step_seconds=10)
        sim.advance(125)
        wait_for(lambda: len(slack_standin.messages(CHANNEL)) == 1, why="the task's message", logs=processes)
        wait_polls(processes, 2)
        sim.purge_task(CLUSTER, task_id)

        wait_for(lambda: slack_settled(stack, parents=1), why="the lost-track reply", logs=processes)
        after_lost = lookups_of(simulator, task_id)
        wait_polls(processes, 3)

        [message] = slack_standin.messages(CHANNEL)
        [notice] = slack_standin.replies(CHANNEL, message.ts)
        assert "E-HPC no longer reports this task; last seen Processing 12/35 at" in notice.text
        assert "No longer reported by E-HPC" in message.text
        assert after_lost == 3  # EHPC_LOST_AFTER failed lookups
        assert lookups_of(simulator, task_id) == 3  # and none since


def test_delete_cluster_ending_in_cluster_not_found_closes_the_cluster_with_its_own_message(
    stack: Stack, processes: Processes
) -> None:
    sim = stack.simulator.simulator
    processes.start("worker")
    processes.start("beat", EHPC_POLL_INTERVAL="1")
    wait_polls(processes, 1)
    other = sim.start_task(CLUSTER, "AddComputes", total_steps=50, step_seconds=10)
    deleting = sim.start_task(CLUSTER, "DeleteCluster", total_steps=3, step_seconds=10)
    wait_for(lambda: len(stack.slack.messages(CHANNEL)) == 2, why="two started messages", logs=processes)
    sim.advance(40)

    wait_for(lambda: slack_settled(stack, parents=2), why="both tasks closed", logs=processes)
    requests = len(sim.requests)
    gone_before = len(GONE.findall(processes.output()))
    wait_for(
        lambda: len(GONE.findall(processes.output())) >= gone_before + 3,
        why="three more polls of the deleted cluster",
        logs=processes,
    )

    assert final_status(stack, deleting) == "Success"
    log = stack.runtime.state.transitions_after(
        task_key=task_key_of(cluster_id=CLUSTER, task_id=other), sequence=0
    )
    assert [t.kind for t in log] == [TransitionKind.STARTED, TransitionKind.LOST]
    texts = [message.text for message in stack.slack.messages(CHANNEL)]
    assert len(texts) == 2  # no "cannot be polled: ClusterNotFound" notice
    assert not any("ClusterNotFound" in text for text in texts)
    assert len(sim.requests) == requests  # a deleted cluster costs no call


def test_every_tenth_call_throttled_on_2000_running_tasks_finished_tasks_still_reach_slack(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str, tmp_path: Path
) -> None:
    stack = make_stack(
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        clusters=(CLUSTER,),
        EHPC_ANNOUNCE_RUNNING_ON_BASELINE="false",  # 2,000 running at the first poll: recorded silently
    )
    sim = simulator.simulator
    sim.add_tasks(CLUSTER, 2000, status="Processing")
    sim.set_fault_every(Fault.error("Throttling.User", retry_after_ms=200), 10)
    with running(stack, tmp_path) as processes:
        processes.start("worker", "--concurrency", "2")
        processes.start("beat", EHPC_POLL_INTERVAL="2")
        wait_for(lambda: stack.runtime.state.has_baseline(cluster_id=CLUSTER), timeout=90, why="the baseline")
        deep = sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=30, outcome="PartialFail")
        wait_for(
            lambda: len(slack_standin.messages(CHANNEL)) == 1, why="the deep task's message", logs=processes
        )
        sim.advance(1)
        sim.add_tasks(CLUSTER, 60, status="Processing")  # newer: the deep task is no longer on page 1
        wait_for(lambda: len(slack_standin.messages(CHANNEL)) == 61, why="60 more started", logs=processes)
        sim.advance(1)
        heads = [sim.start_task(CLUSTER, "StopComputes", total_steps=1, step_seconds=5) for _ in range(5)]
        sim.advance(60)  # all six end; the deep one leaves a 2,060-task running list
        since = len(sim.requests)

        wait_for(
            lambda: replied(stack, [deep, *heads]), timeout=120, why="six finished tasks", logs=processes
        )
        phase = sim.requests[since:]

    assert {task_id: final_status(stack, task_id) for task_id in [deep, *heads]} == {
        deep: "PartialFail",
        **dict.fromkeys(heads, "Success"),
    }
    codes = Counter(request.code for request in phase)
    attempts = sum(1 for request in phase if _page(request) == ("true", "1"))
    restarts = sum(1 for request in phase if _page(request) == ("false", "1"))
    assert codes["Throttling.User"] >= 4  # the 2,060-task listing was cut several times
    # A listing restarted on every attempt would never finish (42 pages, every 10th call fails); it was
    # resumed: its first page was read once per listing (the one under way when the tasks ended, and the
    # next, which saw the deep task gone), each attempt (beat's or a retry) moving it on.
    assert restarts <= 2
    assert attempts <= 12, f"{attempts} poll attempts"


def test_a_slow_poll_renews_its_lease_and_is_never_overlapped_by_the_next(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str, tmp_path: Path
) -> None:
    stack = make_stack(
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        clusters=(CLUSTER,),
        EHPC_ANNOUNCE_RUNNING_ON_BASELINE="false",
        EHPC_POLL_INTERVAL="40",  # the poll's time budget: longer than its lease
    )
    sim = simulator.simulator
    sim.add_tasks(CLUSTER, 1200, status="Processing")  # 24 running pages
    sim.latency = 1.0
    with running(stack, tmp_path) as processes:
        processes.start("worker", "--concurrency", "2")
        processes.start("worker", "--concurrency", "2")
        processes.start("beat", EHPC_POLL_INTERVAL="1")  # beat queues a poll every second meanwhile
        wait_for(
            lambda: stack.runtime.state.has_baseline(cluster_id=CLUSTER), timeout=120, why="the slow poll"
        )

    spans = sorted((request.at, request.at + request.delay) for request in sim.requests if request.action)
    overlaps = [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1] - 0.05]
    assert spans[-1][0] - spans[0][0] > POLL_LEASE.total_seconds()  # the poll outlived one lease
    assert overlaps == [], f"{len(overlaps)} ListTasks calls overlapped another poll's"
    assert len(spans) >= 25  # one archived page and 24 running pages, each once


def _page(request: RequestRecord) -> tuple[str, str]:
    """(Archived, PageNumber) of a listing request, ("", "") for a lookup."""
    if request.params.get("TaskId"):
        return ("", "")
    return (request.params.get("Archived", "false").lower(), request.params.get("PageNumber", "1"))
