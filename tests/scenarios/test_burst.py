"""Bursts become digests, never storms, never losses (issue 10, rows 1 and 6).

End to end with real processes: ``ehpc-bridge worker`` (Celery, Redis broker) and the simulator over HTTP,
120 tasks starting and ending together in one cluster routed to one channel of the Slack stand-in, at the
default Slack budget (one message per second, bursts of three, edits at most every five seconds). Polls
are queued the way beat queues them; the dispatcher runs after each poll as in production.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.channel import ChannelView
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from tests.fixtures.processes import Processes, undelivered, wait_for
from worker.deliver.delivery import channel_backlog
from worker.detect.diff import task_key_of

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-burst001"
TASKS = 120
DEFAULT_BUDGET = {"EHPC_SLACK_RATE": 1, "EHPC_SLACK_BURST": 3, "EHPC_SLACK_EDIT_INTERVAL": 5}


@pytest.fixture
def stack(simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str) -> Stack:
    """One cluster, one channel, the default Slack budget."""
    return make_stack(
        simulator=simulator, slack=slack_standin, prefix=redis_prefix, clusters=(CLUSTER,), **DEFAULT_BUDGET
    )


def outcome(index: int) -> str:
    """Every tenth task fails, every fifteenth partly fails, the rest succeed."""
    if index % 10 == 0:
        return "Fail"
    return "PartialFail" if index % 15 == 0 else "Success"


def run_burst(
    stack: Stack, processes: Processes, *, meanwhile: Callable[[], None] = lambda: None
) -> dict[str, str]:
    """Start ``TASKS`` tasks together, see them running, (``meanwhile``), see them all end; their task
    keys → outcome."""
    sim = stack.simulator.simulator
    processes.poll_and_wait(CLUSTER)  # baseline
    tasks = {
        task_key_of(
            cluster_id=CLUSTER,
            task_id=sim.start_task(
                CLUSTER, "AddComputes", total_steps=2, step_seconds=10, outcome=outcome(n)
            ),
        ): outcome(n)
        for n in range(1, TASKS + 1)
    }
    processes.poll_and_wait(CLUSTER)  # 120 started
    meanwhile()
    sim.advance(30)
    processes.poll_and_wait(CLUSTER)  # 120 finished
    return tasks


def settled(stack: Stack, tasks: dict[str, str]) -> bool:
    """Every routed transition delivered, nothing waiting for the channel, no digest half done."""
    backlog = channel_backlog(stack.runtime, "slack", CLUSTER)
    return (
        not undelivered(stack, list(tasks))
        and stack.runtime.backlog.size(backlog) == 0
        and stack.runtime.digests.current(backlog) is None
    )


def assert_every_task_shown_once_with_its_final_status(view: ChannelView, tasks: dict[str, str]) -> None:
    parents = view.parents()
    assert [key for key, own in parents.items() if len(own) > 1] == [], "exactly one message per task"
    expected = {"Success": "Succeeded", "Fail": "Failed", "PartialFail": "Partly failed"}
    shown = {key: view.final_shown(key) for key in tasks}
    wrong = {
        key: (shown[key], expected[result]) for key, result in tasks.items() if shown[key] != expected[result]
    }
    assert wrong == {}, "every task shows its final status, in its own message or in a digest"
    assert view.duplicate_finals() == [], "each task is in one digest, once"
    for key, result in tasks.items():
        if result == "Fail" and key not in parents:
            [line] = [line for line in view.digest_lines(key.split("/")[1]) if "failed: " in line]
            assert "no error details" not in line, "the failure is named"


def test_120_tasks_starting_and_ending_together_become_digests_not_a_storm(
    stack: Stack, processes: Processes
) -> None:
    processes.start("worker", "--concurrency", "4")
    processes.start("beat")

    tasks = run_burst(stack, processes)
    wait_for(lambda: settled(stack, tasks), timeout=120, why="the burst to be delivered", logs=processes)

    view = ChannelView(stack.slack, CHANNEL)
    assert_every_task_shown_once_with_its_final_status(view, tasks)
    assert view.messages_of("ehpc_digest"), "the backlog was announced in digests"
    assert view.posts() < 40, f"{view.posts()} posts for {TASKS} tasks: a storm, not a digest"
    in_progress = [m for own in view.parents().values() for m in own if "In progress" in m.text]
    assert in_progress == [], "no task message is left in progress"


def test_a_digest_whose_post_fails_once_is_retried_as_the_same_digest(
    stack: Stack, processes: Processes
) -> None:
    stack.slack.fail_next(
        status=503, error="service_unavailable", method="chat.postMessage", event_type="ehpc_digest"
    )
    stack.slack.fail_next(status=503, error="service_unavailable", method="chat.update")
    processes.start("worker", "--concurrency", "4")
    processes.start("beat")
    view = ChannelView(stack.slack, CHANNEL)

    def refused_then_more_parked() -> None:  # the backlog grows after the first digest post failed
        wait_for(lambda: view.calls("chat.postMessage", event_type="ehpc_digest") >= 1, why="a digest post")

    tasks = run_burst(stack, processes, meanwhile=refused_then_more_parked)
    wait_for(lambda: settled(stack, tasks), timeout=120, why="the burst to be delivered", logs=processes)

    assert_every_task_shown_once_with_its_final_status(view, tasks)
    digests = view.messages_of("ehpc_digest")
    assert view.calls("chat.postMessage", event_type="ehpc_digest") == len(digests) + 1, "one post refused"
