"""Folding 2.0 operation log lines into tasks, and stages into progress: pure functions, odd input too."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.ehpc.operation import group_operations, parse_detail, parse_time, with_detail
from integrations.ehpc.schema2024 import LogDetailPage, RawLog
from integrations.ehpc.task import TaskStatus, TaskType

CLUSTER = "ehpc-hz-next0001"


def line(
    request_id: str | None = "R1", status: str = "InProgress", time: str = "2026-12-01 10:00:00", **more: Any
) -> RawLog:
    return RawLog.model_validate(
        {"RequestId": request_id, "Status": status, "Time": time, "Action": "CreateNodes", **more}
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([("InProgress", "10:00:00")], TaskStatus.PROCESSING),
        ([("InProgress", "10:00:00"), ("Finished", "10:05:00")], TaskStatus.SUCCESS),
        ([("Finished", "10:05:00"), ("InProgress", "10:09:00")], TaskStatus.SUCCESS),  # a late start line
        ([("Failed", "10:05:00"), ("Finished", "10:06:00")], TaskStatus.SUCCESS),  # newest final wins
        ([("Finished", "10:05:00"), ("Failed", "10:05:00")], TaskStatus.FAIL),  # a tie: Failed
        ([("Finished", "garbage"), ("InProgress", "10:00:00")], TaskStatus.SUCCESS),
    ],
)
def test_one_task_per_request_id_with_the_deciding_status(
    statuses: list[tuple[str, str]], expected: TaskStatus
) -> None:
    lines = [line(status=s, time=t if t == "garbage" else f"2026-12-01 {t}") for s, t in statuses]

    [task] = group_operations(lines, cluster_id=CLUSTER)

    assert (task.task_id, task.status, task.generation) == ("R1", expected, "2.0")
    assert (task.task_type, task.cluster_id, task.total_steps) == (TaskType.CREATE_NODES, CLUSTER, None)


def test_lines_without_request_id_are_skipped_and_order_is_kept() -> None:
    lines = [line("R2"), line(None), line("R1"), line("R2", "Finished"), line("")]

    tasks = group_operations(lines, cluster_id=CLUSTER)

    assert [t.task_id for t in tasks] == ["R2", "R1"]


def test_an_unknown_action_is_kept_by_name() -> None:
    [task] = group_operations([line(Action="ResizeQueue")], cluster_id=CLUSTER)

    assert (task.task_type, task.raw_task_type, task.label) == (
        TaskType.UNKNOWN,
        "ResizeQueue",
        "ResizeQueue",
    )
    assert "unknown Action 'ResizeQueue'" in task.problems


def test_a_failed_line_gives_the_error_until_stages_say_more() -> None:
    [task] = group_operations(
        [line(status="Failed", Message="CreateNodes failed: quota"), line()], cluster_id=CLUSTER
    )
    empty = parse_detail(LogDetailPage.model_validate({"LogDetail": []}))

    assert [e.message for e in task.errors] == ["CreateNodes failed: quota"]
    assert [e.message for e in with_detail(task, empty).errors] == ["CreateNodes failed: quota"]


def test_detail_counts_finished_stages_and_collects_errors() -> None:
    page = LogDetailPage.model_validate(
        {
            "Action": "CreateNodes",
            "LogDetail": [
                {"StageName": "A", "Stages": [{"Status": "Finished", "LogLevel": "INFO"}]},
                {"StageName": "B", "Stages": [{"Status": "Finished", "LogLevel": "WARN", "Message": "slow"}]},
                {
                    "StageName": "C",
                    "Stages": [{"Status": "Failed", "LogLevel": "ERROR", "Message": "no stock"}],
                },
                {"Stages": [{"Status": "InProgress", "LogLevel": "ERROR", "Message": "odd"}]},
            ],
        }
    )

    detail = parse_detail(page)

    assert (detail.stages_done, detail.stage) == (2, "C")
    assert [e.message for e in detail.errors] == ["C: no stock", "odd"]
    assert detail.problems == ("a LogDetail stage has no StageName",)


@pytest.mark.parametrize("text", ["2024-08-22 14:21:54", "2024-08-22T14:21:54Z", "2024-08-22T14:21:54+08:00"])
def test_log_times_in_the_documented_and_iso_forms(text: str) -> None:
    parsed = parse_time(text)

    assert parsed is not None
    assert (parsed.hour, parsed.minute, parsed.tzinfo) == (14, 21, None)


@pytest.mark.parametrize("value", [None, 17, "yesterday", ""])
def test_odd_times_are_none(value: object) -> None:
    assert parse_time(value) is None
