"""ListTasks semantics over real HTTP: parameters, Archived, TaskId, order, paging, the wire shape."""

from __future__ import annotations

import json
import math
import re

import pytest

from integrations.ehpc.simulator import SimulatorServer
from tests.fixtures.simulator import list_tasks, send_v3


@pytest.mark.parametrize(
    ("query", "status", "code", "message"),
    [
        ({"ClusterId": None}, 400, "MissingClusterId", "ClusterId is mandatory for this action."),
        ({"ClusterId": ""}, 400, "MissingClusterId", "ClusterId is mandatory for this action."),
        ({"ClusterId": "ehpc-hz-nope"}, 404, "ClusterNotFound", "The specified cluster does not exist."),
        ({"PageSize": "0"}, 400, "InvalidParams", "Invalid param: PageSize"),
        ({"PageSize": "51"}, 400, "InvalidParams", "Invalid param: PageSize"),
        ({"PageSize": "ten"}, 400, "InvalidParams", "Invalid param: PageSize"),
        ({"PageSize": ""}, 400, "InvalidParams", "Invalid param: PageSize"),
        ({"PageNumber": "0"}, 400, "InvalidParams", "Invalid param: PageNumber"),
        ({"PageNumber": "1000"}, 400, "InvalidParams", "Invalid param: PageNumber"),
        ({"PageNumber": "1.5"}, 400, "InvalidParams", "Invalid param: PageNumber"),
        ({"Archived": "yes"}, 400, "InvalidParams", "Invalid param: Archived"),
    ],
)
def test_parameter_errors(
    simulator: SimulatorServer,
    cluster: str,
    query: dict[str, str | None],
    status: int,
    code: str,
    message: str,
) -> None:
    merged = {"ClusterId": cluster} | query
    response = send_v3(simulator, {k: v for k, v in merged.items() if v is not None})

    body = response.json()
    assert (response.status_code, body["Code"], body["Message"]) == (status, code, message)
    assert simulator.simulator.requests[-1].code == code


@pytest.mark.parametrize(("query", "page_size"), [({"PageSize": "1"}, 1), ({"PageSize": "50"}, 50), ({}, 10)])
def test_page_size_bounds_and_default(
    simulator: SimulatorServer, cluster: str, query: dict[str, str], page_size: int
) -> None:
    simulator.simulator.add_tasks(cluster, 60, status="Processing")

    body = send_v3(simulator, {"ClusterId": cluster, "PageNumber": "1", **query}).json()

    assert (body["PageSize"], body["PageNumber"], body["TotalCount"]) == (page_size, 1, 60)
    assert len(body["Tasks"]) == page_size


@pytest.fixture
def mixed(simulator: SimulatorServer, cluster: str) -> dict[str, str]:
    """One running task and one task of each final status, by status."""
    sim = simulator.simulator
    ids = {s: sim.add_tasks(cluster, 1, status=s)[0] for s in ("Success", "Fail", "PartialFail")}
    ids["Processing"] = sim.start_task(cluster, "StopComputes")
    return ids


@pytest.mark.parametrize("archived", [None, "false", "FALSE", "False"])
def test_running_tasks_only_unless_archived(
    simulator: SimulatorServer, cluster: str, mixed: dict[str, str], archived: str | None
) -> None:
    query = {"ClusterId": cluster} | ({"Archived": archived} if archived else {})

    body = send_v3(simulator, query).json()

    assert [t["TaskId"] for t in body["Tasks"]] == [mixed["Processing"]]
    assert body["TotalCount"] == 1


@pytest.mark.parametrize("archived", ["true", "TRUE", "True", "tRuE"])
def test_archived_lists_everything(
    simulator: SimulatorServer, cluster: str, mixed: dict[str, str], archived: str
) -> None:
    body = send_v3(simulator, {"ClusterId": cluster, "Archived": archived}).json()

    assert {t["TaskId"] for t in body["Tasks"]} == set(mixed.values())
    assert body["TotalCount"] == 4


def test_no_running_task_gives_an_empty_list(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.add_tasks(cluster, 3, status="Success")

    response = list_tasks(simulator, cluster_id=cluster)

    assert (response.body.tasks, response.body.total_count) == ([], 0)


@pytest.mark.parametrize("archived", [False, True])
def test_task_id_finds_any_status_and_ignores_archived(
    simulator: SimulatorServer, cluster: str, mixed: dict[str, str], archived: bool
) -> None:
    response = list_tasks(simulator, cluster_id=cluster, task_id=mixed["Fail"], archived=archived)

    assert [(t.task_id, t.status) for t in response.body.tasks] == [(mixed["Fail"], "Fail")]
    assert response.body.total_count == 1


def test_unknown_task_id_gives_an_empty_list(simulator: SimulatorServer, cluster: str) -> None:
    response = list_tasks(simulator, cluster_id=cluster, task_id="B745C159-3155-4B94-95D0-4B73D4D20000")

    assert (response.status_code, response.body.tasks, response.body.total_count) == (200, [], 0)


def test_newest_first(simulator: SimulatorServer, cluster: str) -> None:
    sim = simulator.simulator
    first = sim.start_task(cluster, "AddComputes", total_steps=100)
    sim.advance(5)
    second = sim.start_task(cluster, "StopComputes", total_steps=100)
    sim.advance(5)
    third = sim.start_task(cluster, "StartComputes", total_steps=100)

    response = list_tasks(simulator, cluster_id=cluster)

    assert [t.task_id for t in response.body.tasks] == [third, second, first]


@pytest.mark.parametrize("count", [0, 1, 50, 51, 2000])
def test_paging_returns_every_task_exactly_once(simulator: SimulatorServer, cluster: str, count: int) -> None:
    expected = simulator.simulator.add_tasks(cluster, count, status="Processing")
    seen: list[str] = []
    pages = max(1, math.ceil(count / 50))

    for page in range(1, pages + 1):
        response = list_tasks(simulator, cluster_id=cluster, page_number=page, page_size=50)
        assert (response.body.total_count, response.body.page_number) == (count, page)
        seen += [t.task_id for t in response.body.tasks]

    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen)) == count
    assert sum(r.action == "ListTasks" for r in simulator.simulator.requests) == pages


def test_page_past_the_end_is_empty(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.add_tasks(cluster, 3, status="Processing")

    response = list_tasks(simulator, cluster_id=cluster, page_number=2, page_size=10)

    assert (response.body.tasks, response.body.total_count) == ([], 3)


def test_wire_shape(simulator: SimulatorServer, cluster: str) -> None:
    task_id = simulator.simulator.start_task(cluster, "CreateCluster", total_steps=35, nodes=3)
    simulator.simulator.advance(160)

    body = send_v3(simulator, {"ClusterId": cluster}).json()

    assert set(body) == {"PageSize", "RequestId", "PageNumber", "TotalCount", "Tasks"}
    assert re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", body["RequestId"])
    [task] = body["Tasks"]
    assert re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", task["TaskId"])
    assert task["TaskId"] == task_id
    assert {k: task[k] for k in ("Status", "TaskType", "TotalSteps", "CurrentStep", "ClusterId")} == {
        "Status": "Processing",
        "TaskType": "CreateCluster",
        "TotalSteps": 35,
        "CurrentStep": 16,
        "ClusterId": cluster,
    }
    assert all(isinstance(task[k], str) for k in ("Result", "Errors", "Request"))
    instances = json.loads(task["Result"])["Instances"]
    assert [(i["Hostname"], i["role"]) for i in instances] == [
        ("login0", "login"),
        ("manager0", "manager"),
        ("compute0", "compute"),
    ]
    assert json.loads(task["Errors"]) == []
    assert json.loads(task["Request"])["clusterId"] == cluster


def _ids(simulator: SimulatorServer, **params: object) -> list[str]:
    body = list_tasks(simulator, page_size=50, **params).body
    return [task.task_id for task in body.tasks]


def test_a_task_scheduled_for_later_is_invisible_until_it_starts(
    simulator: SimulatorServer, cluster: str
) -> None:
    sim = simulator.simulator
    later = sim.start_task(cluster, "StartComputes", start_in=30)

    assert _ids(simulator, cluster_id=cluster, archived=True) == []
    assert _ids(simulator, cluster_id=cluster, task_id=later) == []
    sim.advance(30)
    assert _ids(simulator, cluster_id=cluster) == [later]


def test_a_purged_task_is_gone_from_every_answer(simulator: SimulatorServer, cluster: str) -> None:
    sim = simulator.simulator
    kept, purged = sim.start_task(cluster, "AddComputes"), sim.start_task(cluster, "AddComputes")

    sim.purge_task(cluster, purged)

    assert _ids(simulator, cluster_id=cluster) == [kept]
    assert _ids(simulator, cluster_id=cluster, archived=True) == [kept]
    assert _ids(simulator, cluster_id=cluster, task_id=purged) == []


def test_a_cluster_is_not_found_once_its_delete_cluster_succeeded(
    simulator: SimulatorServer, cluster: str
) -> None:
    sim = simulator.simulator
    deleting = sim.start_task(cluster, "DeleteCluster", total_steps=2, step_seconds=10)
    sim.advance(10)
    assert _ids(simulator, cluster_id=cluster) == [deleting]  # still running: the cluster is there

    sim.advance(10)
    answer = send_v3(simulator, {"ClusterId": cluster})

    assert (answer.status_code, answer.json()["Code"]) == (404, "ClusterNotFound")
