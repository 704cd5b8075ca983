"""``/ehpc status``, ``history``, ``failures`` with *Retry*, and the App Home, over signed HTTP.

Every answer is validated against the Block Kit schema (ack bodies, ``response_url`` posts; the Home view
against ``$defs/home_view``) and every Web API call against Slack's spec (the stand-in's fixture). Each
answer comes from Redis alone: the E-HPC simulator sees no request while it is built.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from integrations.base import MessageRef, TransitionKind
from integrations.ehpc.task import TaskStatus
from integrations.slack.commands import ACTION_RETRY
from tests.fixtures.slack import home_view_violations, make_transition
from tests.fixtures.slack_app import (
    ADMIN,
    CHANNEL,
    CLUSTER,
    CLUSTER_NAME,
    MEMBER,
    NOW,
    Harness,
    HarnessFactory,
)
from worker.deliver.dead_letters import DeadLetters
from worker.deliver.message_refs import RedisMessageRefs
from worker.detect.diff import ClusterRef, Source
from worker.slack_app.access import AccessPolicy, ClusterAccess

STALE_CLUSTER = "ehpc-hz-stale0009"
FAILING_CLUSTER = "ehpc-hz-fail0008"


def _text(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks", []), ensure_ascii=False) + payload.get("text", "")


def _buttons(payload: dict[str, Any], action_id: str) -> list[str]:
    return [
        element["value"]
        for block in payload.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    ]


def _board(make_harness: HarnessFactory) -> Harness:
    """Three clusters in CHANNEL: CLUSTER healthy, one whose last poll failed, one never polled."""
    return make_harness(
        AccessPolicy(
            clusters=[
                ClusterAccess(CLUSTER, CLUSTER_NAME, (CHANNEL,), mute_users=frozenset({ADMIN})),
                ClusterAccess(FAILING_CLUSTER, "Shanghai <b>lab</b>", (CHANNEL,)),
                ClusterAccess(STALE_CLUSTER, "Beijing", (CHANNEL,)),
            ]
        )
    )


def _finish(harness: Harness, task_id: str) -> None:
    harness.sim.clock.advance(3600)
    finished = harness.live.get_task(CLUSTER, task_id)
    assert finished is not None
    assert finished.status.is_final
    cluster = ClusterRef(cluster_id=CLUSTER, name=CLUSTER_NAME)
    harness.state.observe_page(
        cluster=cluster, tasks=[finished], now=harness.clock.now(), source=Source.LOOKUP
    )


def test_status_shows_every_cluster_of_the_channel_worst_first(make_harness: HarnessFactory) -> None:
    harness = _board(make_harness)
    running = harness.sim.start_task(CLUSTER, "AddComputes", total_steps=10, step_seconds=60)
    harness.sim.clock.advance(120)
    harness.observe()
    harness.lookup.record_poll(cluster_id=CLUSTER, at=NOW - timedelta(seconds=20), error=None)
    harness.lookup.record_poll(cluster_id=FAILING_CLUSTER, at=NOW - timedelta(minutes=10), error=None)
    harness.lookup.record_poll(
        cluster_id=FAILING_CLUSTER, at=NOW - timedelta(minutes=1), error="Throttling: <!channel> slow down"
    )
    harness.mutes.mute(cluster_id=CLUSTER, until=NOW + timedelta(hours=2), reason="", user_id=ADMIN, now=NOW)
    asked_before = len(harness.sim.requests)

    answer = harness.command("status").json()

    assert len(harness.sim.requests) == asked_before  # from Redis alone: E-HPC is not asked
    assert answer["response_type"] == "ephemeral"
    lines = [block["text"]["text"] for block in answer["blocks"] if block["type"] == "section"]
    assert lines[0].startswith("*3 clusters*")
    assert ":red_circle: 1 failing" in lines[0]
    assert ":large_yellow_circle: 1 stale" in lines[0]
    failing, stale, healthy = lines[1:4]
    assert failing.startswith(":red_circle: *Shanghai &lt;b&gt;lab&lt;/b&gt;*")
    assert "last good poll 10m ago" in failing
    assert "last API error (1m ago): Throttling: &lt;!channel&gt; slow down" in failing
    assert stale.startswith(":large_yellow_circle: *Beijing*")
    assert "no successful poll yet" in stale
    assert healthy.startswith(f":large_green_circle: *{CLUSTER_NAME}*")
    assert "last good poll 20s ago" in healthy
    assert "1 running: Adding compute nodes ▓▓░░░░░░░░ 2/10 (20%)" in healthy
    assert ":mute: muted until 2026-11-27 00:00 UTC" in healthy
    assert running not in _text(answer)  # one line per cluster: tasks by name and progress


def test_status_turns_stale_when_polls_stop(make_harness: HarnessFactory) -> None:
    harness = _board(make_harness)
    harness.lookup.record_poll(cluster_id=CLUSTER, at=NOW - timedelta(minutes=5), error=None)  # 10 intervals
    text = _text(harness.command("status").json())
    assert f":large_yellow_circle: *{CLUSTER_NAME}*" in text
    assert "last good poll 5m ago" in text


def test_status_from_another_channel_is_refused(harness: Harness) -> None:
    text = _text(harness.command("status", channel="C0NOBODY").json())
    assert "no watched cluster belongs to this channel" in text


def test_history_lists_finished_tasks_with_outcome_duration_and_link(harness: Harness) -> None:
    first = harness.sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=30)
    harness.observe()
    harness.clock.moment += timedelta(minutes=3)
    _finish(harness, first)
    refs = RedisMessageRefs(
        client=harness.redis,
        key_for=lambda task_key: harness.keys.slack_message(destination="slack", task_key=task_key),
    )
    refs.put(f"{CLUSTER}/{first}", MessageRef(channel=CHANNEL, ts="1795734662.487433", sequence=2))
    harness.clock.moment += timedelta(hours=2)
    second = harness.sim.start_task(CLUSTER, "StopComputes", total_steps=1, step_seconds=10, outcome="Fail")
    harness.observe()
    harness.clock.moment += timedelta(seconds=45)
    _finish(harness, second)
    asked_before = len(harness.sim.requests)

    newest = harness.command(f"history {CLUSTER}").json()
    window = harness.command(f"history {CLUSTER} 1h").json()

    assert len(harness.sim.requests) == asked_before
    text = _text(newest)
    assert "2 finished tasks (newest 10)" in text
    assert text.index(second) < text.index(first)
    assert "Fail · took 45s · finished 0s ago" in text
    assert "Success · took 3m 00s · finished 2h ago" in text
    assert f"<https://test.slack.com/archives/{CHANNEL}/p1795734662487433|message>" in text
    assert "1 finished task (last 1h)" in _text(window)
    assert first not in _text(window)


def test_history_rejects_a_bad_window_and_another_channels_cluster(harness: Harness) -> None:
    assert "neither a count from 1 to 100 nor a window" in _text(
        harness.command(f"history {CLUSTER} 9y").json()
    )
    assert "does not belong to this channel" in _text(
        harness.command(f"history {CLUSTER}", channel="C0RANDOM").json()
    )


def _dead_letter(harness: Harness, **task: Any) -> None:
    transition = make_transition(
        TransitionKind.FINISHED,
        sequence=3,
        cluster_id=CLUSTER,
        task_id="B745C159-3155-4B94-95D0-4B73D4D20001",
        status=TaskStatus.FAIL,
        raw_status="Fail",
        **task,
    )
    DeadLetters(client=harness.redis, keys=harness.keys).add(
        destination="slack", transition=transition, error="channel_not_found <@U0EVERYONE>", now=NOW
    )


def test_no_failures_says_so(harness: Harness) -> None:
    assert "Nothing was given up on" in _text(harness.command("failures", user=ADMIN).json())


def test_failures_are_for_those_who_may_mute(harness: Harness) -> None:
    _dead_letter(harness)
    refused = _text(harness.command("failures", user=MEMBER).json())
    assert "is for the people who may mute" in refused
    assert "B745C159" not in refused

    answer = harness.command("failures", user=ADMIN).json()
    text = _text(answer)
    assert "1 transition given up on" in text
    assert "B745C159-3155-4B94-95D0-4B73D4D20001" in text
    assert "channel_not_found &lt;@U0EVERYONE&gt;" in text
    assert len(_buttons(answer, ACTION_RETRY)) == 1


def test_retry_re_delivers_the_transition_once(harness: Harness) -> None:
    _dead_letter(harness)
    (letter_id,) = _buttons(harness.command("failures", user=ADMIN).json(), ACTION_RETRY)

    harness.action(ACTION_RETRY, letter_id, user=MEMBER)  # may not mute: refused, nothing sent
    harness.action(ACTION_RETRY, letter_id, user=ADMIN)
    harness.action(ACTION_RETRY, letter_id, user=ADMIN)  # a second press
    harness.settle()

    answers = [_text(body) for body in harness.responses.wait_for(3)]
    assert sum(":no_entry_sign:" in answer for answer in answers) == 1
    assert sum("Re-delivered" in answer for answer in answers) == 1
    # the presses run concurrently: the second either finds it under way or already delivered
    second = ("already retried", "already re-delivered", "under way already")
    assert sum(any(words in answer for words in second) for answer in answers) == 1
    (posted,) = harness.standin.messages(CHANNEL)  # the task's message, once
    assert "B745C159" in json.dumps(posted.blocks)
    assert harness.redis.xlen(harness.keys.dead_letters()) == 0


def test_a_failed_retry_keeps_the_dead_letter(harness: Harness) -> None:
    _dead_letter(harness)
    (letter_id,) = _buttons(harness.command("failures", user=ADMIN).json(), ACTION_RETRY)
    harness.standin.fail_next(status=200, error="channel_not_found")

    harness.action(ACTION_RETRY, letter_id, user=ADMIN)
    harness.settle()

    (answer,) = harness.responses.wait_for(1)
    assert "failed again" in _text(answer)
    assert harness.redis.xlen(harness.keys.dead_letters()) == 1


def test_app_home_shows_the_board_of_the_clusters_naming_the_user(make_harness: HarnessFactory) -> None:
    harness = make_harness(
        AccessPolicy(
            clusters=[
                ClusterAccess(CLUSTER, CLUSTER_NAME, (CHANNEL,), lookup_users=frozenset({MEMBER})),
                ClusterAccess(FAILING_CLUSTER, "Private lab", (CHANNEL,), lookup_users=frozenset({ADMIN})),
                ClusterAccess(STALE_CLUSTER, "Beijing", (CHANNEL,)),
            ]
        )
    )
    harness.lookup.record_poll(cluster_id=CLUSTER, at=NOW - timedelta(seconds=5), error=None)
    home_opened = {
        "type": "app_home_opened",
        "user": MEMBER,
        "channel": "D0HOME",
        "tab": "home",
        "event_ts": "1.2",
    }

    assert harness.event(home_opened).status_code == 200
    harness.settle()

    view = harness.standin.workspace.home_view(MEMBER)
    assert view is not None
    assert home_view_violations(view) == []
    text = json.dumps(view, ensure_ascii=False)
    assert f":large_green_circle: *{CLUSTER_NAME}*" in text
    assert "Private lab" not in text  # named for someone else
    assert "1 more cluster is open to the members of their channels" in text
