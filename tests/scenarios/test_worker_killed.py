"""A worker SIGKILLed while its Slack post hangs (issue 10, row 9): the restarted worker finishes the job
within a minute, and the task still has exactly one parent message and one final reply.

The killed worker held every message of the task's delivery (the hanging post, and the retry waiting for
its lease), and no new transition comes after the kill: only the broker's redelivery (60 s visibility
timeout) or the reconciler (overdue deliveries, every 10 s) can bring the work back. With Celery's default
visibility timeout that took an hour.
"""

from __future__ import annotations

import time

import pytest

from tests.fixtures.pipeline import CHANNEL, Stack
from tests.fixtures.processes import Processes, slack_settled, wait_for

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-pipe0001"


def test_a_worker_killed_mid_post_is_replaced_and_the_final_arrives_within_a_minute(
    stack: Stack, processes: Processes
) -> None:
    sim = stack.simulator.simulator
    rt = stack.runtime
    worker = processes.start("worker")
    processes.start("beat", EHPC_POLL_INTERVAL="3600")  # dispatch and reconcile; the polls are ours
    processes.poll_and_wait(CLUSTER)  # baseline
    stack.slack.answer_late(method="chat.postMessage")  # the parent is stored, its answer held back
    sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=10, outcome="Success")
    processes.poll_and_wait(CLUSTER)
    wait_for(lambda: len(stack.slack.messages(CHANNEL)) == 1, why="the parent, stored", logs=processes)
    sim.advance(30)
    processes.poll_and_wait(CLUSTER)  # FINISHED logged: its delivery waits for the hanging one's lease
    wait_for(lambda: rt.redis.xlen(rt.keys.outbox()) == 0, why="the FINISHED dispatched", logs=processes)

    processes.kill(worker)
    killed_at = time.monotonic()
    processes.start("worker")

    wait_for(lambda: slack_settled(stack, parents=1), why="the final reply", timeout=60, logs=processes)
    print(f"final reply visible {time.monotonic() - killed_at:.1f} s after the SIGKILL")
    [message] = stack.slack.messages(CHANNEL)
    [reply] = stack.slack.replies(CHANNEL, message.ts)
    assert "Succeeded" in message.text
    assert "Succeeded" in reply.text
