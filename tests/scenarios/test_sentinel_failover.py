"""High availability: ``REDIS_URL`` names three sentinels (issue 12), the master is SIGKILLed mid-run, the
replica is promoted, and the bridge — real worker, beat, simulator and Slack stand-in — carries on with no
transition lost or repeated.

The kill comes once the replica holds every write of the first half (parents posted): losing writes the
replica never got is issue 10's row 3, a scenario of its own.
"""

from __future__ import annotations

import time

import pytest

from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from tests.fixtures.processes import Processes, slack_settled, wait_for
from tests.fixtures.redis_sentinel import MASTER_NAME, SentinelGroup

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-pipe0001"
OPERATIONS = (("AddComputes", "Success"), ("CreateCluster", "PartialFail"), ("StopCluster", "Fail"))
FINAL_WORDS = {"Success": "Succeeded", "PartialFail": "Partly failed", "Fail": "Failed"}


@pytest.fixture
def stack(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str, redis_sentinel: SentinelGroup
) -> Stack:
    """The one-cluster stack with broker and state behind the sentinels."""
    return make_stack(
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        clusters=(CLUSTER,),
        REDIS_URL=redis_sentinel.url,
        REDIS_SENTINEL_MASTER=MASTER_NAME,
    )


def test_the_bridge_carries_on_through_a_sentinel_failover(
    stack: Stack, processes: Processes, redis_sentinel: SentinelGroup
) -> None:
    sim = stack.simulator.simulator
    worker = processes.start("worker")
    beat = processes.start("beat", EHPC_POLL_INTERVAL="1")
    wait_for(lambda: processes.last_poll(CLUSTER) is not None, why="beat's first poll", logs=processes)
    task_ids = [
        sim.start_task(CLUSTER, task_type, total_steps=3, step_seconds=10, outcome=outcome)
        for task_type, outcome in OPERATIONS
    ]
    wait_for(lambda: len(stack.slack.messages(CHANNEL)) == 3, why="three started messages", logs=processes)
    redis_sentinel.await_replica_caught_up()

    redis_sentinel.kill_master()
    killed_at = time.monotonic()
    sim.advance(60)  # every task ends while the master is gone: only polls after the failover see it
    redis_sentinel.await_failover()
    print(f"replica promoted {time.monotonic() - killed_at:.1f} s after the master's SIGKILL")

    wait_for(lambda: slack_settled(stack, parents=3), why="three final replies", timeout=90, logs=processes)
    print(f"three finals visible {time.monotonic() - killed_at:.1f} s after the master's SIGKILL")
    assert redis_sentinel.master_port() == redis_sentinel.replica.port
    assert worker.poll() is None, "the worker is still running"
    assert beat.poll() is None, "beat is still running"
    messages = stack.slack.messages(CHANNEL)
    for task_id, (_type, outcome) in zip(task_ids, OPERATIONS, strict=True):
        [message] = [m for m in messages if task_id[:8] in m.text]  # exactly one parent per task
        [reply] = stack.slack.replies(CHANNEL, message.ts)  # exactly one final reply
        assert FINAL_WORDS[outcome] in message.text
        assert FINAL_WORDS[outcome] in reply.text
