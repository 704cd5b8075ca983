"""Cluster mutes in real Redis: held transitions, the end (by expiry or unmute) exactly once, the summary."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import redis
from slack_sdk import WebClient

from integrations.base import Transition
from integrations.ehpc.task import TaskStatus
from integrations.slack.answers import render_mute_summary
from integrations.slack.standin import SlackStandIn
from tests.fixtures.slack import make_task
from worker.deliver.mutes import Mutes, MuteSummary
from worker.detect.diff import ClusterRef, Source, TaskState
from worker.store.keys import Keys

CLUSTER = "ehpc-hz-test0001"
CHANNEL = "C0HPCOPS"
NOW = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _transitions(client: redis.Redis, keys: Keys, *statuses: TaskStatus) -> list[Transition]:
    """One task going through ``statuses``, recorded by the state tracker; its transitions, in order."""
    state = TaskState(client=client, keys=keys)
    cluster = ClusterRef(cluster_id=CLUSTER, name="Hangzhou prod")
    found: list[Transition] = []
    for step, status in enumerate(statuses, 1):
        task = make_task(
            task_id="B745C159-3155-4B94-95D0-4B73D4D2A1B2",
            cluster_id=CLUSTER,
            status=status,
            raw_status=status.value,
            current_step=step,
            total_steps=5,
        )
        moment = NOW + timedelta(minutes=step)
        found += state.observe_page(cluster=cluster, tasks=[task], now=moment, source=Source.RUNNING)
    return found


def _mutes(client: redis.Redis, prefix: str) -> tuple[Mutes, Keys]:
    keys = Keys(prefix=prefix)
    return Mutes(client=client, keys=keys), keys


def test_a_mute_that_expires_posts_the_summary_of_what_it_held(
    redis_client: redis.Redis, redis_prefix: str, slack_standin: SlackStandIn
) -> None:
    mutes, keys = _mutes(redis_client, redis_prefix)
    mutes.mute(cluster_id=CLUSTER, until=NOW + HOUR, reason="upgrade", user_id="U0ADMIN", now=NOW)
    held = _transitions(redis_client, keys, TaskStatus.PROCESSING, TaskStatus.PROCESSING, TaskStatus.SUCCESS)
    assert [mutes.record_suppressed(CLUSTER, t, now=NOW + timedelta(minutes=5)) for t in held] == [True] * 3

    assert mutes.expire_due(NOW + HOUR - timedelta(seconds=1)) == []
    (summary,) = mutes.expire_due(NOW + HOUR + timedelta(seconds=30))

    assert summary.transitions == tuple(held)
    assert summary.ended_at == NOW + HOUR
    assert summary.mute.reason == "upgrade"
    assert summary.mute.started_at == NOW
    web = WebClient(token="xoxb-test-token", base_url=slack_standin.base_url)
    notice = summary.notice(cluster_name="Hangzhou prod")
    message = render_mute_summary(
        cluster_name=notice.cluster_name,
        started_at=notice.started_at,
        ended_at=notice.ended_at,
        transitions=notice.transitions,
    )
    web.chat_postMessage(channel=CHANNEL, text=message.text, blocks=message.block_list())
    (posted,) = slack_standin.messages(CHANNEL)
    assert "3 changes on 1 task" in str(posted.blocks)
    assert ":white_check_mark:" in str(posted.blocks)
    assert mutes.expire_due(NOW + 2 * HOUR) == []  # once
    assert not redis_client.exists(keys.muted_transitions(cluster_id=CLUSTER))


def test_a_mute_is_current_until_its_end(redis_client: redis.Redis, redis_prefix: str) -> None:
    mutes, _ = _mutes(redis_client, redis_prefix)
    assert mutes.current(CLUSTER, now=NOW) is None
    mutes.mute(cluster_id=CLUSTER, until=NOW + HOUR, reason="", user_id="U0ADMIN", now=NOW)
    assert mutes.current(CLUSTER, now=NOW + HOUR - timedelta(seconds=1)) is not None
    assert mutes.current(CLUSTER, now=NOW + HOUR) is None  # over, even before beat ends it


def test_a_transition_after_the_end_is_not_held(redis_client: redis.Redis, redis_prefix: str) -> None:
    mutes, keys = _mutes(redis_client, redis_prefix)
    mutes.mute(cluster_id=CLUSTER, until=NOW + HOUR, reason="", user_id="U0ADMIN", now=NOW)
    (started,) = _transitions(redis_client, keys, TaskStatus.PROCESSING)
    assert not mutes.record_suppressed(CLUSTER, started, now=NOW + HOUR)
    assert not mutes.record_suppressed("ehpc-hz-notmuted", started, now=NOW)


def test_muting_again_moves_the_end_and_keeps_what_was_held(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    mutes, keys = _mutes(redis_client, redis_prefix)
    mutes.mute(cluster_id=CLUSTER, until=NOW + HOUR, reason="first", user_id="U0ADMIN", now=NOW)
    (started,) = _transitions(redis_client, keys, TaskStatus.PROCESSING)
    assert mutes.record_suppressed(CLUSTER, started, now=NOW)
    later = NOW + timedelta(minutes=30)
    extended = mutes.mute(
        cluster_id=CLUSTER, until=later + HOUR, reason="longer", user_id="U0OTHER", now=later
    )

    assert extended.started_at == NOW
    assert mutes.expire_due(NOW + HOUR) == []
    (summary,) = mutes.expire_due(later + HOUR)
    assert summary.transitions == (started,)
    assert summary.mute.reason == "longer"


def test_unmute_ends_the_mute_early_with_its_summary(redis_client: redis.Redis, redis_prefix: str) -> None:
    mutes, _ = _mutes(redis_client, redis_prefix)
    mutes.mute(cluster_id=CLUSTER, until=NOW + HOUR, reason="", user_id="U0ADMIN", now=NOW)
    summary = mutes.unmute(cluster_id=CLUSTER, now=NOW + timedelta(minutes=10))
    assert summary is not None
    assert summary.ended_at == NOW + timedelta(minutes=10)
    assert summary.transitions == ()
    assert mutes.unmute(cluster_id=CLUSTER, now=NOW + timedelta(minutes=11)) is None
    assert mutes.expire_due(NOW + 2 * HOUR) == []


def test_two_beats_ending_the_same_mute_get_one_summary(redis_client: redis.Redis, redis_prefix: str) -> None:
    first, keys = _mutes(redis_client, redis_prefix)
    second = Mutes(client=redis.Redis(connection_pool=redis_client.connection_pool), keys=keys)
    first.mute(cluster_id=CLUSTER, until=NOW + HOUR, reason="", user_id="U0ADMIN", now=NOW)
    barrier = threading.Barrier(2, timeout=10)
    results: list[list[MuteSummary]] = []

    def beat(mutes: Mutes) -> None:
        barrier.wait()
        results.append(mutes.expire_due(NOW + 2 * HOUR))

    threads = [threading.Thread(target=beat, args=(mutes,)) for mutes in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(len(found) for found in results) == [0, 1]
