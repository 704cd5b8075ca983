"""What the simulator starts with: clusters, their tasks, and operations it starts by itself later.

A scenario file is JSON or YAML (chosen by the ``.json`` / ``.yaml`` / ``.yml`` suffix)::

    clusters:
      - id: ehpc-hz-demo0001          # required
        name: Demo cluster             # optional, defaults to the id
        tasks:
          - type: CreateCluster        # any TaskType, even an undocumented one
            outcome: Success           # Success | Fail | PartialFail (default Success)
            steps: 8                   # TotalSteps (default 5)
            step_seconds: 30           # virtual seconds per step (default 10)
            start: -3600               # virtual start time, seconds from now (negative: in the past)
            nodes: 4                   # instances involved (default 2)
          - type: AddComputes
            status: Processing         # pinned: this task never moves (any string, even unknown)
      - id: ehpc-hz-next0001
        generation: "2.0"              # E-HPC 2.0: served by the 2024-07-30 API (operation logs) only
        operations:
          - action: CreateNodes        # any action name
            outcome: Failed            # Finished | Failed (default Finished)
            stages: 6                  # a count, or a list of stage names (default: five named ones)
            stage_seconds: 20          # virtual seconds per stage (default 10)
            start: -30                 # virtual start time, seconds from now
    activity:                          # optional: a new operation every N virtual seconds
      every_seconds: 90
      operations:                      # started in turn, cycling over the clusters
        - {type: AddComputes, outcome: PartialFail, steps: 6, step_seconds: 10, nodes: 3}

A task whose ``start`` plus ``steps × step_seconds`` lies in the past is already finished; one that
straddles zero is running. On a 2.0 cluster the activity starts each operation as its 2024 counterpart
(AddComputes → CreateNodes, one stage per step). :func:`default_scenario` is the built-in demo.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from integrations.ehpc.simulator.model import Activity, Model, Operation
from integrations.ehpc.simulator.oplog import DEFAULT_STAGES, OpSpec

__all__ = [
    "ActivitySpec",
    "ClusterSpec",
    "OperationSpec",
    "Scenario",
    "TaskSpec",
    "default_scenario",
    "load_scenario",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TaskSpec(_Spec):
    """One task of a scenario cluster."""

    task_type: str = Field(alias="type")
    outcome: Literal["Success", "Fail", "PartialFail"] = "Success"
    steps: int = Field(default=5, ge=1)
    step_seconds: float = Field(default=10.0, gt=0)
    start: float = 0.0
    nodes: int = Field(default=2, ge=0)
    status: str | None = None

    def as_operation(self) -> Operation:
        """The template the activity schedule uses."""
        return Operation(
            task_type=self.task_type,
            outcome=self.outcome,
            total_steps=self.steps,
            step_seconds=self.step_seconds,
            nodes=self.nodes,
        )


class OperationSpec(_Spec):
    """One operation of a 2.0 scenario cluster."""

    action: str = Field(min_length=1)
    outcome: Literal["Finished", "Failed"] = "Finished"
    stages: int | list[str] = Field(default=list(DEFAULT_STAGES))
    stage_seconds: float = Field(default=10.0, gt=0)
    start: float = 0.0

    def as_spec(self) -> OpSpec:
        """The model's form."""
        names = (
            tuple(f"Stage{n}" for n in range(1, self.stages + 1))
            if isinstance(self.stages, int)
            else tuple(self.stages)
        )
        return OpSpec(self.action, outcome=self.outcome, stages=names, stage_seconds=self.stage_seconds)


class ClusterSpec(_Spec):
    """A cluster and its initial tasks (1.0) or operations (2.0)."""

    cluster_id: str = Field(alias="id", min_length=1)
    name: str | None = None
    generation: Literal["1.0", "2.0"] = "1.0"
    tasks: list[TaskSpec] = Field(default_factory=list)
    operations: list[OperationSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> ClusterSpec:
        if self.generation == "1.0" and self.operations:
            raise ValueError("operations belong to 2.0 clusters; a 1.0 cluster has tasks")
        if self.generation == "2.0" and self.tasks:
            raise ValueError("tasks belong to 1.0 clusters; a 2.0 cluster has operations")
        return self


class ActivitySpec(_Spec):
    """Operations started by themselves as virtual time passes."""

    every_seconds: float = Field(gt=0)
    operations: list[TaskSpec] = Field(min_length=1)


class Scenario(_Spec):
    """A whole scenario, validated at load."""

    clusters: list[ClusterSpec] = Field(default_factory=list)
    activity_spec: ActivitySpec | None = Field(default=None, alias="activity")

    @property
    def activity(self) -> Activity | None:
        """The model's form of the activity schedule."""
        if self.activity_spec is None:
            return None
        return Activity(
            every_seconds=self.activity_spec.every_seconds,
            operations=tuple(op.as_operation() for op in self.activity_spec.operations),
        )

    def apply(self, model: Model) -> None:
        """Create the clusters and tasks in ``model``."""
        now = model.clock.now()
        for cluster in self.clusters:
            model.add_cluster(cluster.cluster_id, name=cluster.name, generation=cluster.generation)
            for operation in cluster.operations:
                model.start_operation(
                    cluster.cluster_id, operation.as_spec(), started_at=now + operation.start
                )
            for task in cluster.tasks:
                model.start_task(
                    cluster.cluster_id,
                    task.as_operation(),
                    started_at=now + task.start,
                    pinned_status=task.status,
                )


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file (JSON or YAML by suffix)."""
    text = path.read_text(encoding="utf-8")
    data: Any = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    return Scenario.model_validate(data or {})


def default_scenario() -> Scenario:
    """The built-in demo: three 1.0 clusters with running, finished and failed tasks, one 2.0 cluster with
    operations, and new work every 90 s on each in turn."""
    return Scenario.model_validate(
        {
            "clusters": [
                {
                    "id": "ehpc-hz-demo0001",
                    "name": "CFD production",
                    "tasks": [
                        {"type": "CreateCluster", "steps": 8, "step_seconds": 30, "start": -7200, "nodes": 4},
                        {"type": "StopComputes", "outcome": "PartialFail", "start": -1800, "nodes": 4},
                        {"type": "AddComputes", "steps": 12, "step_seconds": 20, "start": -60, "nodes": 3},
                    ],
                },
                {
                    "id": "ehpc-hz-demo0002",
                    "name": "Genomics batch",
                    "tasks": [
                        {
                            "type": "CreateCluster",
                            "steps": 8,
                            "step_seconds": 30,
                            "start": -86400,
                            "nodes": 3,
                        },
                        {"type": "AddComputes", "outcome": "Fail", "start": -3600, "nodes": 2},
                        {"type": "StartComputes", "steps": 6, "step_seconds": 15, "start": -30},
                    ],
                },
                {
                    "id": "ehpc-hz-demo0003",
                    "name": "Rendering farm",
                    "tasks": [
                        {"type": "CreateCluster", "steps": 10, "step_seconds": 20, "start": -40, "nodes": 4},
                    ],
                },
                {
                    "id": "ehpc-hz-demo0004",
                    "name": "AI training (E-HPC 2.0)",
                    "generation": "2.0",
                    "operations": [
                        {"action": "CreateCluster", "stages": 6, "stage_seconds": 30, "start": -7200},
                        {"action": "CreateNodes", "outcome": "Failed", "stages": 4, "start": -1800},
                        {
                            "action": "CreateNodes",
                            "stages": [
                                "CheckQuota",
                                "CreateInstances",
                                "ConfigNetwork",
                                "InstallSoftware",
                                "JoinScheduler",
                            ],
                            # long enough to be seen running even when the worker starts slowly
                            "stage_seconds": 120,
                            "start": -20,
                        },
                    ],
                },
            ],
            "activity": {
                "every_seconds": 90,
                "operations": [
                    {"type": "AddComputes", "steps": 6, "step_seconds": 10, "nodes": 2},
                    {
                        "type": "AddComputes",
                        "outcome": "PartialFail",
                        "steps": 6,
                        "step_seconds": 10,
                        "nodes": 3,
                    },
                    {"type": "StopComputes", "steps": 4, "step_seconds": 10, "nodes": 2},
                    {"type": "CreateCluster", "steps": 8, "step_seconds": 10, "nodes": 3},
                ],
            },
        }
    )
