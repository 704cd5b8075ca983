"""Every fault, seen through the official SDK as the client will see it."""

from __future__ import annotations

import json
import time

import pytest
from alibabacloud_ehpc20180412.models import ListTasksRequest
from alibabacloud_tea_openapi.exceptions import (
    AlibabaCloudException,
    ClientException,
    ServerException,
    ThrottlingException,
)
from darabonba.exceptions import UnretryableException

from integrations.ehpc.simulator import Fault, FaultKind, SimulatorServer
from integrations.ehpc.simulator.errors import ERRORS
from integrations.ehpc.simulator.faults import FaultPlan
from tests.fixtures.simulator import list_tasks, sdk_client


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_error_code(simulator: SimulatorServer, cluster: str, code: str) -> None:
    simulator.simulator.inject(Fault.error(code))
    expected = ServerException if ERRORS[code].status >= 500 else ClientException

    with pytest.raises(expected) as caught:
        list_tasks(simulator, cluster_id=cluster)

    assert (caught.value.status_code, caught.value.code) == (ERRORS[code].status, code)
    assert caught.value.request_id == simulator.simulator.requests[-1].request_id
    assert list_tasks(simulator, cluster_id=cluster).status_code == 200  # one-shot


@pytest.mark.parametrize("code", ["Throttling", "Throttling.User", "Throttling.Api"])
def test_throttling_with_retry_after(simulator: SimulatorServer, cluster: str, code: str) -> None:
    simulator.simulator.inject(Fault.error(code, retry_after_ms=2000))

    with pytest.raises(ThrottlingException) as caught:
        list_tasks(simulator, cluster_id=cluster)

    assert (caught.value.status_code, caught.value.code, caught.value.retry_after) == (400, code, 2000)


def test_slow_answer_trips_the_read_timeout(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.inject(Fault.slow(5.0))  # the fixture's stop() cuts the wait short
    client = sdk_client(simulator, read_timeout_ms=200)

    with pytest.raises(UnretryableException):
        client.list_tasks(ListTasksRequest(cluster_id=cluster))

    assert simulator.simulator.requests[-1].fault == FaultKind.SLOW


def test_slow_answer_within_the_timeout_arrives(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.inject(Fault.slow(0.05))

    assert list_tasks(simulator, cluster_id=cluster).status_code == 200


def test_dropped_connection(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.inject(Fault.drop())

    with pytest.raises(UnretryableException):
        list_tasks(simulator, cluster_id=cluster)

    record = simulator.simulator.requests[-1]
    assert (record.fault, record.status) == (FaultKind.DROP, None)


def test_html_502(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.inject(Fault.html_502())

    with pytest.raises(UnretryableException):
        list_tasks(simulator, cluster_id=cluster)

    assert simulator.simulator.requests[-1].status == 502


def test_malformed_json_strings_pass_through_the_sdk(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.start_task(cluster, "AddComputes")
    simulator.simulator.inject(Fault.malformed_json())

    [task] = list_tasks(simulator, cluster_id=cluster).body.tasks

    for text in (task.result, task.errors):
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)


def test_unknown_status(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.start_task(cluster, "AddComputes")
    simulator.simulator.inject(Fault.unknown_status("Suspended"))

    [task] = list_tasks(simulator, cluster_id=cluster).body.tasks

    assert task.status == "Suspended"


def test_bad_shape_makes_the_sdk_return_no_body(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.start_task(cluster, "AddComputes")
    simulator.simulator.inject(Fault.bad_shape())

    response = list_tasks(simulator, cluster_id=cluster)

    assert (response.status_code, response.body) == (200, None)


def test_queue_applies_in_order_then_stops(simulator: SimulatorServer, cluster: str) -> None:
    sim = simulator.simulator
    sim.inject(Fault.error("ServiceUnavailable"), times=2)
    sim.inject(Fault.error("DbError"))

    codes = []
    for _ in range(4):
        try:
            list_tasks(simulator, cluster_id=cluster)
            codes.append(None)
        except AlibabaCloudException as exc:
            codes.append(exc.code)

    assert codes == ["ServiceUnavailable", "ServiceUnavailable", "DbError", None]


def test_rate_one_spoils_every_answer_until_cleared(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.set_fault_rate(Fault.error("UnknownError"), 1.0)

    for _ in range(2):
        with pytest.raises(ServerException):
            list_tasks(simulator, cluster_id=cluster)
    simulator.simulator.clear_faults()

    assert list_tasks(simulator, cluster_id=cluster).status_code == 200


def test_every_tenth_request_is_spoiled(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.set_fault_every(Fault.error("Throttling.User", retry_after_ms=100), 10)

    throttled = []
    for number in range(1, 31):
        try:
            list_tasks(simulator, cluster_id=cluster)
        except ThrottlingException:
            throttled.append(number)

    assert throttled == [10, 20, 30]


def test_latency_holds_every_answer_back(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.latency = 0.2

    started = time.monotonic()
    list_tasks(simulator, cluster_id=cluster)

    assert time.monotonic() - started >= 0.2
    assert simulator.simulator.requests[-1].delay == pytest.approx(0.2)


def test_rates_are_seeded() -> None:
    def draw(seed: int) -> list[Fault | None]:
        plan = FaultPlan(seed=seed)
        plan.set_rate(Fault.error("Throttling"), 0.3)
        plan.set_rate(Fault.drop(), 0.2)
        return [plan.next() for _ in range(200)]

    first = draw(7)

    assert first == draw(7)
    assert 30 < sum(f == Fault.error("Throttling") for f in first) < 90
    assert None in first


def test_fault_dict_round_trip() -> None:
    fault = Fault.error("Throttling.User", retry_after_ms=1500)

    assert Fault.from_dict(fault.to_dict()) == fault
    assert Fault.from_dict({"kind": "slow", "seconds": 2}) == Fault.slow(2)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_bad_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        FaultPlan().set_rate(Fault.drop(), rate)


def test_unknown_error_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        Fault.error("NoSuchCode")
