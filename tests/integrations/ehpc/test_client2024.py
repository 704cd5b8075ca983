"""EhpcClient2024 against the simulator over real HTTP: windowed paging, grouping by RequestId, stages,
errors, and the official 2024 SDK's failures mapped onto our error hierarchy."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from integrations.ehpc.client2024 import DEFAULT_OVERLAP, EhpcClient2024
from integrations.ehpc.errors import PermanentEhpcError, RetryableEhpcError
from integrations.ehpc.operation import with_detail
from integrations.ehpc.simulator import Fault, SimulatorServer
from integrations.ehpc.task import TaskStatus, TaskType
from tests.fixtures.simulator import SIMULATOR_ACCESS_KEY_ID, SIMULATOR_ACCESS_KEY_SECRET

NEXT = "ehpc-hz-next0001"


@pytest.fixture
def next_cluster(simulator: SimulatorServer) -> str:
    simulator.simulator.add_cluster(NEXT, generation="2.0")
    return NEXT


def make_client(
    server: SimulatorServer, *, secret: str = SIMULATOR_ACCESS_KEY_SECRET, key: str | None = None
) -> EhpcClient2024:
    return EhpcClient2024(
        endpoint=server.endpoint,
        access_key_id=key or SIMULATOR_ACCESS_KEY_ID,
        access_key_secret=SecretStr(secret),
        connect_timeout_ms=2000,
        read_timeout_ms=3000,
        now=server.simulator.unix_now,  # the simulated cloud's clock: windows end at its "now"
    )


@pytest.fixture
def client(simulator: SimulatorServer) -> EhpcClient2024:
    return make_client(simulator)


def log_params(server: SimulatorServer) -> list[dict[str, str]]:
    keep = ("ClusterId", "From", "To", "PageNumber", "PageSize", "IsReverse", "LogRequestId")
    return [{k: r.params[k] for k in keep if k in r.params} for r in server.simulator.requests]


@pytest.mark.parametrize(("count", "calls"), [(0, 1), (1, 1), (100, 1), (101, 2), (1000, 10)])
def test_a_window_returns_every_operation_once(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024, count: int, calls: int
) -> None:
    ids = simulator.simulator.add_logs(next_cluster, count, spacing=0.5)
    watermark = simulator.simulator.unix_now() - 600

    window = client.list_operations(next_cluster, watermark=watermark)

    assert sorted(t.task_id for t in window.tasks) == sorted(ids)
    assert len(window.tasks) == len({t.task_id for t in window.tasks})
    assert all(t.status is TaskStatus.SUCCESS and t.generation == "2.0" for t in window.tasks)
    assert client.api_calls == calls
    until = str(int(simulator.simulator.unix_now()))
    since = str(int(watermark - DEFAULT_OVERLAP))
    assert log_params(simulator) == [
        {
            "ClusterId": next_cluster,
            "From": since,
            "To": until,
            "PageNumber": str(n),
            "PageSize": "100",
            "IsReverse": "True",
        }
        for n in range(1, calls + 1)
    ]
    assert (window.since, window.until) == (int(since), int(until))


def test_lines_of_one_operation_across_pages_make_one_task(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    sim = simulator.simulator
    finished = [sim.start_operation(next_cluster, "CreateNodes", stages=("A", "B", "C")) for _ in range(40)]
    failed = [
        sim.start_operation(next_cluster, "DeleteNodes", stages=("A", "B", "C"), outcome="Failed")
        for _ in range(30)
    ]
    sim.advance(30)  # 40 × 4 lines + 30 × 3 lines (failing in stage B) = 250 lines
    running = [sim.start_operation(next_cluster, "UpdateCluster") for _ in range(5)]
    sim.advance(1)

    window = client.list_operations(next_cluster, watermark=None)

    by_id = {t.task_id: t for t in window.tasks}
    assert len(window.tasks) == len(by_id) == 75
    assert window.lines == 255  # and 5 start lines: three pages
    assert {by_id[i].status for i in finished} == {TaskStatus.SUCCESS}
    assert {by_id[i].status for i in failed} == {TaskStatus.FAIL}
    assert {by_id[i].status for i in running} == {TaskStatus.PROCESSING}
    assert {by_id[i].task_type for i in finished} == {TaskType.CREATE_NODES}
    assert client.api_calls == 3


def test_an_operation_that_starts_and_ends_between_two_polls_is_seen_finished(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    sim = simulator.simulator
    first = client.list_operations(next_cluster, watermark=None)
    sim.advance(5)
    request_id = sim.start_operation(next_cluster, "CreateNodes", stages=("A", "B"), stage_seconds=5)
    sim.advance(20)  # started and finished between the polls

    second = client.list_operations(next_cluster, watermark=first.until)

    assert first.tasks == []
    assert [(t.task_id, t.status, t.raw_status) for t in second.tasks] == [
        (request_id, TaskStatus.SUCCESS, "Finished")
    ]


def test_a_running_operation_is_followed_window_to_window_and_by_id(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    sim = simulator.simulator
    request_id = sim.start_operation(next_cluster, "CreateNodes", stages=("A", "B"), stage_seconds=1000)
    sim.advance(1)
    first = client.list_operations(next_cluster, watermark=None)
    sim.advance(DEFAULT_OVERLAP + 50)
    again = client.list_operations(next_cluster, watermark=first.until)  # the overlap re-reads its start
    sim.advance(DEFAULT_OVERLAP + 50)  # no stage ended yet

    quiet = client.list_operations(next_cluster, watermark=again.until)
    by_id = client.get_operation(next_cluster, request_id, since=sim.unix_now() - 3600)
    sim.advance(3000)
    done = client.list_operations(next_cluster, watermark=quiet.until)

    assert [t.status for t in first.tasks] == [t.status for t in again.tasks] == [TaskStatus.PROCESSING]
    assert quiet.tasks == []  # nothing new: absence is not an end
    assert by_id is not None
    assert (by_id.task_id, by_id.status) == (request_id, TaskStatus.PROCESSING)
    assert log_params(simulator)[3]["LogRequestId"] == request_id
    assert [(t.task_id, t.status) for t in done.tasks] == [(request_id, TaskStatus.SUCCESS)]


def test_get_operation_of_an_unknown_request_id_is_none(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    assert client.get_operation(next_cluster, "NOPE", since=simulator.simulator.unix_now() - 60) is None


def test_stages_give_progress_as_stages_done(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    sim = simulator.simulator
    request_id = sim.start_operation(
        next_cluster, "CreateNodes", stages=("Prepare", "Create", "Start", "Check")
    )
    sim.advance(25)
    [task] = client.list_operations(next_cluster, watermark=None).tasks

    detail = client.get_detail(request_id, since=sim.unix_now() - 3600)
    assert detail is not None
    enriched = with_detail(task, detail)

    assert (task.current_step, task.total_steps) == (None, None)
    assert (enriched.current_step, enriched.total_steps, enriched.stage) == (2, None, "Create")
    assert enriched.progress is None  # no total: no fraction is invented
    assert enriched.status is TaskStatus.PROCESSING


def test_errors_come_from_the_failing_stage(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    sim = simulator.simulator
    request_id = sim.start_operation(
        next_cluster,
        "CreateNodes",
        stages=("Prepare", "Create", "Start"),
        outcome="Failed",
        error="ecs.NoStock: the instance type <c7> is sold out",
    )
    sim.advance(60)
    [task] = client.list_operations(next_cluster, watermark=None).tasks

    detail = client.get_detail(request_id, since=sim.unix_now() - 3600)
    assert detail is not None
    enriched = with_detail(task, detail)

    assert task.status is TaskStatus.FAIL
    assert [e.message for e in task.errors] == [
        "CreateNodes failed: Stage Create failed: ecs.NoStock: the instance type <c7> is sold out"
    ]
    assert [e.message for e in enriched.errors] == [
        "Create: Stage Create failed: ecs.NoStock: the instance type <c7> is sold out"
    ]
    assert (enriched.current_step, enriched.stage) == (1, "Create")


def test_detail_of_an_unknown_operation_is_none(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    assert client.get_detail("NOPE", since=simulator.simulator.unix_now() - 60) is None


def test_an_unknown_status_is_kept_not_fatal(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    simulator.simulator.add_logs(next_cluster, 2)
    simulator.simulator.inject(Fault.unknown_status("Paused"))

    tasks = client.list_operations(next_cluster, watermark=None).tasks

    assert [(t.status, t.raw_status) for t in tasks] == [(TaskStatus.UNKNOWN, "Paused")] * 2
    assert all("unknown Status 'Paused'" in t.problems for t in tasks)


def test_generation_of_asks_list_clusters(
    simulator: SimulatorServer, next_cluster: str, client: EhpcClient2024
) -> None:
    simulator.simulator.add_cluster("ehpc-hz-old00001")

    assert client.generation_of(next_cluster) == "2.0"
    assert client.generation_of("ehpc-hz-old00001") == "1.0"
    assert client.generation_of("ehpc-hz-nope") is None
    assert {(c.cluster_id, c.generation) for c in client.list_clusters()} == {
        (next_cluster, "2.0"),
        ("ehpc-hz-old00001", "1.0"),
    }


@pytest.mark.parametrize(
    ("fault", "kind", "code"),
    [
        (Fault.error("ServiceUnavailable"), RetryableEhpcError, "ServiceUnavailable"),
        (Fault.error("Throttling.User", retry_after_ms=1500), RetryableEhpcError, "Throttling.User"),
        (Fault.error("ClusterNotFound"), PermanentEhpcError, "ClusterNotFound"),
        (Fault.error("MissingFrom"), PermanentEhpcError, "MissingFrom"),
        (Fault.error("DbError"), RetryableEhpcError, "DbError"),
        (Fault.html_502(), RetryableEhpcError, "NonJsonBody"),
        (Fault.drop(), RetryableEhpcError, "ConnectionError"),
        (Fault.bad_shape(), RetryableEhpcError, "UnexpectedShape"),
    ],
)
def test_failures_map_onto_the_error_hierarchy_without_sdk_retries(
    simulator: SimulatorServer,
    next_cluster: str,
    client: EhpcClient2024,
    fault: Fault,
    kind: type[Exception],
    code: str,
) -> None:
    simulator.simulator.inject(fault)

    with pytest.raises(kind) as caught:
        client.list_operations(next_cluster, watermark=None)

    assert getattr(caught.value, "code", None) == code
    assert len(simulator.simulator.requests) == 1  # the SDK did not try again
    if code == "Throttling.User":
        assert getattr(caught.value, "retry_after", None) == 1.5


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        (SIMULATOR_ACCESS_KEY_ID, "notTheSecret", "SignatureDoesNotMatch"),
        ("LTAIunknownKey", "whatever", "InvalidAccessKeyId.NotFound"),
    ],
)
def test_refused_credentials_are_permanent_and_never_echo_the_secret(
    simulator: SimulatorServer, next_cluster: str, key: str, secret: str, code: str
) -> None:
    client = make_client(simulator, key=key, secret=secret)

    with pytest.raises(PermanentEhpcError) as caught:
        client.list_operations(next_cluster, watermark=None)

    assert caught.value.code == code
    assert secret not in str(caught.value)


def test_window_bounds_are_checked(client: EhpcClient2024) -> None:
    with pytest.raises(ValueError, match="at least one second"):
        client.list_operations(NEXT, watermark=None, overlap=0)
