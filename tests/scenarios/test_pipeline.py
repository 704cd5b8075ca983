"""The pipeline end to end without Celery: simulator over HTTP → Redis → Slack stand-in, called directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.policy import DIGEST_BACKLOG
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from worker.deliver.delivery import channel_backlog, deliver, drain_channel
from worker.deliver.dispatch import dispatch
from worker.detect.poll import poll_cluster

CLUSTER = "ehpc-hz-pipe0001"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def cycle(stack: Stack, *, at: datetime) -> None:
    """One beat tick: poll, dispatch, and run every scheduled delivery to completion."""
    rt = stack.runtime
    poll_cluster(rt, cluster_id=CLUSTER, now=at)
    scheduled: list[tuple[str, str]] = []
    dispatch(rt, consumer="test", enqueue=lambda destination, key: scheduled.append((destination, key)))
    for destination, task_key in scheduled:
        outcome = deliver(rt, destination=destination, task_key=task_key, now=at)
        assert outcome.wait == 0


def parents(stack: Stack) -> list[str]:
    return [message.text for message in stack.slack.messages(CHANNEL)]


def test_a_task_lifecycle_is_one_message_edited_in_place_and_one_thread_reply(stack: Stack) -> None:
    sim = stack.simulator.simulator
    cycle(stack, at=T0)  # baseline: nothing running yet
    sim.start_task(CLUSTER, "AddComputes", total_steps=3, step_seconds=10, outcome="Success", nodes=2)
    for minute in range(1, 6):
        cycle(stack, at=T0 + timedelta(minutes=minute))
        sim.advance(10)

    [parent] = stack.slack.messages(CHANNEL)
    assert parent.text.startswith(
        f"Adding compute nodes on {CLUSTER}: :white_check_mark: Succeeded · ▓▓▓▓▓▓▓▓▓▓ 3/3 (100%) · 3m 00s · "
    )
    shown_before = [text.split(" · ")[1] for text, _blocks in parent.edits]
    assert shown_before == ["░░░░░░░░░░ 0/3 (0%)", "▓▓▓░░░░░░░ 1/3 (33%)", "▓▓▓▓▓▓▓░░░ 2/3 (67%)"]
    [reply] = stack.slack.replies(CHANNEL, parent.ts)
    head, *nodes = reply.text.split("\n")
    assert (
        head
        == f":white_check_mark: *Adding compute nodes* on *{CLUSTER}* finished: :white_check_mark: Succeeded"
    )
    assert nodes[0] == "*Nodes added* (2)"
    assert [line.split("`")[1] for line in nodes[1:]] == ["compute0", "compute1"]


def test_a_task_that_starts_and_ends_between_two_polls_is_announced_once_as_finished(stack: Stack) -> None:
    sim = stack.simulator.simulator
    cycle(stack, at=T0)
    sim.start_task(CLUSTER, "StopComputes", total_steps=2, step_seconds=5, outcome="Fail")
    sim.advance(60)
    cycle(stack, at=T0 + timedelta(minutes=1))
    cycle(stack, at=T0 + timedelta(minutes=2))

    [parent] = stack.slack.messages(CHANNEL)
    assert "Stopping compute nodes" in parent.text
    assert len(stack.slack.replies(CHANNEL, parent.ts)) == 1


def test_history_found_on_the_first_poll_is_not_announced(stack: Stack) -> None:
    stack.simulator.simulator.add_tasks(CLUSTER, 30, status="Success")
    cycle(stack, at=T0)
    cycle(stack, at=T0 + timedelta(minutes=1))

    assert parents(stack) == []


def test_delivering_the_same_task_twice_sends_nothing_the_second_time(stack: Stack) -> None:
    sim = stack.simulator.simulator
    cycle(stack, at=T0)
    sim.start_task(CLUSTER, "AddComputes", total_steps=2)
    cycle(stack, at=T0 + timedelta(minutes=1))
    task_key = stack.runtime.state.running_task_ids(cluster_id=CLUSTER).pop()

    again = deliver(stack.runtime, destination="slack", task_key=f"{CLUSTER}/{task_key}", now=T0)

    assert again.sent == 0
    assert len(parents(stack)) == 1


def test_a_backlog_over_the_channel_budget_becomes_one_digest_and_drops_nothing(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str
) -> None:
    stack = make_stack(
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        clusters=(CLUSTER,),
        EHPC_SLACK_RATE=0.02,
        EHPC_SLACK_BURST=3,
    )
    rt = stack.runtime
    poll_cluster(rt, cluster_id=CLUSTER, now=T0)
    for _ in range(DIGEST_BACKLOG + 4):
        simulator.simulator.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=5)
    simulator.simulator.advance(60)
    poll_cluster(rt, cluster_id=CLUSTER, now=T0 + timedelta(minutes=1))
    scheduled: list[tuple[str, str]] = []
    dispatch(rt, consumer="test", enqueue=lambda destination, key: scheduled.append((destination, key)))
    outcomes = [deliver(rt, destination=d, task_key=k, now=T0) for d, k in scheduled]
    rt.redis.delete(rt.keys.slack_budget(channel=CHANNEL))  # time passes: the bucket refills

    while drain_channel(rt, destination="slack", cluster_id=CLUSTER, now=T0) > 0:
        rt.redis.delete(rt.keys.slack_budget(channel=CHANNEL))

    assert sum(outcome.sent for outcome in outcomes) == 3
    parked = [
        key.split("/")[1]
        for (_, key), outcome in zip(scheduled, outcomes, strict=True)
        if outcome.digest_after is not None
    ]
    assert len(parked) == DIGEST_BACKLOG + 1
    messages = slack_standin.messages(CHANNEL)
    assert len(messages) == 4
    digest = messages[-1]
    assert digest.text.startswith(f"{len(parked)} E-HPC tasks finished")
    assert all(task_id in str(digest.blocks) for task_id in parked)
    backlog = channel_backlog(rt, "slack", CLUSTER)
    assert rt.backlog.size(backlog) == 0
    assert rt.digests.current(backlog) is None
    assert not [
        key
        for _, key in scheduled
        if rt.state.transitions_after(
            task_key=key, sequence=rt.ledger.cursor(destination="slack", task_key=key)
        )
    ], "every cursor moved past what was announced"
