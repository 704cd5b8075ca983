"""The admin endpoint over HTTP: start operations, move the clock, queue faults, read state and log."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from integrations.ehpc.simulator import Fault, SimulatorServer
from tests.fixtures.simulator import list_tasks


def admin(server: SimulatorServer, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{server.endpoint}/_admin/{path}", json=body, timeout=5)


def test_drive_a_task_over_http(simulator: SimulatorServer) -> None:
    assert admin(simulator, "POST", "clusters", {"cluster_id": "ehpc-hz-adm00001"}).status_code == 200
    started = admin(
        simulator,
        "POST",
        "tasks",
        {"cluster_id": "ehpc-hz-adm00001", "task_type": "AddComputes", "total_steps": 2, "step_seconds": 5},
    ).json()
    assert admin(simulator, "POST", "clock", {"advance": 10}).json() == {"now": 10.0}

    state = admin(simulator, "GET", "state").json()

    [cluster] = state["clusters"]
    [task] = cluster["tasks"]
    assert (task["TaskId"], task["Status"], task["CurrentStep"]) == (started["task_id"], "Success", 2)


def test_bulk_tasks(simulator: SimulatorServer, cluster: str) -> None:
    request = {"cluster_id": cluster, "count": 3, "status": "Fail"}

    body = admin(simulator, "POST", "tasks/bulk", request).json()

    assert len(body["task_ids"]) == 3


def test_queue_rate_and_clear_faults(simulator: SimulatorServer, cluster: str) -> None:
    fault = Fault.error("Throttling.Api", retry_after_ms=500).to_dict()
    queued = admin(simulator, "POST", "faults", {"fault": fault, "times": 2}).json()
    rated = admin(simulator, "POST", "faults", {"fault": {"kind": "drop"}, "rate": 0.25}).json()
    cleared = admin(simulator, "DELETE", "faults").json()

    assert queued["queued"] == [fault, fault]
    assert rated["rates"] == [{"fault": Fault.drop().to_dict(), "rate": 0.25}]
    assert cleared == {"queued": [], "rates": [], "every": []}


def test_every_nth_fault_latency_and_purge_over_http(simulator: SimulatorServer, cluster: str) -> None:
    fault = Fault.error("Throttling.User").to_dict()
    task_id = simulator.simulator.start_task(cluster, "AddComputes")

    every = admin(simulator, "POST", "faults", {"fault": fault, "every": 10}).json()
    latency = admin(simulator, "POST", "latency", {"seconds": 0.05}).json()
    purged = admin(simulator, "POST", "tasks/purge", {"cluster_id": cluster, "task_id": task_id})

    assert every["every"] == [{"fault": fault, "every": 10}]
    assert latency == {"latency": 0.05}
    assert purged.status_code == 200
    assert list_tasks(simulator, cluster_id=cluster, archived=True).body.tasks == []
    assert simulator.simulator.requests[-1].delay == pytest.approx(0.05)


def test_request_log(simulator: SimulatorServer, cluster: str) -> None:
    list_tasks(simulator, cluster_id=cluster)

    [record] = admin(simulator, "GET", "requests").json()

    assert (record["action"], record["style"], record["status"]) == ("ListTasks", "v3", 200)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "nothing", None, 404),
        ("POST", "tasks", {"cluster_id": "ehpc-hz-none", "task_type": "AddComputes"}, 400),
        ("POST", "tasks", {}, 400),
        ("POST", "clock", {"advance": -5}, 400),
        ("POST", "faults", {"fault": {"kind": "error", "code": "Nope"}}, 400),
    ],
)
def test_bad_admin_calls(simulator: SimulatorServer, method: str, path: str, body: Any, status: int) -> None:
    response = admin(simulator, method, path, body)

    assert response.status_code == status
    assert "error" in response.json()


def test_admin_calls_are_not_api_requests(simulator: SimulatorServer) -> None:
    admin(simulator, "GET", "state")

    assert simulator.simulator.requests == []
