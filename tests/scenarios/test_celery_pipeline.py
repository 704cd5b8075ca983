"""End to end with real processes: ``ehpc-bridge worker`` (Celery, Redis broker), the simulator over HTTP,
and the Slack stand-in spoken to by the real slack-sdk. Polls are queued the way beat queues them."""

from __future__ import annotations

import pytest

from tests.fixtures.pipeline import CHANNEL, Stack
from tests.fixtures.processes import Processes, slack_settled, wait_for

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-pipe0001"
OPERATIONS = (("AddComputes", "Success"), ("CreateCluster", "PartialFail"), ("StopCluster", "Fail"))


def run_lifecycle(stack: Stack, processes: Processes, *, polls: int = 6) -> None:
    sim = stack.simulator.simulator
    processes.poll_and_wait(CLUSTER)  # baseline
    for task_type, outcome in OPERATIONS:
        sim.start_task(CLUSTER, task_type, total_steps=4, step_seconds=10, outcome=outcome, nodes=3)
    for _ in range(polls):
        processes.poll_and_wait(CLUSTER)
        sim.advance(10)


def assert_one_message_per_task(stack: Stack) -> None:
    messages = stack.slack.messages(CHANNEL)
    assert len(messages) == len(OPERATIONS)
    for message in messages:
        assert len(stack.slack.replies(CHANNEL, message.ts)) == 1
    texts = " ".join(message.text for message in messages)
    for words in ("Adding compute nodes", "Creating cluster", "Stopping cluster"):
        assert words in texts


def test_several_tasks_make_one_message_each_updated_in_place_with_one_final_reply(
    stack: Stack, processes: Processes
) -> None:
    processes.start("worker", "--concurrency", "4")

    run_lifecycle(stack, processes)
    wait_for(lambda: slack_settled(stack, parents=3), why="three finished task messages", logs=processes)

    assert_one_message_per_task(stack)
    assert all(message.edits for message in stack.slack.messages(CHANNEL)), "progress edits the message"


def test_a_worker_killed_mid_lifecycle_is_replaced_without_duplicates_or_gaps(
    stack: Stack, processes: Processes
) -> None:
    sim = stack.simulator.simulator
    first = processes.start("worker")
    processes.poll_and_wait(CLUSTER)
    for task_type, outcome in OPERATIONS:
        sim.start_task(CLUSTER, task_type, total_steps=4, step_seconds=10, outcome=outcome, nodes=3)
    processes.poll_and_wait(CLUSTER)
    wait_for(lambda: len(stack.slack.messages(CHANNEL)) == 3, why="three started messages", logs=processes)
    processes.kill(first)
    sim.advance(60)  # everything finishes while no worker runs

    processes.start("worker")
    processes.poll_and_wait(CLUSTER)
    wait_for(lambda: slack_settled(stack, parents=3), why="three finished task messages", logs=processes)

    assert_one_message_per_task(stack)


def test_two_workers_at_once_announce_each_transition_once(stack: Stack, processes: Processes) -> None:
    processes.start("worker", "--concurrency", "2")
    processes.start("worker", "--concurrency", "2")

    run_lifecycle(stack, processes)
    wait_for(lambda: slack_settled(stack, parents=3), why="three finished task messages", logs=processes)

    assert_one_message_per_task(stack)


def test_throttling_and_server_errors_are_retried_until_the_poll_succeeds(
    stack: Stack, processes: Processes
) -> None:
    from integrations.ehpc.simulator import Fault

    sim = stack.simulator.simulator
    processes.start("worker")
    processes.poll_and_wait(CLUSTER)
    sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=10, outcome="Success")
    sim.inject(Fault.error("Throttling.User", retry_after_ms=200))
    sim.inject(Fault.error("ServiceUnavailable"))

    processes.poll(CLUSTER)
    wait_for(
        lambda: len(stack.slack.messages(CHANNEL)) == 1,
        why="the task's message after retries",
        logs=processes,
    )

    codes = [record.code for record in sim.requests]
    assert "Throttling.User" in codes
    assert "ServiceUnavailable" in codes


def test_beat_drives_the_polls_and_a_second_beat_by_mistake_causes_no_duplicates(
    stack: Stack, processes: Processes
) -> None:
    sim = stack.simulator.simulator
    processes.start("worker")
    processes.start("beat", EHPC_POLL_INTERVAL="1")
    processes.start("beat", EHPC_POLL_INTERVAL="1")
    wait_for(lambda: processes.last_poll(CLUSTER) is not None, why="beat's first poll", logs=processes)
    for task_type, outcome in OPERATIONS:
        sim.start_task(CLUSTER, task_type, total_steps=3, step_seconds=10, outcome=outcome)

    for _ in range(4):
        before = processes.last_poll(CLUSTER)
        wait_for(
            lambda b=before: processes.last_poll(CLUSTER) != b, why="the next scheduled poll", logs=processes
        )
        sim.advance(10)
    wait_for(lambda: slack_settled(stack, parents=3), why="three finished task messages", logs=processes)

    assert_one_message_per_task(stack)
