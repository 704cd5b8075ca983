"""The Slack renderers as pure functions: content, escaping, Slack's limits, and Block Kit validity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from integrations.base import Transition, TransitionKind
from integrations.ehpc.task import Instance, TaskError, TaskStatus
from integrations.slack.render import (
    MAX_BLOCKS,
    SlackMessage,
    escape,
    progress_bar,
    render_cluster_problem,
    render_digest,
    render_final_reply,
    render_lost_notice,
    render_stalled_warning,
    render_task_message,
)
from tests.fixtures.slack import block_kit_violations, make_task

START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
PING = "<!channel> & <@U123>"


def all_text(message: SlackMessage) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def assert_within_limits(message: SlackMessage) -> None:
    assert block_kit_violations(message.block_list()) == []
    assert len(message.blocks) <= MAX_BLOCKS
    assert len(message.text) <= 40000
    texts = []
    for block in message.blocks:
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(obj, dict):
                assert len(obj["text"]) <= 3000
                texts.append(obj["text"])
    assert sum(len(text) for text in texts) <= 40000


def test_parent_message_shows_cluster_type_status_progress_elapsed_and_id() -> None:
    message = render_task_message(
        task=make_task(),
        cluster_name="genomics",
        first_seen=START,
        now=START + timedelta(minutes=3, seconds=7),
    )

    text = all_text(message)
    for expected in ("genomics", "Adding compute nodes", ":hourglass_flowing_sand:", "▓▓▓▓░░░░░░ 4/10 (40%)"):
        assert expected in text
    assert "3m 07s" in text
    assert "task-1" in text
    assert_within_limits(message)


@pytest.mark.parametrize(
    ("status", "emoji"),
    [
        (TaskStatus.SUCCESS, ":white_check_mark:"),
        (TaskStatus.FAIL, ":x:"),
        (TaskStatus.PARTIAL_FAIL, ":warning:"),
    ],
)
def test_final_parent_message_shows_the_status_visual(status: TaskStatus, emoji: str) -> None:
    message = render_task_message(
        task=make_task(status=status), cluster_name="c", first_seen=START, now=START
    )

    assert emoji in all_text(message)


def test_progress_bar_without_steps_says_so() -> None:
    assert progress_bar(make_task(current_step=None)) == "steps unknown"


@pytest.mark.parametrize(
    ("step", "stage", "shown"),
    [
        (None, None, "stages not read yet"),
        (0, None, "0 stages done"),
        (1, "ConfigNetwork", "1 stage done (latest: ConfigNetwork)"),
        (3, "StartNodes", "3 stages done (latest: StartNodes)"),
    ],
)
def test_a_2_0_operation_shows_stages_done_without_inventing_a_total(
    step: int | None, stage: str | None, shown: str
) -> None:
    task = make_task(generation="2.0", current_step=step, total_steps=None, stage=stage)

    message = render_task_message(task=task, cluster_name="next", first_seen=START, now=START)

    assert progress_bar(task) == shown
    assert shown in message.text
    assert "%" not in all_text(message)
    assert_within_limits(message)


def test_a_2_0_stage_name_is_escaped_and_the_stall_warning_names_it() -> None:
    task = make_task(generation="2.0", current_step=2, total_steps=None, stage=PING)

    parent = render_task_message(task=task, cluster_name="next", first_seen=START, now=START)
    stalled = render_stalled_warning(
        task=task, cluster_name="next", first_seen=START, now=START + timedelta(hours=2)
    )

    for message in (parent, stalled):
        assert "<!channel>" not in all_text(message)
    assert "2 stages done" in stalled.text
    assert "/None" not in stalled.text


def test_api_text_is_escaped_so_it_cannot_ping() -> None:
    task = make_task(
        status=TaskStatus.FAIL,
        task_id=PING,
        errors=(TaskError(code="Boom<>", message=f"disk full {PING}"),),
        instances=(Instance(hostname=PING, instance_id="i-1"),),
    )

    messages = [
        render_task_message(task=task, cluster_name=PING, first_seen=START, now=START),
        render_final_reply(task=task, cluster_name=PING),
        render_stalled_warning(task=task, cluster_name=PING, first_seen=START, now=START),
        render_cluster_problem(cluster_name=PING, code="NotAuthorized", message=PING),
    ]

    for message in messages:
        text = all_text(message)
        assert "<!channel>" not in text
        assert "<@U123>" not in text
        assert escape(PING) in text
        assert_within_limits(message)


def test_final_reply_lists_nodes_errors_and_failed_nodes_of_a_partial_failure() -> None:
    task = make_task(
        status=TaskStatus.PARTIAL_FAIL,
        instances=(Instance(hostname="compute1", instance_id="i-ok", ip="10.0.0.1"),),
        errors=(TaskError(code="QuotaExceeded", message="no stock", instance_id="i-bad"),),
    )

    text = all_text(render_final_reply(task=task, cluster_name="genomics"))

    assert "Nodes added" in text
    assert "compute1" in text
    assert "10.0.0.1" in text
    assert "QuotaExceeded" in text
    assert "Failed nodes" in text
    assert "i-bad" in text


def test_final_reply_with_500_nodes_and_500_errors_holds_slack_limits() -> None:
    task = make_task(
        status=TaskStatus.PARTIAL_FAIL,
        instances=tuple(Instance(hostname=f"compute{n}", instance_id=f"i-{n:05d}") for n in range(500)),
        errors=tuple(
            TaskError(code="NodeFailed", message="x" * 400, instance_id=f"i-bad-{n:05d}") for n in range(500)
        ),
    )

    message = render_final_reply(task=task, cluster_name="genomics")

    assert_within_limits(message)
    assert all_text(message).count("more") >= 3  # nodes, errors and failed nodes are each cut
    assert "…and " in message.blocks[1]["text"]["text"]


def test_digest_of_200_finished_tasks_lists_all_and_holds_limits() -> None:
    statuses = [TaskStatus.SUCCESS, TaskStatus.FAIL, TaskStatus.PARTIAL_FAIL]
    transitions = [
        Transition(
            kind=TransitionKind.FINISHED,
            task=make_task(task_id=f"task-{n:04d}", status=statuses[n % 3]),
            sequence=2,
            fingerprint=f"fp-{n}",
            task_key=f"ehpc-hz-1/task-{n:04d}",
            cluster_name="genomics <!here>",
            first_seen=START,
            observed_at=START + timedelta(minutes=5),
        )
        for n in range(200)
    ]

    message = render_digest(transitions=transitions, now=START + timedelta(minutes=5))

    assert_within_limits(message)
    text = all_text(message)
    assert "200 E-HPC tasks finished" in text
    assert "<!here>" not in text
    assert "task-0199" in text  # a digest of DIGEST_SIZE tasks lists every one
    assert "more" not in text


def test_digest_beyond_what_fits_ends_with_and_n_more() -> None:
    transitions = [
        Transition(
            kind=TransitionKind.FINISHED,
            task=make_task(task_id="t" * 80 + str(n), status=TaskStatus.SUCCESS),
            sequence=2,
            fingerprint=f"fp-{n}",
            task_key=f"k/{n}",
            cluster_name="c" * 100,
            first_seen=START,
            observed_at=START,
        )
        for n in range(3000)
    ]

    message = render_digest(transitions=transitions, now=START)

    assert_within_limits(message)
    assert "more" in message.blocks[-2]["text"]["text"]
    assert "3000 E-HPC tasks finished" in message.text


def test_a_lost_task_says_what_was_last_seen_and_when_escaped() -> None:
    task = make_task(current_step=12, total_steps=35, raw_task_type="AddComputes")

    notice = render_lost_notice(task=task, cluster_name=PING, last_seen=START)
    parent = render_task_message(task=task, cluster_name="genomics", first_seen=START, now=START, lost=True)

    assert "E-HPC no longer reports this task; last seen Processing 12/35 at 2026-11-26 10:00:00 UTC" in (
        notice.text
    )
    assert "<!channel>" not in all_text(notice)
    assert ":ghost:" in all_text(parent)
    assert "No longer reported by E-HPC" in all_text(parent)
    assert ":hourglass_flowing_sand:" not in all_text(parent)
    assert_within_limits(notice)
    assert_within_limits(parent)
