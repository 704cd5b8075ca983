"""What can't be delivered after its limit is dead-lettered, visible, and can be retried (issue 10, rows 1
and 11): a real ``ehpc-bridge worker`` gives up on a post Slack keeps refusing with 503, carries on with
the task's later transitions, and ``ehpc-bridge dead-letters`` lists the one it gave up on and sends it
again once Slack answers.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from tests.fixtures.processes import EHPC_BRIDGE, Processes, undelivered, wait_for
from worker.detect.diff import task_key_of

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-dead0001"
ATTEMPTS = 2


@pytest.fixture
def stack(simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str) -> Stack:
    """One cluster; a delivery is given up on after two failed attempts."""
    return make_stack(
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        clusters=(CLUSTER,),
        EHPC_DELIVERY_ATTEMPTS=ATTEMPTS,
    )


def dead_letters(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """``ehpc-bridge dead-letters ARGS`` with the stack's environment."""
    return subprocess.run(
        [EHPC_BRIDGE, "dead-letters", *args],
        env={**os.environ, **stack.environment()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_post_refused_past_its_limit_is_dead_lettered_listed_and_retried(
    stack: Stack, processes: Processes
) -> None:
    rt, sim = stack.runtime, stack.simulator.simulator
    processes.start("worker")
    processes.poll_and_wait(CLUSTER)  # baseline
    stack.slack.fail_next(
        count=ATTEMPTS + 1, status=503, error="service_unavailable", method="chat.postMessage"
    )
    task_id = sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=10)
    key = task_key_of(cluster_id=CLUSTER, task_id=task_id)
    processes.poll_and_wait(CLUSTER)  # STARTED: refused three times, given up after two retries
    wait_for(lambda: rt.dead_letters.size() == 1, timeout=90, why="a dead letter", logs=processes)
    sim.advance(30)
    processes.poll_and_wait(CLUSTER)  # FINISHED: delivered normally, the task's later transition
    wait_for(lambda: not undelivered(stack, [key]), why="the task's final", logs=processes)

    listed = dead_letters(stack)
    [letter] = rt.dead_letters.list()
    retried = dead_letters(stack, "--retry", letter.entry_id)

    assert listed.returncode == 0, listed.stderr
    assert "1 dead letter" in listed.stdout
    assert letter.entry_id in listed.stdout
    assert f"{key}  started" in listed.stdout
    assert "503" in letter.error
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "delivered" in retried.stdout
    assert rt.dead_letters.size() == 0
    [message] = stack.slack.messages(CHANNEL)
    assert "Succeeded" in message.text, "one message for the task, showing its final status"
