"""Scenario files (JSON and YAML), the built-in demo, and the activity that keeps the demo alive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from integrations.ehpc.simulator import Simulator, default_scenario, load_scenario

SCENARIO = {
    "clusters": [
        {
            "id": "ehpc-hz-file0001",
            "name": "From a file",
            "tasks": [
                {"type": "CreateCluster", "steps": 4, "step_seconds": 10, "start": -100},
                {"type": "AddComputes", "outcome": "Fail", "steps": 4, "step_seconds": 10, "start": -15},
                {"type": "ResetCompute", "status": "Processing"},
            ],
        }
    ],
    "activity": {"every_seconds": 60, "operations": [{"type": "StopComputes", "steps": 2}]},
}


def statuses(sim: Simulator) -> list[tuple[str, str, int]]:
    return [
        (t["TaskType"], t["Status"], t["CurrentStep"])
        for cluster in sim.state()["clusters"]
        for t in cluster["tasks"]
    ]


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_load_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scenario{suffix}"
    path.write_text(json.dumps(SCENARIO))  # JSON is valid YAML too

    sim = Simulator(scenario=load_scenario(path))

    assert sim.cluster_ids == ["ehpc-hz-file0001"]
    assert statuses(sim) == [
        ("CreateCluster", "Success", 4),
        ("AddComputes", "Processing", 1),
        ("ResetCompute", "Processing", 2),
    ]


def test_activity_starts_operations_as_time_passes(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yml"
    path.write_text(json.dumps(SCENARIO))
    sim = Simulator(scenario=load_scenario(path))

    sim.advance(130)

    assert [s for s in statuses(sim) if s[0] == "StopComputes"] == [
        ("StopComputes", "Success", 2),
        ("StopComputes", "Processing", 1),
    ]


def test_unknown_fields_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"clusters": [{"id": "c", "colour": "blue"}]}))

    with pytest.raises(ValidationError):
        load_scenario(path)


def test_default_scenario_has_running_finished_and_failed_tasks() -> None:
    sim = Simulator(scenario=default_scenario())

    found = {status for _, status, _ in statuses(sim)}

    assert all(cid.startswith("ehpc-hz-demo") for cid in sim.cluster_ids)
    assert {"Processing", "Success", "Fail", "PartialFail"} <= found


def operations(sim: Simulator) -> set[str]:
    return {log["RequestId"] for cluster in sim.state()["clusters"] for log in cluster["logs"]}


def test_default_scenario_keeps_starting_operations_on_both_generations() -> None:
    sim = Simulator(scenario=default_scenario())
    tasks, ops = len(statuses(sim)), len(operations(sim))

    sim.advance(4 * 90)

    assert (len(statuses(sim)), len(operations(sim))) == (tasks + 3, ops + 1)


def test_default_scenario_has_one_2_0_cluster_with_a_running_operation() -> None:
    sim = Simulator(scenario=default_scenario())

    generations = {c["cluster_id"]: c["generation"] for c in sim.state()["clusters"]}
    logs = next(c["logs"] for c in sim.state()["clusters"] if c["generation"] == "2.0")

    assert sorted(generations.values()) == ["1.0", "1.0", "1.0", "2.0"]
    assert {"InProgress", "Finished", "Failed"} <= {log["Status"] for log in logs}
