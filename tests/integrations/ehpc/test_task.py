"""The normalizer: documented values become meaning, anything else is kept raw and recorded, never raised."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.ehpc.schema import ListTasksPage, RawTask
from integrations.ehpc.task import Instance, TaskStatus, TaskType, normalize

# The example answer of the API page, verbatim.
DOC_TASK: dict[str, Any] = {
    "Status": "Processing",
    "TaskType": "StopCluster",
    "TotalSteps": 35,
    "CurrentStep": 16,
    "Result": '{"Instances":[{"InstanceId":"i-bp1inb1j2xz8pnoi****","Ip":"192.168.*.*",'
    '"Hostname":"login0","role":"login"}]}',
    "Errors": "[]",
    "TaskId": "B745C159-3155-4B94-95D0-4B73D4D2****",
    "Request": '{"requestId":"0A6CA33E-BFBF-4F92-BDAE-4E8860DA****","uid":"160998252992****",'
    '"bid":"268**","clusterId":"ehpc-hz-ysQtcZ****"}',
    "ClusterId": "ehpc-hz-FYUr32****",
}

# Deterministic runs (CI must not find a new example on Tuesday); bounded for a 2-core machine.
PROPERTY = settings(max_examples=300, derandomize=True, deadline=None)


def task_with(**fields: object) -> RawTask:
    return RawTask.model_validate({**DOC_TASK, **fields})


def test_documented_example_becomes_a_typed_task() -> None:
    task = normalize(RawTask.model_validate(DOC_TASK))

    assert task.task_id == "B745C159-3155-4B94-95D0-4B73D4D2****"
    assert task.cluster_id == "ehpc-hz-FYUr32****"
    assert task.status is TaskStatus.PROCESSING
    assert task.task_type is TaskType.STOP_CLUSTER
    assert task.label == "Stopping cluster"
    assert task.progress == pytest.approx(16 / 35)
    assert task.instances == (
        Instance(instance_id="i-bp1inb1j2xz8pnoi****", ip="192.168.*.*", hostname="login0", role="login"),
    )
    assert task.errors == ()
    assert task.request["clusterId"] == "ehpc-hz-ysQtcZ****"
    assert task.problems == ()


def test_page_parses_with_pascal_case_names() -> None:
    page = ListTasksPage.model_validate(
        {"PageSize": 10, "RequestId": "R-1", "PageNumber": 1, "TotalCount": 1, "Tasks": [DOC_TASK]}
    )

    assert (page.page_size, page.page_number, page.total_count, page.request_id) == (10, 1, 1, "R-1")
    assert normalize(page.tasks[0]).task_id == DOC_TASK["TaskId"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Processing", TaskStatus.PROCESSING),
        ("Success", TaskStatus.SUCCESS),
        ("Fail", TaskStatus.FAIL),
        ("Failed", TaskStatus.FAIL),  # the SDK's docstring spelling
        ("PartialFail", TaskStatus.PARTIAL_FAIL),
        ("success", TaskStatus.SUCCESS),
    ],
)
def test_status_spellings(raw: str, expected: TaskStatus) -> None:
    task = normalize(task_with(Status=raw))

    assert (task.status, task.raw_status, task.problems) == (expected, raw, ())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AddComputes", TaskType.ADD_COMPUTES),
        ("ResetComputes", TaskType.RESET_COMPUTES),
        ("ResetCompute", TaskType.RESET_COMPUTES),  # the SDK's docstring spelling
        ("deletecomputes", TaskType.DELETE_COMPUTES),
    ],
)
def test_task_type_spellings(raw: str, expected: TaskType) -> None:
    task = normalize(task_with(TaskType=raw))

    assert (task.task_type, task.raw_task_type, task.problems) == (expected, raw, ())


def test_final_statuses() -> None:
    assert {s for s in TaskStatus if s.is_final} == {
        TaskStatus.SUCCESS,
        TaskStatus.FAIL,
        TaskStatus.PARTIAL_FAIL,
    }


def test_unknown_status_is_kept_and_recorded() -> None:
    task = normalize(task_with(Status="Suspended"))

    assert (task.status, task.raw_status) == (TaskStatus.UNKNOWN, "Suspended")
    assert task.problems == ("unknown Status 'Suspended'",)


def test_unknown_task_type_is_labelled_by_its_raw_name() -> None:
    task = normalize(task_with(TaskType="UpgradeClient"))

    assert (task.task_type, task.label) == (TaskType.UNKNOWN, "UpgradeClient")
    assert task.problems == ("unknown TaskType 'UpgradeClient'",)


def test_malformed_result_is_recorded() -> None:
    task = normalize(task_with(Result='{"Instances": [{"InstanceId": "i-1"'))

    assert task.instances == ()
    assert len(task.problems) == 1
    assert task.problems[0].startswith("Result is not valid JSON")


def test_result_that_is_not_an_object_is_recorded() -> None:
    task = normalize(task_with(Result="[1, 2]"))

    assert (task.instances, task.problems) == ((), ("Result is not a JSON object",))


def test_instances_that_are_not_objects_are_skipped_and_recorded() -> None:
    task = normalize(task_with(Result='{"Instances": [{"InstanceId": "i-1"}, "i-2"]}'))

    assert task.instances == (Instance(instance_id="i-1"),)
    assert task.problems == ("Result.Instances holds entries that are not objects; they were skipped",)


def test_deeply_nested_json_is_recorded_not_raised() -> None:
    task = normalize(task_with(Errors="[" * 100_000 + "]" * 100_000))

    assert task.errors == ()
    assert task.problems[0].startswith("Errors is not valid JSON")


def test_current_step_beyond_total_is_recorded_and_progress_capped() -> None:
    task = normalize(task_with(CurrentStep=40, TotalSteps=35))

    assert (task.current_step, task.total_steps, task.progress) == (40, 35, 1.0)
    assert task.problems == ("CurrentStep 40 exceeds TotalSteps 35",)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (-1, "CurrentStep is negative: -1"),
        (None, "CurrentStep missing"),
        ("abc", "CurrentStep is not a number: 'abc'"),
        (1.5, "CurrentStep is not a number: 1.5"),
        (True, "CurrentStep is not a number: True"),
    ],
)
def test_odd_step_counts_are_recorded(value: object, problem: str) -> None:
    task = normalize(task_with(CurrentStep=value))

    assert (task.current_step, task.progress, task.problems) == (None, None, (problem,))


def test_numeric_strings_are_accepted() -> None:
    task = normalize(task_with(CurrentStep="3", TotalSteps="6"))

    assert (task.progress, task.problems) == (0.5, ())


def test_errors_are_parsed_into_entries() -> None:
    errors = [{"Code": "NodeFailed", "Message": "boot timeout", "InstanceId": "i-9"}, "plain text"]
    task = normalize(task_with(Status="PartialFail", Errors=json.dumps(errors)))

    assert [(e.code, e.message, e.instance_id) for e in task.errors] == [
        ("NodeFailed", "boot timeout", "i-9"),
        (None, "plain text", None),
    ]
    assert task.errors[0].raw == errors[0]


def test_missing_cluster_id_is_filled_in_by_the_caller() -> None:
    task = normalize(task_with(ClusterId=None), cluster_id="ehpc-hz-1")

    assert task.cluster_id == "ehpc-hz-1"


def test_request_that_is_not_an_object_is_recorded() -> None:
    task = normalize(task_with(Request='"text"'))

    assert (task.request, task.problems) == ({}, ("Request is not a JSON object",))


# Anything JSON can carry, plus text that is almost JSON: what a misbehaving server could send.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = json_values | json_values.map(json.dumps) | st.text(alphabet='{}[]":,0123456789aeInstances')
FIELDS = (
    "TaskId",
    "ClusterId",
    "TaskType",
    "Status",
    "CurrentStep",
    "TotalSteps",
    "Result",
    "Errors",
    "Request",
)


@PROPERTY
@given(st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, field_values)))
def test_normalize_never_raises(fields: dict[str, object]) -> None:
    task = normalize(RawTask.model_validate(fields), cluster_id="ehpc-hz-1")

    progress = task.progress
    assert progress is None or 0.0 <= progress <= 1.0
    assert task.cluster_id
    assert task.label  # never empty: an operator always reads what the operation is


@PROPERTY
@given(st.text(max_size=30))
def test_unknown_status_keeps_raw_and_records_problem(value: str) -> None:
    task = normalize(task_with(Status=value))

    assert task.raw_status == value
    known = {s.value.lower() for s in TaskStatus if s is not TaskStatus.UNKNOWN} | {
        "failed",
        "partialfailed",
        "inprogress",  # the 2024-07-30 API's ActionStatus
        "finished",
    }
    if value.strip().lower() in known:
        assert task.status is not TaskStatus.UNKNOWN
    else:
        assert task.status is TaskStatus.UNKNOWN
        assert f"unknown Status {value!r}" in task.problems


@PROPERTY
@given(
    st.lists(
        st.fixed_dictionaries(
            {"InstanceId": st.text(max_size=12), "Ip": st.ip_addresses().map(str)},
            optional={
                "Hostname": st.text(max_size=12),
                "role": st.sampled_from(["login", "compute", "manager"]),
            },
        ),
        max_size=5,
    )
)
def test_instances_round_trip(instances: list[dict[str, str]]) -> None:
    task = normalize(task_with(TaskType="AddComputes", Result=json.dumps({"Instances": instances})))

    assert [(i.instance_id, i.ip, i.hostname, i.role) for i in task.instances] == [
        (i["InstanceId"], i["Ip"], i.get("Hostname"), i.get("role")) for i in instances
    ]
    assert task.problems == ()


@pytest.mark.parametrize(
    ("raw_type", "expected"),
    [("AddComputes", "AddComputes"), ("ResetCompute", "ResetComputes"), ("ResizeCluster", "ResizeCluster")],
)
def test_type_name_is_the_api_spelling_when_known_else_raw(raw_type: str, expected: str) -> None:
    assert normalize(RawTask(TaskType=raw_type, TaskId="t", Status="Success")).type_name == expected
