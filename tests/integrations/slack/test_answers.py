"""The /ehpc answers in Block Kit: cards, pages, health, notices; escaped, within Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.base import TransitionKind
from integrations.ehpc.task import Task, TaskStatus, TaskType
from integrations.slack.answers import (
    ClusterHealth,
    TaskRecord,
    render_clusters,
    render_help,
    render_mute_summary,
    render_muted,
    render_task_card,
    render_task_not_found,
    render_tasks_page,
    task_actions_block,
)
from integrations.slack.commands import (
    ACTION_MORE,
    ACTION_MUTE_HOUR,
    ACTION_REFRESH,
    ACTION_SHARE,
    PAGE_SIZE,
    TasksQuery,
    parse_command,
)
from tests.fixtures.slack import block_kit_violations, make_transition, valid_message_text

TASK_ID = "B745C159-3155-4B94-95D0-4B73D4D2A1B2"


CLUSTER = "ehpc-hz-FYUr32abcd"


NOW = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


def _task(*, task_id: str = TASK_ID, status: TaskStatus = TaskStatus.PROCESSING, **fields: object) -> Task:
    values: dict[str, object] = {
        "task_id": task_id,
        "cluster_id": CLUSTER,
        "task_type": TaskType.ADD_COMPUTES,
        "raw_task_type": "AddComputes",
        "status": status,
        "raw_status": status.value,
        "current_step": 3,
        "total_steps": 10,
    }
    return Task.model_validate(values | fields)


def _record(task: Task, *, minutes: int = 5) -> TaskRecord:
    return TaskRecord(task=task, first_seen=NOW - timedelta(minutes=minutes), last_seen=NOW)


def test_help_lists_every_subcommand() -> None:
    text = valid_message_text(render_help())
    for verb in ("task", "tasks", "clusters", "mute", "unmute"):
        assert f"/ehpc {verb}" in text


def test_task_actions_block_carries_the_task_key() -> None:
    block = task_actions_block(f"{CLUSTER}/{TASK_ID}")
    assert [element["action_id"] for element in block["elements"]] == [ACTION_REFRESH, ACTION_MUTE_HOUR]
    assert {element["value"] for element in block["elements"]} == {f"{CLUSTER}/{TASK_ID}"}
    assert block_kit_violations([block]) == []


def test_task_card_of_a_running_task_has_buttons_and_share() -> None:
    message = render_task_card(
        record=_record(_task()), cluster_name="Prod", now=NOW, share=f"task {TASK_ID}", live=False
    )
    text = valid_message_text(message)
    assert "Adding compute nodes" in text
    assert "3/10" in text
    actions = [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == [ACTION_REFRESH, ACTION_MUTE_HOUR, ACTION_SHARE]


def test_task_card_of_a_failed_task_shows_its_errors_escaped() -> None:
    task = _task(
        status=TaskStatus.FAIL,
        errors=[{"code": "NodeFailed", "message": "boom <!channel>", "instance_id": "i-1"}],
    )
    message = render_task_card(record=_record(task), cluster_name="Prod", now=NOW, share=None, live=True)
    text = valid_message_text(message)
    assert "boom &lt;!channel&gt;" in text
    assert "<!channel>" not in text
    assert "live from E-HPC" in text
    assert ACTION_SHARE not in text


def test_unknown_task_answer_names_the_search() -> None:
    text = valid_message_text(render_task_not_found(task_id=TASK_ID, searched=2))
    assert TASK_ID in text
    assert "2 clusters" in text


def test_a_long_task_list_is_paged_with_a_more_button() -> None:
    records = [_record(_task(task_id=f"{index:08X}-0000-0000-0000-000000000000")) for index in range(45)]
    query = TasksQuery(CLUSTER)
    message = render_tasks_page(
        query=query, cluster_name="Prod", records=records[:PAGE_SIZE], total=45, now=NOW, share=True
    )
    valid_message_text(message)
    buttons = {e["action_id"]: e["value"] for e in message.blocks[-1]["elements"]}
    assert buttons == {ACTION_MORE: f"tasks {CLUSTER} +{PAGE_SIZE}", ACTION_SHARE: f"tasks {CLUSTER}"}
    assert parse_command(buttons[ACTION_MORE]) == TasksQuery(CLUSTER, offset=PAGE_SIZE)


def test_the_last_page_has_no_more_button() -> None:
    query = TasksQuery(CLUSTER, include_finished=True, offset=40)
    records = [_record(_task(status=TaskStatus.SUCCESS))] * 5
    message = render_tasks_page(
        query=query, cluster_name="Prod", records=records, total=45, now=NOW, share=False
    )
    text = valid_message_text(message)
    assert ACTION_MORE not in text
    assert "41–45 shown" in text


def test_an_empty_cluster_says_so() -> None:
    message = render_tasks_page(
        query=TasksQuery(CLUSTER), cluster_name="Prod", records=[], total=0, now=NOW, share=True
    )
    assert "Nothing is running" in valid_message_text(message)


def test_clusters_show_poll_age_errors_and_mutes() -> None:
    clusters = [
        ClusterHealth(CLUSTER, "Prod", NOW - timedelta(seconds=40), None, 2, None),
        ClusterHealth("ehpc-sh-x", "Lab <b>", None, "NotAuthorized: <!here>", 0, NOW + timedelta(hours=1)),
    ]
    text = valid_message_text(render_clusters(clusters=clusters, now=NOW, share=True))
    assert "polled 40s ago" in text
    assert "not polled yet" in text
    assert "NotAuthorized: &lt;!here&gt;" in text
    assert "Lab &lt;b&gt;" in text
    assert "muted until 23:00 UTC" in text


def test_many_clusters_stay_within_fifty_blocks() -> None:
    clusters = [ClusterHealth(f"c{index}", f"c{index}", None, None, 0, None) for index in range(80)]
    text = valid_message_text(render_clusters(clusters=clusters, now=NOW, share=True))
    assert "…and 33 more" in text


def test_mute_announcement_escapes_the_reason() -> None:
    message = render_muted(cluster_name="Prod", until=NOW, reason="<!channel> upgrade", user_id="U1")
    text = valid_message_text(message)
    assert "&lt;!channel&gt; upgrade" in text
    assert "<@U1>" in text


def test_mute_summary_lists_each_task_once_with_its_latest_state() -> None:
    started = make_transition(TransitionKind.STARTED, sequence=1, task_id=TASK_ID)
    finished = make_transition(
        TransitionKind.FINISHED, sequence=2, task_id=TASK_ID, status=TaskStatus.SUCCESS, raw_status="Success"
    )
    message = render_mute_summary(
        cluster_name="Prod",
        started_at=NOW,
        ended_at=NOW + timedelta(hours=1),
        transitions=[started, finished],
    )
    text = valid_message_text(message)
    assert "2 changes on 1 task" in text
    assert "finished" in text
    assert text.count(TASK_ID) == 1


def test_a_huge_mute_summary_stays_within_limits() -> None:
    transitions = [
        make_transition(TransitionKind.STARTED, task_id=f"{index:08X}-0000-0000-0000-000000000000")
        for index in range(500)
    ]
    message = render_mute_summary(cluster_name="Prod", started_at=NOW, ended_at=NOW, transitions=transitions)
    text = valid_message_text(message)
    assert "…and 460 more" in text


def test_a_quiet_mute_summary_says_nothing_happened() -> None:
    message = render_mute_summary(cluster_name="Prod", started_at=NOW, ended_at=NOW, transitions=[])
    assert "Nothing happened meanwhile" in valid_message_text(message)
