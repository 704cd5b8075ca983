"""An E-HPC event through the real slack-app, worker and beat: the change reaches Slack before beat polls.

Beat polls every 30 s (the default interval), its first poll 30 s after it starts. The baseline is taken by
one poll queued by hand; then a task starts and its event is posted to ``POST /eventbridge``. The message
must reach the Slack stand-in while beat has sent no poll at all: only the hinted poll can have found it.
"""

from __future__ import annotations

import pytest

from tests.fixtures.eventbridge import ehpc_event, start_bridge_server
from tests.fixtures.pipeline import CHANNEL, Stack
from tests.fixtures.processes import Processes, wait_for

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-pipe0001"
BEAT_SENT_A_POLL = ("Sending due task", "ehpc.poll_cluster")


def test_an_event_brings_a_new_task_to_slack_before_the_next_30_s_poll(
    stack: Stack, processes: Processes
) -> None:
    assert stack.runtime.poll_interval(CLUSTER) == 30
    processes.start("beat")
    processes.start("worker", "--concurrency", "2")
    server = start_bridge_server(processes)
    processes.poll_and_wait(CLUSTER)  # the baseline
    stack.simulator.simulator.start_task(CLUSTER, "AddComputes", total_steps=4, step_seconds=10, nodes=2)
    assert stack.slack.messages(CHANNEL) == []

    answer = server.send(ehpc_event(CLUSTER))

    assert answer.status_code == 202
    wait_for(lambda: len(stack.slack.messages(CHANNEL)) == 1, why="the task's Slack message", logs=processes)
    assert processes.count_in_logs(*BEAT_SENT_A_POLL) == 0, "beat polled first: the hint proved nothing"
    assert "Adding compute nodes" in stack.slack.messages(CHANNEL)[0].text
