"""EhpcClient against the simulator over real HTTP: paging, Archived, TaskId, shifting lists, endpoints."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.ehpc.client import EhpcClient
from integrations.ehpc.simulator import Fault, SimulatorServer
from integrations.ehpc.task import TaskStatus, TaskType


def list_params(server: SimulatorServer) -> list[dict[str, str]]:
    """The query parameters of every ListTasks request the simulator answered, minus signing noise."""
    keep = ("ClusterId", "PageNumber", "PageSize", "Archived", "TaskId")
    return [{k: r.params[k] for k in keep if k in r.params} for r in server.simulator.requests]


@pytest.mark.parametrize(("count", "calls"), [(0, 1), (1, 1), (50, 1), (51, 2), (2000, 40)])
def test_list_running_returns_every_task_once(
    simulator: SimulatorServer, cluster: str, client: EhpcClient, count: int, calls: int
) -> None:
    running = simulator.simulator.add_tasks(cluster, count, status="Processing")
    simulator.simulator.add_tasks(cluster, 3, status="Success")  # finished: not listed

    tasks = client.list_running(cluster)

    assert sorted(t.task_id for t in tasks) == sorted(running)
    assert all(t.status is TaskStatus.PROCESSING and t.cluster_id == cluster for t in tasks)
    assert client.api_calls == calls
    assert len(simulator.simulator.requests) == calls


def test_running_pages_are_fifty_each(simulator: SimulatorServer, cluster: str, client: EhpcClient) -> None:
    simulator.simulator.add_tasks(cluster, 101, status="Processing")

    sizes = [len(page) for page in client.iter_running_pages(cluster)]

    assert sizes == [50, 50, 1]
    assert list_params(simulator) == [
        {"ClusterId": cluster, "PageNumber": str(n), "PageSize": "50", "Archived": "False"} for n in (1, 2, 3)
    ]


def test_list_archived_includes_finished_tasks_newest_first(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    old = simulator.simulator.start_task(cluster, "StopComputes", total_steps=1, step_seconds=1)
    simulator.simulator.advance(5)  # `old` has finished
    new = simulator.simulator.start_task(cluster, "AddComputes", total_steps=4, step_seconds=10)

    tasks = client.list_archived(cluster)

    assert [(t.task_id, t.status) for t in tasks] == [(new, TaskStatus.PROCESSING), (old, TaskStatus.SUCCESS)]
    assert list_params(simulator) == [
        {"ClusterId": cluster, "PageNumber": "1", "PageSize": "50", "Archived": "True"}
    ]


def test_list_archived_is_bounded(simulator: SimulatorServer, cluster: str, client: EhpcClient) -> None:
    simulator.simulator.add_tasks(cluster, 120, status="Success")

    tasks = client.list_archived(cluster, max_pages=2)

    assert len({t.task_id for t in tasks}) == len(tasks) == 100
    assert client.api_calls == 2


def test_list_archived_refuses_an_unbounded_request(client: EhpcClient) -> None:
    with pytest.raises(ValueError, match="max_pages"):
        client.list_archived("ehpc-hz-any", max_pages=0)


def test_list_running_leaves_finished_tasks_out(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    simulator.simulator.start_task(cluster, "StartComputes", total_steps=1, step_seconds=1)
    simulator.simulator.advance(5)

    assert client.list_running(cluster) == []


def test_get_task_finds_a_finished_task_without_archived(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    task_id = simulator.simulator.start_task(
        cluster, "AddComputes", total_steps=2, step_seconds=1, outcome="Fail"
    )
    simulator.simulator.start_task(cluster, "StopComputes")
    simulator.simulator.advance(10)

    task = client.get_task(cluster, task_id)

    assert task is not None
    assert (task.task_id, task.task_type, task.status) == (task_id, TaskType.ADD_COMPUTES, TaskStatus.FAIL)
    assert task.errors  # the failed nodes, parsed from the Errors JSON string
    assert list_params(simulator) == [{"ClusterId": cluster, "TaskId": task_id}]  # Archived absent


def test_get_task_unknown_id_is_none(simulator: SimulatorServer, cluster: str, client: EhpcClient) -> None:
    simulator.simulator.add_tasks(cluster, 2, status="Processing")

    assert client.get_task(cluster, "B745C159-3155-4B94-95D0-4B73D4D20000") is None


def test_finished_tasks_between_pages_are_not_lost(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    # 100 long-running tasks, then 10 newer ones at the head of the list that finish after page 1 is read:
    # the 100 move up ten places, so ten of them slide from page 2 into page 1, already read.
    staying = simulator.simulator.add_tasks(cluster, 100, status="Processing")
    simulator.simulator.advance(1)
    leaving = [
        simulator.simulator.start_task(cluster, "StopComputes", total_steps=1, step_seconds=5)
        for _ in range(10)
    ]
    pages = client.iter_running_pages(cluster)

    first = next(pages)
    simulator.simulator.advance(10)  # the ten finish: TotalCount 110 -> 100
    rest = [task for page in pages for task in page]

    seen = [t.task_id for t in first + rest]
    assert len(seen) == len(set(seen))
    assert set(staying) <= set(seen)
    assert set(seen) - set(staying) <= set(leaving)
    assert [p["PageNumber"] for p in list_params(simulator)] == ["1", "2", "1", "2"]  # stepped back once


def test_started_tasks_between_pages_are_not_doubled(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    # Five new tasks enter at the head after page 1: page 2 then repeats the five last tasks of page 1.
    staying = simulator.simulator.add_tasks(cluster, 100, status="Processing")
    pages = client.iter_running_pages(cluster)

    first = next(pages)
    simulator.simulator.advance(1)
    simulator.simulator.add_tasks(cluster, 5, status="Processing")
    rest = [task for page in pages for task in page]

    seen = [t.task_id for t in first + rest]
    assert len(seen) == len(set(seen))
    assert set(staying) <= set(seen)
    assert client.api_calls == 3  # TotalCount 105 needs a third page


def test_churn_between_every_page_loses_and_doubles_nothing(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    staying = set(simulator.simulator.add_tasks(cluster, 230, status="Processing"))
    simulator.simulator.advance(1)
    for _ in range(30):
        simulator.simulator.start_task(cluster, "StopComputes", total_steps=1, step_seconds=2)
    seen: list[str] = []

    for page in client.iter_running_pages(cluster):
        seen.extend(t.task_id for t in page)
        simulator.simulator.advance(1)  # after 2 s the short tasks finish...
        simulator.simulator.add_tasks(cluster, 3, status="Processing")  # ...and new ones keep arriving

    assert len(seen) == len(set(seen))
    assert staying <= set(seen)


def test_odd_task_values_reach_the_caller_recorded(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    simulator.simulator.add_tasks(cluster, 2, status="Processing")
    simulator.simulator.inject(Fault.malformed_json())
    simulator.simulator.inject(Fault.unknown_status("Hibernating"))

    broken = client.list_running(cluster)
    unknown = client.list_running(cluster)

    assert len(broken) == 2  # else the next line would hold for no task at all
    assert all(any("not valid JSON" in p for p in t.problems) for t in broken)
    assert {(t.status, t.raw_status) for t in unknown} == {(TaskStatus.UNKNOWN, "Hibernating")}


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (None, "https://ehpc.cn-shanghai.aliyuncs.com"),
        ("ehpc-vpc.cn-shanghai.aliyuncs.com", "https://ehpc-vpc.cn-shanghai.aliyuncs.com"),
        ("https://ehpc.example.internal", "https://ehpc.example.internal"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_endpoint_forms(endpoint: str | None, expected: str) -> None:
    client = EhpcClient(
        region="cn-shanghai", endpoint=endpoint, access_key_id="id", access_key_secret="secret"
    )

    assert client.endpoint == expected


@pytest.mark.parametrize("endpoint", ["ftp://host", "http://host:1/path", "http://"])
def test_endpoint_refuses_other_forms(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        EhpcClient(endpoint=endpoint, access_key_id="id", access_key_secret="secret")


def test_half_a_key_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="both"):
        EhpcClient(access_key_id="id")


def test_v1_signing_is_accepted_too(simulator: SimulatorServer, cluster: str) -> None:
    simulator.simulator.add_tasks(cluster, 3, status="Processing")
    client = EhpcClient(
        endpoint=simulator.endpoint,
        access_key_id="testAccessKeyId",
        access_key_secret="testSecret",
        signature_algorithm="v2",
    )

    assert len(client.list_running(cluster)) == 3
    assert [r.style for r in simulator.simulator.requests] == ["v1"]


CHAIN_PROGRAM = """
import sys
from integrations.ehpc.client import EhpcClient
from integrations.ehpc.errors import EhpcError
try:
    print(*[t.task_id for t in EhpcClient(endpoint=sys.argv[1]).list_running(sys.argv[2])])
except EhpcError as err:
    print(type(err).__name__, err.code)
"""


def list_with_chain(server: SimulatorServer, cluster: str, *, home: Path, **env: str) -> str:
    """Run EhpcClient() without keys in a fresh interpreter (the credentials package reads the environment
    once, at import), with only ``env`` as ALIBABA_CLOUD_* variables and ``home`` as its home directory."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    done = subprocess.run(
        [sys.executable, "-c", CHAIN_PROGRAM, server.endpoint, cluster],
        env={**clean, **env, "HOME": str(home), "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_standard_chain_reads_the_environment(
    simulator: SimulatorServer, cluster: str, tmp_path: Path
) -> None:
    task_id = simulator.simulator.start_task(cluster, "AddComputes")

    printed = list_with_chain(
        simulator,
        cluster,
        home=tmp_path,
        ALIBABA_CLOUD_ACCESS_KEY_ID="testAccessKeyId",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="testSecret",
    )

    assert printed == task_id


def test_standard_chain_without_credentials_is_permanent(
    simulator: SimulatorServer, cluster: str, tmp_path: Path
) -> None:
    assert list_with_chain(simulator, cluster, home=tmp_path) == "PermanentEhpcError CredentialsUnavailable"
    assert simulator.simulator.requests == []  # nothing was sent unsigned


_property_clusters = itertools.count()


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example takes a cluster of its own
)
@given(
    older=st.integers(0, 80),
    short=st.integers(0, 60),
    newer=st.integers(0, 80),
    between_pages=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 10)), max_size=6),
)
def test_steady_tasks_appear_exactly_once_whatever_the_churn(
    simulator: SimulatorServer,
    client: EhpcClient,
    older: int,
    short: int,
    newer: int,
    between_pages: list[tuple[int, int]],
) -> None:
    # Steady tasks on both sides of short ones; between two pages some short ones finish (moving the older
    # steady ones forward) and new ones start at the head (moving everything back).
    sim = simulator.simulator
    cluster = f"ehpc-hz-prop{next(_property_clusters):04d}"
    sim.add_cluster(cluster)
    steady = set(sim.add_tasks(cluster, older, status="Processing"))
    for j in range(short):  # the j-th finishes once the clock has moved 10 * (j + 1) s
        sim.start_task(cluster, "StopComputes", total_steps=1, step_seconds=10 * (j + 1))
    sim.advance(1)
    steady |= set(sim.add_tasks(cluster, newer, status="Processing"))
    events = iter(between_pages)
    seen: list[str] = []

    for page in client.iter_running_pages(cluster):
        seen.extend(t.task_id for t in page)
        finishing, starting = next(events, (0, 0))
        sim.advance(10 * finishing)
        sim.add_tasks(cluster, starting, status="Processing")

    assert len(seen) == len(set(seen))
    assert steady <= set(seen)
