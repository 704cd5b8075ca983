"""E-HPC 2.0 (API 2024-07-30) over real HTTP: ListCommonLogs, GetCommonLogDetail, ListClusters, as the
official 2024 SDK and hand-signed requests see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alibabacloud_ehpc20240730.models import (
    GetCommonLogDetailRequest,
    ListClustersRequest,
    ListCommonLogsRequest,
)
from alibabacloud_tea_openapi.exceptions import ClientException
from pydantic import ValidationError

from integrations.ehpc.simulator import Fault, Scenario, Simulator, SimulatorServer
from tests.fixtures.simulator import SIMULATOR_ACCESS_KEY_ID, sdk2024_client, send_v3

NEXT = "ehpc-hz-next0001"
V2 = "2024-07-30"


@pytest.fixture
def next_cluster(simulator: SimulatorServer) -> str:
    """An empty 2.0 cluster."""
    simulator.simulator.add_cluster(NEXT, generation="2.0")
    return NEXT


def window(simulator: SimulatorServer, back: float = 3600) -> dict[str, str]:
    now = int(simulator.simulator.unix_now())
    return {"From": str(now - int(back)), "To": str(now)}


def logs(simulator: SimulatorServer, query: dict[str, str]) -> dict[str, Any]:
    response = send_v3(simulator, query, action="ListCommonLogs", version=V2)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("query", "status", "code", "message"),
    [
        ({"From": None}, 400, "MissingFrom", "From is mandatory for this action."),
        ({"To": None}, 400, "MissingTo", "To is mandatory for this action."),
        ({"From": ""}, 400, "MissingFrom", "From is mandatory for this action."),
        ({"From": "yesterday"}, 400, "InvalidParams", "Invalid param: From"),
        ({"From": "2000000000", "To": "1000000000"}, 400, "InvalidParams", "Invalid param: From"),
        ({"PageSize": "0"}, 400, "InvalidParams", "Invalid param: PageSize"),
        ({"PageSize": "101"}, 400, "InvalidParams", "Invalid param: PageSize"),
        ({"PageNumber": "0"}, 400, "InvalidParams", "Invalid param: PageNumber"),
        ({"IsReverse": "maybe"}, 400, "InvalidParams", "Invalid param: IsReverse"),
        ({"ActionName": "CreateNodes"}, 400, "InvalidParams", "Invalid param: ActionName"),
        ({"ClusterId": "ehpc-hz-nope"}, 404, "ClusterNotFound", "The specified cluster does not exist."),
    ],
)
def test_list_common_logs_parameter_errors(
    simulator: SimulatorServer,
    next_cluster: str,
    query: dict[str, str | None],
    status: int,
    code: str,
    message: str,
) -> None:
    merged = {"ClusterId": next_cluster, **window(simulator)} | query
    response = send_v3(
        simulator, {k: v for k, v in merged.items() if v is not None}, action="ListCommonLogs", version=V2
    )

    body = response.json()
    assert (response.status_code, body["Code"], body["Message"]) == (status, code, message)


def test_each_generation_is_invisible_to_the_other_api(simulator: SimulatorServer, next_cluster: str) -> None:
    simulator.simulator.add_cluster("ehpc-hz-old00001")

    old_via_2024 = send_v3(
        simulator, {"ClusterId": "ehpc-hz-old00001", **window(simulator)}, action="ListCommonLogs", version=V2
    )
    new_via_2018 = send_v3(simulator, {"ClusterId": next_cluster})

    assert (old_via_2024.status_code, old_via_2024.json()["Code"]) == (404, "ClusterNotFound")
    assert (new_via_2018.status_code, new_via_2018.json()["Code"]) == (404, "ClusterNotFound")


def test_an_action_of_the_other_version_is_not_found(simulator: SimulatorServer, next_cluster: str) -> None:
    tasks_in_2024 = send_v3(simulator, {"ClusterId": next_cluster}, action="ListTasks", version=V2)
    logs_in_2018 = send_v3(
        simulator, {"ClusterId": next_cluster, **window(simulator)}, action="ListCommonLogs"
    )

    assert tasks_in_2024.json()["Code"] == "InvalidAction.NotFound"
    assert logs_in_2018.json()["Code"] == "InvalidAction.NotFound"


@pytest.mark.parametrize(("query", "size"), [({}, 20), ({"PageSize": "1"}, 1), ({"PageSize": "100"}, 100)])
def test_page_size_default_and_bounds(
    simulator: SimulatorServer, next_cluster: str, query: dict[str, str], size: int
) -> None:
    simulator.simulator.add_logs(next_cluster, 150)

    body = logs(simulator, {"ClusterId": next_cluster, **window(simulator), **query})

    assert (body["PageSize"], body["PageNumber"], body["TotalCount"]) == (size, 1, 150)
    assert len(body["Logs"]) == size


def test_the_window_includes_both_ends_and_nothing_else(
    simulator: SimulatorServer, next_cluster: str
) -> None:
    ids = simulator.simulator.add_logs(next_cluster, 10, spacing=10)  # at now-90, now-80 … now
    now = int(simulator.simulator.unix_now())

    body = logs(simulator, {"ClusterId": next_cluster, "From": str(now - 80), "To": str(now - 20)})

    assert [log["RequestId"] for log in body["Logs"]] == list(reversed(ids[1:8]))


@pytest.mark.parametrize(("reverse", "newest_first"), [(None, True), ("true", True), ("False", False)])
def test_is_reverse_orders_newest_first_by_default(
    simulator: SimulatorServer, next_cluster: str, reverse: str | None, newest_first: bool
) -> None:
    ids = simulator.simulator.add_logs(next_cluster, 5)
    query = {"ClusterId": next_cluster, **window(simulator)} | ({"IsReverse": reverse} if reverse else {})

    body = logs(simulator, query)

    got = [log["RequestId"] for log in body["Logs"]]
    assert got == (list(reversed(ids)) if newest_first else ids)


def test_an_operation_logs_its_stages_and_ends_finished(
    simulator: SimulatorServer, next_cluster: str
) -> None:
    sim = simulator.simulator
    request_id = sim.start_operation(
        next_cluster, "CreateNodes", stages=("Prepare", "CreateInstances", "Start"), stage_seconds=10
    )
    client = sdk2024_client(simulator)

    def statuses() -> list[tuple[str, str]]:
        now = int(sim.unix_now())
        request = ListCommonLogsRequest(cluster_id=next_cluster, from_=now - 600, to=now, is_reverse=False)
        body = client.list_common_logs(request).body
        assert all(log.request_id == request_id and log.action == "CreateNodes" for log in body.logs)
        return [(log.status, log.message) for log in body.logs]

    assert statuses() == [("InProgress", "Start to CreateNodes.")]
    sim.advance(10)
    assert statuses()[-1] == ("InProgress", "Stage Prepare finished.")
    sim.advance(20)
    assert statuses() == [
        ("InProgress", "Start to CreateNodes."),
        ("InProgress", "Stage Prepare finished."),
        ("InProgress", "Stage CreateInstances finished."),
        ("Finished", "CreateNodes finished."),
    ]


def test_a_failed_operation_reports_the_error_in_its_stage(
    simulator: SimulatorServer, next_cluster: str
) -> None:
    sim = simulator.simulator
    request_id = sim.start_operation(
        next_cluster, "DeleteNodes", outcome="Failed", stages=("A", "B", "C"), error="NodeBusy: node is busy"
    )
    sim.advance(60)
    now = int(sim.unix_now())
    client = sdk2024_client(simulator)

    listed = client.list_common_logs(ListCommonLogsRequest(cluster_id=next_cluster, from_=now - 600, to=now))
    detail = client.get_common_log_detail(
        GetCommonLogDetailRequest(log_request_id=request_id, from_=now - 600, to=now)
    ).body

    assert listed.body.logs[0].status == "Failed"
    assert "NodeBusy: node is busy" in listed.body.logs[0].message
    assert (detail.action, detail.cluster_id) == ("DeleteNodes", next_cluster)
    assert [group.stage_name for group in detail.log_detail] == ["A", "B"]  # fails in its middle stage
    failing = detail.log_detail[-1].stages
    assert [(s.log_level, s.status) for s in failing] == [("ERROR", "Failed")]
    assert failing[0].message == "Stage B failed: NodeBusy: node is busy"


@pytest.mark.parametrize(("hidden", "lines_per_stage"), [(None, 1), (True, 1), (False, 2)])
def test_hidden_process_keeps_only_result_lines(
    simulator: SimulatorServer, next_cluster: str, hidden: bool | None, lines_per_stage: int
) -> None:
    sim = simulator.simulator
    request_id = sim.start_operation(next_cluster, "UpdateCluster", stages=("A", "B"), stage_seconds=10)
    sim.advance(25)
    now = int(sim.unix_now())

    detail = (
        sdk2024_client(simulator)
        .get_common_log_detail(
            GetCommonLogDetailRequest(
                log_request_id=request_id, from_=now - 600, to=now, hidden_process=hidden
            )
        )
        .body
    )

    assert [len(group.stages) for group in detail.log_detail] == [lines_per_stage] * 2
    assert all(group.stages[-1].status == "Finished" for group in detail.log_detail)


def test_detail_of_a_running_operation_shows_the_stages_done_so_far(
    simulator: SimulatorServer, next_cluster: str
) -> None:
    sim = simulator.simulator
    request_id = sim.start_operation(next_cluster, "CreateNodes", stages=("A", "B", "C", "D"))
    sim.advance(25)
    query = {"LogRequestId": request_id, **window(simulator)}

    body = send_v3(simulator, query, action="GetCommonLogDetail", version=V2).json()

    done = [g["StageName"] for g in body["LogDetail"] if g["Stages"]]
    assert done == ["A", "B"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"LogRequestId": None}, "MissingLogRequestId"),
        ({"From": None}, "MissingFrom"),
        ({"To": None}, "MissingTo"),
        ({"HiddenProcess": "sometimes"}, "InvalidParams"),
    ],
)
def test_get_common_log_detail_parameter_errors(
    simulator: SimulatorServer, next_cluster: str, query: dict[str, str | None], code: str
) -> None:
    merged = {"LogRequestId": "X", **window(simulator)} | query

    response = send_v3(
        simulator, {k: v for k, v in merged.items() if v is not None}, action="GetCommonLogDetail", version=V2
    )

    assert (response.status_code, response.json()["Code"]) == (400, code)


def test_detail_of_an_unknown_request_id_is_empty(simulator: SimulatorServer, next_cluster: str) -> None:
    body = send_v3(
        simulator, {"LogRequestId": "NOPE", **window(simulator)}, action="GetCommonLogDetail", version=V2
    ).json()

    assert body["LogDetail"] == []
    assert "Action" not in body


def test_list_clusters_shows_both_generations(simulator: SimulatorServer, next_cluster: str) -> None:
    simulator.simulator.add_cluster("ehpc-hz-old00001", name="Old")
    client = sdk2024_client(simulator)

    every = client.list_clusters(ListClustersRequest()).body
    one = client.list_clusters(ListClustersRequest(cluster_ids=["ehpc-hz-old00001"])).body

    assert {(c.cluster_id, c.ehpc_version) for c in every.clusters} == {
        (next_cluster, "2.0.0"),
        ("ehpc-hz-old00001", "1.0.0"),
    }
    assert (every.ehpc_version_statistics.v_1count, every.ehpc_version_statistics.v_2count) == (1, 1)
    assert [(c.cluster_id, c.cluster_name) for c in one.clusters] == [("ehpc-hz-old00001", "Old")]
    assert one.total_count == 1


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_the_official_2024_sdk_is_accepted_with_either_signature(
    simulator: SimulatorServer, next_cluster: str, algorithm: str | None
) -> None:
    simulator.simulator.add_logs(next_cluster, 3)
    now = int(simulator.simulator.unix_now())

    response = sdk2024_client(simulator, algorithm=algorithm).list_common_logs(
        ListCommonLogsRequest(cluster_id=next_cluster, from_=now - 60, to=now, page_size=100)
    )

    assert response.status_code == 200
    assert response.body.total_count == 3
    assert simulator.simulator.requests[-1].style == ("v1" if algorithm else "v3")


@pytest.mark.parametrize(
    ("access_key_id", "secret", "status", "code"),
    [
        (SIMULATOR_ACCESS_KEY_ID, "wrongSecret", 400, "SignatureDoesNotMatch"),
        ("LTAIunknown", "whatever", 404, "InvalidAccessKeyId.NotFound"),
    ],
)
def test_the_official_2024_sdk_is_refused_as_the_cloud_would(
    simulator: SimulatorServer, next_cluster: str, access_key_id: str, secret: str, status: int, code: str
) -> None:
    now = int(simulator.simulator.unix_now())
    client = sdk2024_client(simulator, access_key_id=access_key_id, secret=secret)

    with pytest.raises(ClientException) as caught:
        client.list_common_logs(ListCommonLogsRequest(cluster_id=next_cluster, from_=now - 60, to=now))

    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert "wrongSecret" not in str(caught.value)


@pytest.mark.parametrize("skew", [timedelta(minutes=16), timedelta(minutes=-16)])
def test_an_expired_timestamp_is_refused(
    simulator: SimulatorServer, next_cluster: str, skew: timedelta
) -> None:
    response = send_v3(
        simulator,
        {"ClusterId": next_cluster, **window(simulator)},
        action="ListCommonLogs",
        version=V2,
        date=datetime.now(UTC) - skew,
    )

    assert (response.status_code, response.json()["Code"]) == (400, "InvalidTimeStamp.Expired")


def test_a_replayed_nonce_is_refused(simulator: SimulatorServer, next_cluster: str) -> None:
    query = {"ClusterId": next_cluster, **window(simulator)}

    first = send_v3(simulator, query, action="ListCommonLogs", version=V2, nonce="n-1")
    again = send_v3(simulator, query, action="ListCommonLogs", version=V2, nonce="n-1")

    assert first.status_code == 200
    assert (again.status_code, again.json()["Code"]) == (400, "SignatureNonceUsed")


def test_faults_spoil_2024_answers_too(simulator: SimulatorServer, next_cluster: str) -> None:
    simulator.simulator.add_logs(next_cluster, 2)
    simulator.simulator.inject(Fault.unknown_status("Paused"))
    simulator.simulator.inject(Fault.error("Throttling.User", retry_after_ms=1000))
    query = {"ClusterId": next_cluster, **window(simulator)}

    statuses = [log["Status"] for log in logs(simulator, query)["Logs"]]
    throttled = send_v3(simulator, query, action="ListCommonLogs", version=V2)

    assert statuses == ["Paused", "Paused"]
    assert (throttled.status_code, throttled.json()["Code"]) == (400, "Throttling.User")
    assert throttled.headers["x-acs-retry-after"] == "1000"


def test_a_scenario_serves_2_0_clusters() -> None:
    scenario = Scenario.model_validate(
        {
            "clusters": [
                {
                    "id": NEXT,
                    "generation": "2.0",
                    "operations": [{"action": "CreateNodes", "stages": 3, "start": -15}],
                },
                {"id": "ehpc-hz-old00001", "tasks": [{"type": "AddComputes"}]},
            ]
        }
    )
    sim = Simulator(scenario=scenario)

    state = {c["cluster_id"]: c for c in sim.state()["clusters"]}

    assert state[NEXT]["generation"] == "2.0"
    assert [log["Message"] for log in state[NEXT]["logs"]] == [
        "Start to CreateNodes.",
        "Stage Stage1 finished.",
    ]
    assert len(state["ehpc-hz-old00001"]["tasks"]) == 1


def test_a_scenario_refuses_tasks_on_a_2_0_cluster() -> None:
    with pytest.raises(ValidationError, match=r"tasks belong to 1\.0 clusters"):
        Scenario.model_validate({"clusters": [{"id": NEXT, "generation": "2.0", "tasks": [{"type": "X"}]}]})
