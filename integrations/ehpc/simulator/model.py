"""Clusters, their tasks, and the virtual clock that moves the tasks along.

A task is a timeline, not a mutable record: from its start time, step length and outcome, its
``Status`` / ``CurrentStep`` at any clock reading follow, so advancing the clock needs no bookkeeping.
A ``Fail`` task stops at its middle step, ``Success`` and ``PartialFail`` run to ``TotalSteps``.
Bulk-added tasks are *pinned*: their status never changes. A task scheduled for later (``started_at`` in
the future) is invisible until then; a *purged* task is gone from every answer, TaskId lookups included (the
cloud forgot its history). A cluster whose ``DeleteCluster`` task has succeeded no longer exists: ListTasks
then answers ``ClusterNotFound``. A cluster is of generation ``1.0`` (tasks, ListTasks) or ``2.0``
(operations and their logs, :mod:`~integrations.ehpc.simulator.oplog`); the other API does not see it.
Not thread-safe; the service holds a lock.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from integrations.ehpc.simulator.oplog import OpSpec, SimOperation

__all__ = [
    "FINAL_STATUSES",
    "GENERATIONS",
    "OUTCOMES",
    "Activity",
    "Clock",
    "Cluster",
    "Model",
    "Operation",
    "SimTask",
]

OUTCOMES = ("Success", "Fail", "PartialFail")
GENERATIONS = ("1.0", "2.0")
FINAL_STATUSES = frozenset(OUTCOMES)
_RESULT_TYPES = frozenset({"CreateCluster", "AddComputes"})
_UID = "1609982529920000"  # the account every simulated task belongs to
_BID = "26842"


class Clock:
    """Virtual seconds since the simulation began; in realtime mode wall time × ``speed`` is added."""

    def __init__(
        self, *, realtime: bool = False, speed: float = 1.0, wall: Callable[[], float] = time.monotonic
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._realtime = realtime
        self._speed = speed
        self._wall = wall
        self._origin = wall()
        self._offset = 0.0

    def now(self) -> float:
        """The current virtual time."""
        if not self._realtime:
            return self._offset
        return self._offset + (self._wall() - self._origin) * self._speed

    @property
    def rate(self) -> float:
        """Virtual seconds per wall second: ``speed`` in realtime mode, else 1 (tests move the clock)."""
        return self._speed if self._realtime else 1.0

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (never back: tasks would un-finish)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds


@dataclass(frozen=True)
class SimTask:
    """One asynchronous operation on a cluster."""

    task_id: str
    cluster_id: str
    task_type: str
    started_at: float
    total_steps: int
    step_seconds: float
    outcome: str
    instances: tuple[dict[str, str], ...]
    failed_ids: frozenset[str]
    request: dict[str, Any]
    pinned_status: str | None = None
    purged_at: float | None = None

    @property
    def ends_at(self) -> float | None:
        """Virtual time of its final status (None for a pinned task: it never changes)."""
        if self.pinned_status is not None:
            return None
        return self.started_at + self._end_step * self.step_seconds

    def visible(self, now: float) -> bool:
        """Whether ListTasks shows the task at ``now``: started, and not purged yet."""
        return self.started_at <= now and (self.purged_at is None or now < self.purged_at)

    @property
    def _end_step(self) -> int:
        return max(1, (self.total_steps + 1) // 2) if self.outcome == "Fail" else self.total_steps

    def state(self, now: float) -> tuple[str, int]:
        """``(Status, CurrentStep)`` at virtual time ``now``."""
        if self.pinned_status is not None:
            if self.pinned_status in FINAL_STATUSES:
                return self.pinned_status, self._end_step
            return self.pinned_status, self.total_steps // 2
        step = max(0, int((now - self.started_at) // self.step_seconds))
        if step >= self._end_step:
            return self.outcome, self._end_step
        return "Processing", step

    def to_wire(self, now: float) -> dict[str, Any]:
        """The task as an element of ``Tasks``; ``Result`` / ``Errors`` / ``Request`` are JSON strings."""
        status, step = self.state(now)
        return {
            "Status": status,
            "TaskType": self.task_type,
            "TotalSteps": self.total_steps,
            "CurrentStep": step,
            "Result": json.dumps(self._result(status)),
            "Errors": json.dumps(self._errors(status, step)),
            "TaskId": self.task_id,
            "Request": json.dumps(self.request),
            "ClusterId": self.cluster_id,
        }

    def _result(self, status: str) -> dict[str, Any]:
        if self.task_type not in _RESULT_TYPES:
            return {}
        kept = [i for i in self.instances if status == "Processing" or i["InstanceId"] not in self.failed_ids]
        return {"Instances": kept}

    def _errors(self, status: str, step: int) -> list[dict[str, str]]:
        if status not in {"Fail", "PartialFail"}:
            return []
        failed = [i for i in self.instances if i["InstanceId"] in self.failed_ids]
        return [
            {
                "Code": "InstanceOperationFailed",
                "Message": f"{self.task_type} failed on {i['Hostname']} at step {step}/{self.total_steps}.",
                "InstanceId": i["InstanceId"],
            }
            for i in failed
        ]


@dataclass
class Cluster:
    """A cluster and its tasks in start order."""

    cluster_id: str
    name: str
    tasks: dict[str, SimTask] = field(default_factory=dict)
    compute_count: int = 0
    generation: str = "1.0"
    operations: dict[str, SimOperation] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """What an asynchronous API call (AddNodes, StopNodes …) sets going: its type, length and outcome."""

    task_type: str
    outcome: str = "Success"
    total_steps: int = 5
    step_seconds: float = 10.0
    nodes: int = 2

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        if self.total_steps < 1 or self.step_seconds <= 0 or self.nodes < 0:
            raise ValueError("total_steps must be >= 1, step_seconds > 0, nodes >= 0")

    def as_2024(self) -> OpSpec:
        """The same operation on a 2.0 cluster: the 2024 action, one stage per step, Finished or Failed."""
        stages = tuple(f"Step{n}" for n in range(1, self.total_steps + 1))
        return OpSpec(
            action=_ACTIONS_2024.get(self.task_type, self.task_type),
            outcome="Finished" if self.outcome == "Success" else "Failed",
            stages=stages,
            stage_seconds=self.step_seconds,
        )


# The 2024 API's name for what a 1.0 task type does (the activity schedule runs on both generations).
_ACTIONS_2024 = {
    "AddComputes": "CreateNodes",
    "DeleteComputes": "DeleteNodes",
    "StopComputes": "UpdateNodes",
    "StartComputes": "UpdateNodes",
    "ResetComputes": "UpdateNodes",
}


@dataclass(frozen=True)
class Activity:
    """Start ``operations`` in turn, one every ``every_seconds`` virtual seconds, cycling over clusters."""

    every_seconds: float
    operations: tuple[Operation, ...]


class Model:
    """All clusters and tasks, ids drawn from a seeded RNG so a scenario replays identically."""

    def __init__(
        self, *, clock: Clock, seed: int = 0, activity: Activity | None = None, epoch: float | None = None
    ) -> None:
        self.clock = clock
        self.epoch = time.time() if epoch is None else epoch  # Unix seconds at virtual time 0
        self.clusters: dict[str, Cluster] = {}
        self._rng = random.Random(seed)  # noqa: S311 - determinism, not secrecy
        self._activity = activity
        self._activity_turn = 0
        self._next_activity_at = activity.every_seconds if activity else 0.0

    def add_cluster(self, cluster_id: str, *, name: str | None = None, generation: str = "1.0") -> None:
        """Create an empty cluster; an existing id is an error."""
        if cluster_id in self.clusters:
            raise ValueError(f"cluster {cluster_id} exists already")
        if generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {GENERATIONS}, not {generation!r}")
        self.clusters[cluster_id] = Cluster(
            cluster_id=cluster_id, name=name or cluster_id, generation=generation
        )

    def unix(self, virtual: float) -> float:
        """Unix seconds of a virtual time; in realtime mode they keep pace with the wall clock at any speed.

        So a client whose windows end at its own "now" (the 2024 API's ``To``) sees lines as they are
        written, even when the demo runs ten virtual seconds per second.
        """
        return self.epoch + virtual / self.clock.rate

    def start_operation(
        self,
        cluster_id: str,
        spec: OpSpec,
        *,
        started_at: float | None = None,
        pinned_status: str | None = None,
    ) -> str:
        """Start a 2.0 operation (now unless ``started_at`` says otherwise); returns its RequestId."""
        cluster = self._cluster(cluster_id, generation="2.0")
        operation = SimOperation(
            request_id=self._uuid(),
            cluster_id=cluster_id,
            spec=spec,
            started_at=self.clock.now() if started_at is None else started_at,
            target=cluster_id,
            pinned_status=pinned_status,
        )
        cluster.operations[operation.request_id] = operation
        return operation.request_id

    def add_logs(
        self, cluster_id: str, count: int, *, status: str = "Finished", spacing: float = 1.0
    ) -> list[str]:
        """Add ``count`` pinned operations of one line each, the newest now, ``spacing`` seconds apart.

        Returns their RequestIds, oldest first.
        """
        now = self.clock.now()
        spec = OpSpec("UpdateCluster")
        return [
            self.start_operation(
                cluster_id, spec, started_at=now - (count - 1 - i) * spacing, pinned_status=status
            )
            for i in range(count)
        ]

    def start_task(
        self,
        cluster_id: str,
        operation: Operation,
        *,
        started_at: float | None = None,
        pinned_status: str | None = None,
    ) -> str:
        """Start ``operation`` (now unless ``started_at`` says otherwise) and return its TaskId."""
        cluster = self._cluster(cluster_id, generation="1.0")
        instances = tuple(self._instances(cluster, operation.task_type, operation.nodes))
        failing = {"Fail": len(instances), "PartialFail": max(1, len(instances) // 2)}.get(
            operation.outcome, 0
        )
        task = SimTask(
            task_id=self._uuid(),
            cluster_id=cluster_id,
            task_type=operation.task_type,
            started_at=self.clock.now() if started_at is None else started_at,
            total_steps=operation.total_steps,
            step_seconds=operation.step_seconds,
            outcome=operation.outcome,
            instances=instances,
            failed_ids=frozenset(i["InstanceId"] for i in instances[len(instances) - failing :]),
            request={"requestId": self._uuid(), "uid": _UID, "bid": _BID, "clusterId": cluster_id},
            pinned_status=pinned_status,
        )
        cluster.tasks[task.task_id] = task
        return task.task_id

    def add_tasks(self, cluster_id: str, count: int, *, status: str = "Success") -> list[str]:
        """Add ``count`` AddComputes tasks pinned at ``status`` (any string), started now."""
        outcome = status if status in OUTCOMES else "Success"
        return [
            self.start_task(
                cluster_id, Operation("AddComputes", outcome=outcome, nodes=1), pinned_status=status
            )
            for _ in range(count)
        ]

    def purge_task(self, cluster_id: str, task_id: str) -> None:
        """Make E-HPC forget a task from now on: no listing shows it, a TaskId lookup finds nothing."""
        cluster = self._cluster(cluster_id, generation="1.0")
        task = cluster.tasks[task_id]
        cluster.tasks[task_id] = replace(task, purged_at=self.clock.now())

    def exists(self, cluster_id: str) -> bool:
        """False for an unknown cluster and for one whose DeleteCluster task has succeeded."""
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            return False
        now = self.clock.now()
        return not any(
            task.task_type == "DeleteCluster" and task.visible(now) and task.state(now)[0] == "Success"
            for task in cluster.tasks.values()
        )

    def matching(self, cluster_id: str, *, archived: bool, task_id: str | None) -> list[SimTask]:
        """Tasks a ListTasks query selects, newest first (start time, then TaskId)."""
        self.catch_up()
        cluster = self._cluster(cluster_id, generation="1.0")
        now = self.clock.now()
        if task_id is not None:
            found = cluster.tasks.get(task_id)
            return [found] if found and found.visible(now) else []
        chosen = [
            t
            for t in cluster.tasks.values()
            if t.visible(now) and (archived or t.state(now)[0] == "Processing")
        ]
        return sorted(chosen, key=lambda t: (t.started_at, t.task_id), reverse=True)

    def catch_up(self) -> None:
        """Start the activity's operations whose time has come (lazily, so no thread is needed)."""
        activity = self._activity
        if activity is None or not activity.operations or not self.clusters:
            return
        while self._next_activity_at <= self.clock.now():
            op = activity.operations[self._activity_turn % len(activity.operations)]
            ids = list(self.clusters)
            cluster_id = ids[self._activity_turn % len(ids)]
            if self.clusters[cluster_id].generation == "2.0":
                self.start_operation(cluster_id, op.as_2024(), started_at=self._next_activity_at)
            else:
                self.start_task(cluster_id, op, started_at=self._next_activity_at)
            self._activity_turn += 1
            self._next_activity_at += activity.every_seconds

    def _cluster(self, cluster_id: str, *, generation: str) -> Cluster:
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise KeyError(f"no cluster {cluster_id}")
        if cluster.generation != generation:
            raise ValueError(f"cluster {cluster_id} is E-HPC {cluster.generation}, not {generation}")
        return cluster

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4)).upper()

    def _instances(self, cluster: Cluster, task_type: str, nodes: int) -> Iterator[dict[str, str]]:
        roles = ["login", "manager"] if task_type == "CreateCluster" else []
        for index in range(nodes):
            if index < len(roles):
                role, hostname = roles[index], f"{roles[index]}0"
            else:
                role, hostname = "compute", f"compute{cluster.compute_count}"
                cluster.compute_count += 1
            suffix = "".join(self._rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=16))
            yield {
                "InstanceId": f"i-bp1{suffix}",
                "Ip": f"192.168.{self._rng.randint(0, 255)}.{self._rng.randint(2, 254)}",
                "Hostname": hostname,
                "role": role,
            }
