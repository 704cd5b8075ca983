"""The E-HPC 2.0 poll path in process: simulator over HTTP (2024 API) → Redis → Slack stand-in.

The runtime's 2.0 windows end at the simulator's clock (``runtime.wall``), so moving the virtual clock
moves the cloud's "now" for both sides.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.ehpc.errors import RetryableEhpcError
from integrations.ehpc.simulator import Fault, SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from worker.deliver.delivery import deliver
from worker.deliver.dispatch import dispatch
from worker.detect.poll import poll_cluster, preview_poll
from worker.detect.poll2024 import generation_of

OLD = "ehpc-hz-old00001"
NEXT = "ehpc-hz-next0001"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def two_generation_stack(
    simulator: SimulatorServer, slack: SlackStandIn, prefix: str, *, api: str = "auto"
) -> Stack:
    simulator.simulator.add_cluster(NEXT, generation="2.0")
    stack = make_stack(
        simulator=simulator,
        slack=slack,
        prefix=prefix,
        clusters=(OLD,),
        EHPC_CLUSTERS=f"{OLD},{NEXT}",
        EHPC_API=api,
    )
    stack.runtime.wall = simulator.simulator.unix_now
    return stack


@pytest.fixture
def stack(simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str) -> Stack:
    return two_generation_stack(simulator, slack_standin, redis_prefix)


def cycle(stack: Stack, *, cluster: str, at: datetime) -> None:
    """One tick for ``cluster``: poll, dispatch, deliver everything scheduled."""
    rt = stack.runtime
    poll_cluster(rt, cluster_id=cluster, now=at)
    scheduled: list[tuple[str, str]] = []
    dispatch(rt, consumer="test", enqueue=lambda destination, key: scheduled.append((destination, key)))
    for destination, task_key in scheduled:
        assert deliver(rt, destination=destination, task_key=task_key, now=at).wait == 0


def actions(stack: Stack) -> list[str | None]:
    return [record.action for record in stack.simulator.simulator.requests]


def test_auto_asks_the_2024_api_once_and_remembers(stack: Stack) -> None:
    rt = stack.runtime

    assert generation_of(rt, cluster_id=NEXT) == "2.0"
    assert generation_of(rt, cluster_id=NEXT) == "2.0"
    assert generation_of(rt, cluster_id=OLD) == "1.0"

    assert actions(stack) == ["ListClusters", "ListClusters"]  # once per cluster, then from Redis
    assert rt.redis.get(rt.keys.generation(cluster_id=NEXT)) == b"2.0"


@pytest.mark.parametrize(("api", "generation"), [("2018-04-12", "1.0"), ("2024-07-30", "2.0")])
def test_an_explicit_api_asks_nothing(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str, api: str, generation: str
) -> None:
    stack = two_generation_stack(simulator, slack_standin, redis_prefix, api=api)

    assert generation_of(stack.runtime, cluster_id=NEXT) == generation
    assert actions(stack) == []


def test_auto_treats_a_2024_refusal_as_1_0_for_now(stack: Stack) -> None:
    stack.simulator.simulator.inject(Fault.error("NotAuthorized"))

    assert generation_of(stack.runtime, cluster_id=NEXT) == "1.0"
    assert stack.runtime.redis.ttl(stack.runtime.keys.generation(cluster_id=NEXT)) > 0  # asked again later


def test_a_2_0_operation_is_one_message_edited_with_stages_and_one_final_reply(stack: Stack) -> None:
    sim = stack.simulator.simulator
    cycle(stack, cluster=NEXT, at=T0)  # baseline
    sim.start_operation(NEXT, "CreateNodes", stages=("Prepare", "CreateInstances", "Start"), stage_seconds=10)
    for minute in range(1, 6):
        sim.advance(10)
        cycle(stack, cluster=NEXT, at=T0 + timedelta(minutes=minute))

    [parent] = stack.slack.messages(CHANNEL)
    assert "Adding compute nodes" in parent.text
    assert "Succeeded" in parent.text
    assert "3 stages done (latest: Start)" in parent.text
    progress = [text for text, _ in parent.edits]
    assert any("1 stage done (latest: Prepare)" in text for text in progress), progress
    [reply] = stack.slack.replies(CHANNEL, parent.ts)
    assert "Succeeded" in reply.text


def test_stage_errors_reach_the_final_reply(stack: Stack) -> None:
    sim = stack.simulator.simulator
    cycle(stack, cluster=NEXT, at=T0)
    sim.start_operation(
        NEXT, "DeleteNodes", outcome="Failed", stages=("A", "B", "C"), error="NodeBusy: <!channel> busy"
    )
    sim.advance(5)
    cycle(stack, cluster=NEXT, at=T0 + timedelta(minutes=1))
    sim.advance(60)
    cycle(stack, cluster=NEXT, at=T0 + timedelta(minutes=2))

    [parent] = stack.slack.messages(CHANNEL)
    [reply] = stack.slack.replies(CHANNEL, parent.ts)
    assert "Failed" in reply.text
    assert "B: Stage B failed: NodeBusy: &lt;!channel&gt; busy" in reply.text


def test_an_operation_between_two_polls_is_announced_once_as_finished(stack: Stack) -> None:
    sim = stack.simulator.simulator
    cycle(stack, cluster=NEXT, at=T0)
    sim.start_operation(NEXT, "UpdateCluster", stages=("A",), stage_seconds=5)
    sim.advance(30)
    cycle(stack, cluster=NEXT, at=T0 + timedelta(minutes=1))
    cycle(stack, cluster=NEXT, at=T0 + timedelta(minutes=2))  # the overlap shows it again: no news

    [parent] = stack.slack.messages(CHANNEL)
    assert "Updating cluster" in parent.text
    assert len(stack.slack.replies(CHANNEL, parent.ts)) == 1


def test_history_before_the_first_poll_is_not_announced(stack: Stack) -> None:
    stack.simulator.simulator.add_logs(NEXT, 30)
    cycle(stack, cluster=NEXT, at=T0)
    cycle(stack, cluster=NEXT, at=T0 + timedelta(minutes=1))

    assert stack.slack.messages(CHANNEL) == []


def test_stages_are_read_only_when_an_operation_wrote_something_new(stack: Stack) -> None:
    sim = stack.simulator.simulator
    cycle(stack, cluster=NEXT, at=T0)
    sim.start_operation(NEXT, "CreateNodes", stages=("A", "B"), stage_seconds=600)
    sim.advance(1)
    for minute in range(1, 5):  # nothing new written during these polls
        cycle(stack, cluster=NEXT, at=T0 + timedelta(minutes=minute))
        sim.advance(1)

    assert actions(stack).count("GetCommonLogDetail") == 1
    assert actions(stack).count("ListCommonLogs") == 5


def test_the_watermark_moves_the_window_and_the_overlap_covers_it(stack: Stack) -> None:
    sim = stack.simulator.simulator
    rt = stack.runtime
    cycle(stack, cluster=NEXT, at=T0)
    first = rt.oplog.watermark(cluster_id=NEXT)
    sim.advance(30)
    cycle(stack, cluster=NEXT, at=T0 + timedelta(minutes=1))

    windows = [r.params for r in sim.requests if r.action == "ListCommonLogs"]
    assert first is not None
    assert int(windows[1]["From"]) == int(first - rt.settings.oplog_overlap)
    assert int(windows[1]["To"]) == int(first) + 30
    assert rt.oplog.watermark(cluster_id=NEXT) == int(first) + 30


def test_a_failed_poll_keeps_the_watermark(stack: Stack) -> None:
    rt = stack.runtime
    cycle(stack, cluster=NEXT, at=T0)
    before = rt.oplog.watermark(cluster_id=NEXT)
    stack.simulator.simulator.advance(30)
    stack.simulator.simulator.inject(Fault.error("ServiceUnavailable"))

    with pytest.raises(RetryableEhpcError):
        poll_cluster(rt, cluster_id=NEXT, now=T0 + timedelta(minutes=1))

    assert rt.oplog.watermark(cluster_id=NEXT) == before


def test_the_1_0_cluster_beside_it_still_uses_list_tasks(stack: Stack) -> None:
    sim = stack.simulator.simulator
    cycle(stack, cluster=OLD, at=T0)
    sim.start_task(OLD, "AddComputes", total_steps=2, step_seconds=10)
    sim.advance(5)
    cycle(stack, cluster=OLD, at=T0 + timedelta(minutes=1))

    assert "ListTasks" in actions(stack)
    assert "ListCommonLogs" not in actions(stack)
    [parent] = stack.slack.messages(CHANNEL)
    assert "Adding compute nodes" in parent.text


def test_poll_once_previews_a_2_0_cluster_without_touching_the_real_state(stack: Stack) -> None:
    sim = stack.simulator.simulator
    sim.start_operation(NEXT, "CreateNodes", stages=("A", "B"))
    sim.advance(5)

    preview = preview_poll(stack.runtime, cluster_id=NEXT, now=T0)

    assert [t.kind.value for t in preview] == ["started"]
    assert stack.runtime.oplog.watermark(cluster_id=NEXT) is None
