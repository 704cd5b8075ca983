"""Rebuilding a lost state from the Slack channel, in process: simulator over HTTP, stand-in, real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from integrations.slack.standin import StoredMessage
from tests.fixtures.pipeline import CHANNEL, Stack
from worker.deliver.delivery import deliver
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
        assert deliver(rt, destination=destination, task_key=task_key, now=at).wait == 0


def lose_the_state(stack: Stack, redis_client: redis.Redis) -> None:
    """Every key of this deployment gone at once, as FLUSHDB (the shared test Redis: by prefix)."""
    for key in redis_client.scan_iter(match=f"{stack.runtime.settings.redis_prefix}:*", count=1000):
        redis_client.delete(key)


def of_kind(stack: Stack, event_type: str) -> list[StoredMessage]:
    return [m for m in stack.slack.messages(CHANNEL) if (m.metadata or {}).get("event_type") == event_type]


def test_after_the_state_is_lost_running_tasks_keep_their_message_and_ended_ones_show_their_end(
    stack: Stack, redis_client: redis.Redis
) -> None:
    sim = stack.simulator.simulator
    cycle(stack, at=T0)
    sim.start_task(CLUSTER, "AddComputes", total_steps=3, step_seconds=10, outcome="Fail", nodes=2)
    sim.start_task(CLUSTER, "StopCluster", total_steps=9, step_seconds=10, outcome="Success")
    cycle(stack, at=T0 + timedelta(minutes=1))
    assert len(of_kind(stack, "ehpc_task")) == 2

    lose_the_state(stack, redis_client)
    sim.advance(40)  # AddComputes fails meanwhile, StopCluster keeps running
    cycle(stack, at=T0 + timedelta(minutes=2))
    sim.advance(60)
    cycle(stack, at=T0 + timedelta(minutes=3))
    cycle(stack, at=T0 + timedelta(minutes=4))

    parents = of_kind(stack, "ehpc_task")
    assert len(parents) == 2, "no second parent for a task already posted"
    for parent in parents:
        assert parent.metadata is not None
        assert parent.metadata["event_payload"]["final"] is True
        assert len(stack.slack.replies(CHANNEL, parent.ts)) == 1
    assert {"Failed", "Succeeded"} == {
        word for p in parents for word in ("Failed", "Succeeded") if word in p.text
    }
    [notice] = of_kind(stack, "ehpc_state_rebuilt")
    assert "2 task message(s) found, 2 still unfinished" in notice.blocks[0]["text"]["text"]


def test_a_new_deployment_finds_nothing_to_rebuild_and_says_nothing(stack: Stack) -> None:
    cycle(stack, at=T0)

    assert stack.slack.messages(CHANNEL) == []
    assert [r.api_method for r in stack.slack.requests()] == ["conversations.history"]


def test_a_rebuild_that_runs_again_posts_no_second_notice(stack: Stack, redis_client: redis.Redis) -> None:
    sim = stack.simulator.simulator
    cycle(stack, at=T0)
    sim.start_task(CLUSTER, "AddComputes", total_steps=3, step_seconds=10, outcome="Success")
    cycle(stack, at=T0 + timedelta(minutes=1))

    for minute in (2, 3):  # lost twice before anything new was posted
        lose_the_state(stack, redis_client)
        cycle(stack, at=T0 + timedelta(minutes=minute))

    assert len(of_kind(stack, "ehpc_state_rebuilt")) == 1
    assert len(of_kind(stack, "ehpc_task")) == 1


def test_an_epoch_missing_while_redis_still_knows_everything_rebuilds_nothing_and_says_nothing(
    stack: Stack, redis_client: redis.Redis
) -> None:
    sim = stack.simulator.simulator
    cycle(stack, at=T0)
    sim.start_task(CLUSTER, "AddComputes", total_steps=3, step_seconds=10, outcome="Success")
    cycle(stack, at=T0 + timedelta(minutes=1))
    redis_client.delete(stack.runtime.keys.epoch())  # an upgrade from before the epoch

    cycle(stack, at=T0 + timedelta(minutes=2))

    assert of_kind(stack, "ehpc_state_rebuilt") == []
    assert len(of_kind(stack, "ehpc_task")) == 1
