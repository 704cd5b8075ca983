"""The broker's Redis restarts under a real worker and beat (issue 10, row 13).

Redis is a server of the test's own (AOF), SIGKILLed while the worker holds an unacknowledged message — a
poll kept waiting by a slow E-HPC answer — which is what made Celery 5.7.0 exit (see ``worker.broker``).
Writes are fsynced at once here: losing the last second of writes is row 3's scenario, not this one's.
"""

from __future__ import annotations

import pytest

from integrations.ehpc.simulator import Fault, SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from tests.fixtures.processes import Processes, slack_settled, wait_for
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-pipe0001"


@pytest.fixture
def stack(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str, redis_server: RedisServer
) -> Stack:
    """The usual one-cluster stack, with broker and state on the test's own Redis."""
    with redis_server.client() as client:
        client.config_set("appendfsync", "always")
    return make_stack(
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        clusters=(CLUSTER,),
        REDIS_URL=redis_server.url,
    )


def test_worker_and_beat_ride_out_a_redis_restart_and_carry_on(
    stack: Stack, processes: Processes, redis_server: RedisServer
) -> None:
    sim = stack.simulator.simulator
    worker = processes.start("worker")
    beat = processes.start("beat", EHPC_POLL_INTERVAL="1")
    wait_for(lambda: processes.last_poll(CLUSTER) is not None, why="beat's first poll", logs=processes)
    sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=10, outcome="Success")
    wait_for(lambda: len(stack.slack.messages(CHANNEL)) == 1, why="the task's message", logs=processes)

    slow_polls = sum(1 for record in sim.requests if record.fault == "slow")
    sim.inject(Fault.slow(3))
    wait_for(
        lambda: sum(1 for record in sim.requests if record.fault == "slow") > slow_polls,
        why="a poll waiting on E-HPC (its message unacknowledged)",
        logs=processes,
    )
    redis_server.kill()
    wait_for(
        lambda: "Connection to broker lost" in processes.output(),
        why="the worker to notice the broker is gone",
        logs=processes,
    )
    wait_for(
        lambda: "Couldn't apply scheduled task" in processes.output(),
        why="beat to miss a send while the broker is gone",
        logs=processes,
    )
    redis_server.start()
    sim.advance(30)  # the task ends while the worker reconnects: only a poll after the restart sees it

    wait_for(lambda: slack_settled(stack, parents=1), why="the final reply after the restart", logs=processes)
    assert worker.poll() is None, "the worker is still running"
    assert beat.poll() is None, "beat is still running"
    assert "Unrecoverable error" not in processes.output()
    [message] = stack.slack.messages(CHANNEL)
    [reply] = stack.slack.replies(CHANNEL, message.ts)
    assert "Succeeded" in message.text
    assert "finished: :white_check_mark: Succeeded" in reply.text
