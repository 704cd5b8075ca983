"""Tasks move with the virtual clock and end as Success, Fail or PartialFail with the right details."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from integrations.ehpc.simulator import Simulator
from integrations.ehpc.simulator.model import Clock

CLUSTER = "ehpc-hz-model001"


def wire(sim: Simulator, task_id: str) -> dict[str, Any]:
    """The task as ListTasks would show it now."""
    [cluster] = sim.state()["clusters"]
    [task] = [t for t in cluster["tasks"] if t["TaskId"] == task_id]
    return task


@pytest.fixture
def sim() -> Simulator:
    simulator = Simulator()
    simulator.add_cluster(CLUSTER)
    return simulator


def test_one_step_per_step_seconds_then_success(sim: Simulator) -> None:
    task_id = sim.start_task(CLUSTER, "StopComputes", total_steps=3, step_seconds=10)
    seen = []
    for _ in range(4):
        task = wire(sim, task_id)
        seen.append((task["Status"], task["CurrentStep"]))
        sim.advance(10)

    assert seen == [("Processing", 0), ("Processing", 1), ("Processing", 2), ("Success", 3)]
    assert json.loads(wire(sim, task_id)["Result"]) == {}  # not a node-adding type
    assert json.loads(wire(sim, task_id)["Errors"]) == []


def test_fail_stops_midway_with_errors_naming_instances(sim: Simulator) -> None:
    task_id = sim.start_task(CLUSTER, "AddComputes", total_steps=6, outcome="Fail", nodes=2)
    sim.advance(30)

    task = wire(sim, task_id)

    assert (task["Status"], task["CurrentStep"], task["TotalSteps"]) == ("Fail", 3, 6)
    errors = json.loads(task["Errors"])
    assert len(errors) == 2
    assert all(set(e) == {"Code", "Message", "InstanceId"} for e in errors)
    assert json.loads(task["Result"]) == {"Instances": []}


def test_partial_fail_keeps_the_good_nodes(sim: Simulator) -> None:
    task_id = sim.start_task(CLUSTER, "AddComputes", total_steps=2, outcome="PartialFail", nodes=4)
    running = json.loads(wire(sim, task_id)["Result"])["Instances"]
    sim.advance(20)

    task = wire(sim, task_id)

    assert (task["Status"], task["CurrentStep"]) == ("PartialFail", 2)
    failed = {e["InstanceId"] for e in json.loads(task["Errors"])}
    kept = {i["InstanceId"] for i in json.loads(task["Result"])["Instances"]}
    assert len(failed) == 2
    assert failed | kept == {i["InstanceId"] for i in running}
    assert not failed & kept


def test_instances_look_like_ecs_nodes(sim: Simulator) -> None:
    task_id = sim.start_task(CLUSTER, "AddComputes", nodes=2)

    instances = json.loads(wire(sim, task_id)["Result"])["Instances"]

    assert [i["Hostname"] for i in instances] == ["compute0", "compute1"]
    assert {i["role"] for i in instances} == {"compute"}
    assert all(re.fullmatch(r"i-bp1[a-z0-9]{16}", i["InstanceId"]) for i in instances)
    assert all(re.fullmatch(r"192\.168\.\d+\.\d+", i["Ip"]) for i in instances)


def test_bulk_tasks_are_pinned(sim: Simulator) -> None:
    ids = sim.add_tasks(CLUSTER, 3, status="Processing")
    sim.advance(10_000)

    assert {wire(sim, i)["Status"] for i in ids} == {"Processing"}
    assert len(set(ids)) == 3


def test_same_seed_same_ids() -> None:
    def ids() -> list[str]:
        simulator = Simulator(seed=3)
        simulator.add_cluster(CLUSTER)
        return simulator.add_tasks(CLUSTER, 5)

    assert ids() == ids()


@pytest.mark.parametrize(
    "kwargs",
    [{"outcome": "Maybe"}, {"total_steps": 0}, {"step_seconds": 0}, {"nodes": -1}],
)
def test_bad_operations_are_refused(sim: Simulator, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        sim.start_task(CLUSTER, "AddComputes", **kwargs)


def test_unknown_cluster_and_duplicates(sim: Simulator) -> None:
    with pytest.raises(KeyError):
        sim.start_task("ehpc-hz-none", "AddComputes")
    with pytest.raises(ValueError, match="exists"):
        sim.add_cluster(CLUSTER)


def test_clock_only_moves_forward() -> None:
    with pytest.raises(ValueError, match="forward"):
        Clock().advance(-1)


def test_realtime_clock_follows_the_wall_times_speed() -> None:
    wall = [100.0]
    clock = Clock(realtime=True, speed=4.0, wall=lambda: wall[0])
    wall[0] += 2.5
    clock.advance(1)

    assert clock.now() == 11.0
