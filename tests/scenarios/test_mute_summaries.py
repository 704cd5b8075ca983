"""Mute summaries are claimed, posted, then released (issue 10, row 5).

End to end with a real ``ehpc-bridge worker``, the simulator over HTTP and the Slack stand-in: two muted
clusters in one channel; their mutes end; the first summary post fails with a 503. Nothing is lost, the
other cluster's summary is not held up, the failed one is posted once on the next run, and a transition
after the end is delivered normally. The mute check is queued the way beat queues it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.policy import MUTE_SUMMARY_EVENT
from integrations.slack.standin import SlackStandIn
from tests.fixtures.channel import ChannelView
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from tests.fixtures.processes import Processes, undelivered, wait_for
from worker.detect.diff import task_key_of

pytestmark = pytest.mark.slow

CLUSTERS = ("ehpc-hz-mute0001", "ehpc-hz-mute0002")


@pytest.fixture
def stack(simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str) -> Stack:
    """Two clusters notifying one channel."""
    return make_stack(simulator=simulator, slack=slack_standin, prefix=redis_prefix, clusters=CLUSTERS)


def check_mutes(processes: Processes) -> None:
    """What beat does every 30 s: end due mutes and post every claimed summary."""
    processes.client.send_task("ehpc.expire_mutes", queue="deliver")


def test_a_summary_whose_post_fails_is_posted_once_later_and_holds_up_no_other(
    stack: Stack, processes: Processes
) -> None:
    rt, sim = stack.runtime, stack.simulator.simulator
    view = ChannelView(stack.slack, CHANNEL)
    processes.start("worker", "--concurrency", "4")
    for cluster_id in CLUSTERS:
        processes.poll_and_wait(cluster_id)  # baseline
    now = datetime.now(UTC)
    for cluster_id in CLUSTERS:
        rt.mutes.mute(cluster_id=cluster_id, until=now + timedelta(hours=1), reason="", user_id="U1", now=now)
    tasks = {
        cluster_id: [
            sim.start_task(cluster_id, "AddComputes", total_steps=2, step_seconds=10) for _ in range(3)
        ]
        for cluster_id in CLUSTERS
    }
    keys = [task_key_of(cluster_id=c, task_id=t) for c, ids in tasks.items() for t in ids]
    for cluster_id in CLUSTERS:
        processes.poll_and_wait(cluster_id)  # three STARTED each, held by the mute
    wait_for(lambda: not undelivered(stack, keys), why="the held transitions to be kept", logs=processes)
    assert stack.slack.messages(CHANNEL) == []
    for cluster_id in CLUSTERS:  # the mutes end (/ehpc unmute): both summaries are claimed
        assert rt.mutes.unmute(cluster_id=cluster_id, now=datetime.now(UTC)) is not None
    stack.slack.fail_next(status=503, error="service_unavailable", event_type=MUTE_SUMMARY_EVENT)

    check_mutes(processes)
    wait_for(lambda: view.calls("chat.postMessage", event_type=MUTE_SUMMARY_EVENT) == 2, why="two attempts")
    wait_for(lambda: len(rt.mutes.pending()) == 1, why="one summary left pending", logs=processes)
    assert len(view.messages_of(MUTE_SUMMARY_EVENT)) == 1, "the other cluster's summary was not held up"
    check_mutes(processes)
    wait_for(lambda: not rt.mutes.pending(), why="the failed summary to be posted", logs=processes)
    check_mutes(processes)  # a further run finds nothing to post

    sim.advance(30)
    for cluster_id in CLUSTERS:
        processes.poll_and_wait(cluster_id)  # after the mute: the FINISHED go out normally
    wait_for(lambda: not undelivered(stack, keys), why="the finals", logs=processes)
    wait_for(lambda: len(view.parents()) == len(keys), why="one message per task", logs=processes)

    summaries = view.messages_of(MUTE_SUMMARY_EVENT)
    assert len(summaries) == 2, "one summary per mute, none twice"
    for cluster_id, task_ids in tasks.items():
        [summary] = [s for s in summaries if cluster_id in str((s.metadata or {}).get("event_payload"))]
        assert all(task_id in str(summary.blocks) for task_id in task_ids), "every held task is in it"
        assert "3 changes on 3 tasks" in str(summary.blocks), "each held transition once"
    assert all(len(own) == 1 and "Succeeded" in own[0].text for own in view.parents().values())
    assert view.calls("chat.postMessage", event_type=MUTE_SUMMARY_EVENT) == 3
