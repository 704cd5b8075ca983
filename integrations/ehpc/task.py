"""The normalized E-HPC task: snake_case, typed, and never an exception on odd input.

One model for both generations: a 1.0 task (ListTasks, 2018-04-12) and a 2.0 operation (the operation
logs of one ``RequestId``, 2024-07-30, built by :mod:`integrations.ehpc.operation`). A 2.0 operation has
no total: its ``current_step`` counts the stages done and ``total_steps`` stays None, so the downstream
diff sees progress as a step change, and :attr:`Task.generation` tells renderers to say "N stages done".

:func:`normalize` turns a :class:`~integrations.ehpc.schema.RawTask` into a :class:`Task`. Values the API
page does not document (an unknown ``Status``, a malformed JSON string, ``CurrentStep > TotalSteps``, a
negative number) are kept as they came (``raw_*`` fields) and described in ``problems``; nothing here
raises, because one odd task must never stop the announcements of all the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from integrations.ehpc.schema import RawTask

_E = TypeVar("_E", bound=StrEnum)

__all__ = [
    "Generation",
    "Instance",
    "Task",
    "TaskError",
    "TaskStatus",
    "TaskType",
    "normalize",
    "parse_status",
    "parse_type",
]

Generation = Literal["1.0", "2.0"]


class TaskStatus(StrEnum):
    """``Status`` values; ``UNKNOWN`` stands for anything else (the raw value is kept on the task)."""

    PROCESSING = "Processing"
    SUCCESS = "Success"
    FAIL = "Fail"
    PARTIAL_FAIL = "PartialFail"
    UNKNOWN = "Unknown"

    @property
    def is_final(self) -> bool:
        """True for the states a task never leaves."""
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset({TaskStatus.SUCCESS, TaskStatus.FAIL, TaskStatus.PARTIAL_FAIL})
# The SDK's docstrings spell some values differently from the API page; both are accepted.
_STATUS_LOOKUP = {
    **{member.value.lower(): member for member in TaskStatus if member is not TaskStatus.UNKNOWN},
    "failed": TaskStatus.FAIL,
    "partialfailed": TaskStatus.PARTIAL_FAIL,
    # the 2024-07-30 API's ActionStatus
    "inprogress": TaskStatus.PROCESSING,
    "finished": TaskStatus.SUCCESS,
}


class TaskType(StrEnum):
    """``TaskType`` values; the API that starts each one is in the comment."""

    CREATE_CLUSTER = "CreateCluster"  # CreateCluster
    START_CLUSTER = "StartCluster"  # StartCluster
    STOP_CLUSTER = "StopCluster"  # StopCluster
    DELETE_CLUSTER = "DeleteCluster"  # DeleteCluster
    ADD_COMPUTES = "AddComputes"  # AddNodes
    START_COMPUTES = "StartComputes"  # StartNodes
    RESET_COMPUTES = "ResetComputes"  # ResetNodes
    STOP_COMPUTES = "StopComputes"  # StopNodes
    DELETE_COMPUTES = "DeleteComputes"  # DeleteNodes
    # E-HPC 2.0 (2024-07-30): the operation's Action is the API call itself
    CREATE_NODES = "CreateNodes"
    DELETE_NODES = "DeleteNodes"
    UPDATE_NODES = "UpdateNodes"
    ATTACH_NODES = "AttachNodes"
    UPDATE_CLUSTER = "UpdateCluster"
    UNKNOWN = "Unknown"

    @property
    def label(self) -> str:
        """What the operation does, in words an operator reads at a glance."""
        return _TYPE_LABELS[self]


_TYPE_LABELS = {
    TaskType.CREATE_CLUSTER: "Creating cluster",
    TaskType.START_CLUSTER: "Starting cluster",
    TaskType.STOP_CLUSTER: "Stopping cluster",
    TaskType.DELETE_CLUSTER: "Deleting cluster",
    TaskType.ADD_COMPUTES: "Adding compute nodes",
    TaskType.START_COMPUTES: "Starting compute nodes",
    TaskType.RESET_COMPUTES: "Resetting compute nodes",
    TaskType.STOP_COMPUTES: "Stopping compute nodes",
    TaskType.DELETE_COMPUTES: "Deleting compute nodes",
    TaskType.CREATE_NODES: "Adding compute nodes",
    TaskType.DELETE_NODES: "Deleting compute nodes",
    TaskType.UPDATE_NODES: "Updating compute nodes",
    TaskType.ATTACH_NODES: "Attaching nodes",
    TaskType.UPDATE_CLUSTER: "Updating cluster",
    TaskType.UNKNOWN: "Unknown operation",
}
_TYPE_LOOKUP = {
    **{member.value.lower(): member for member in TaskType if member is not TaskType.UNKNOWN},
    "resetcompute": TaskType.RESET_COMPUTES,
}


class Instance(BaseModel):
    """A node named in ``Result.Instances``."""

    model_config = ConfigDict(frozen=True)

    instance_id: str | None = None
    ip: str | None = None
    hostname: str | None = None
    role: str | None = None


class TaskError(BaseModel):
    """One entry of ``Errors``; the API does not document its shape, so ``raw`` keeps it whole."""

    model_config = ConfigDict(frozen=True)

    code: str | None = None
    message: str | None = None
    instance_id: str | None = None
    raw: Any = None


class Task(BaseModel):
    """One E-HPC operation as ehpc-bridge understands it."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    cluster_id: str
    task_type: TaskType
    raw_task_type: str
    status: TaskStatus
    raw_status: str
    current_step: int | None = None
    total_steps: int | None = None
    instances: tuple[Instance, ...] = ()
    errors: tuple[TaskError, ...] = ()
    request: dict[str, Any] = Field(default_factory=dict)
    problems: tuple[str, ...] = ()
    generation: Generation = "1.0"  # "2.0": an operation of the 2024 API; current_step = stages done
    stage: str | None = None  # 2.0: the last stage GetCommonLogDetail reported (done, or failed), by name

    @property
    def progress(self) -> float | None:
        """Done fraction in [0, 1] from CurrentStep/TotalSteps, or None when they can't tell."""
        if self.current_step is None or not self.total_steps or self.total_steps <= 0:
            return None
        return min(max(self.current_step / self.total_steps, 0.0), 1.0)

    @property
    def type_name(self) -> str:
        """The TaskType as a stable name: the API page's spelling when known, else the raw value.

        Vendors key incidents, labels and correlation ids on it, so a failure and the success that
        recovers it must name the type identically even if one arrived in the SDK's spelling.
        """
        return self.raw_task_type if self.task_type is TaskType.UNKNOWN else self.task_type.value

    @property
    def label(self) -> str:
        """The operation in words, falling back to the raw type name when it is unknown."""
        if self.task_type is TaskType.UNKNOWN and self.raw_task_type:
            return self.raw_task_type
        return self.task_type.label


def parse_status(value: object, problems: list[str], *, field: str = "Status") -> tuple[TaskStatus, str]:
    """A ``Status`` (either API's spelling, any case) and its raw text; unknown ones are recorded."""
    return _parse_enum(field, value, _STATUS_LOOKUP, TaskStatus.UNKNOWN, problems)


def parse_type(value: object, problems: list[str], *, field: str = "TaskType") -> tuple[TaskType, str]:
    """A ``TaskType`` (or a 2.0 ``Action``) and its raw text; unknown ones are recorded."""
    return _parse_enum(field, value, _TYPE_LOOKUP, TaskType.UNKNOWN, problems)


def normalize(raw: RawTask, *, cluster_id: str | None = None) -> Task:
    """Build a :class:`Task` from a wire task; ``cluster_id`` fills in a missing ``ClusterId``."""
    problems: list[str] = []
    status, raw_status = parse_status(raw.status, problems)
    task_type, raw_type = parse_type(raw.task_type, problems)
    current = _parse_count("CurrentStep", raw.current_step, problems)
    total = _parse_count("TotalSteps", raw.total_steps, problems)
    if current is not None and total is not None and current > total:
        problems.append(f"CurrentStep {current} exceeds TotalSteps {total}")
    return Task(
        task_id=_text(raw.task_id) or "",
        cluster_id=_text(raw.cluster_id) or cluster_id or "",
        task_type=task_type,
        raw_task_type=raw_type,
        status=status,
        raw_status=raw_status,
        current_step=current,
        total_steps=total,
        instances=_parse_instances(raw.result, problems),
        errors=_parse_errors(raw.errors, problems),
        request=_parse_request(raw.request, problems),
        problems=tuple(problems),
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _parse_enum(
    name: str, value: object, lookup: Mapping[str, _E], unknown: _E, problems: list[str]
) -> tuple[_E, str]:
    """Match ``value`` case-insensitively against ``lookup``; anything else is ``unknown``, recorded."""
    raw = _text(value) or ""
    member = lookup.get(raw.strip().lower())
    if member is not None:
        return member, raw
    problems.append(f"unknown {name} {raw!r}")
    return unknown, raw


def _parse_count(name: str, value: object, problems: list[str]) -> int | None:
    if value is None:
        problems.append(f"{name} missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        problems.append(f"{name} is not a number: {value!r}")
        return None
    try:
        number = int(value)
    except ValueError:
        problems.append(f"{name} is not a number: {value!r}")
        return None
    if number < 0:
        problems.append(f"{name} is negative: {number}")
        return None
    return number


def _parse_json(name: str, value: object, problems: list[str]) -> object:
    """Parse a JSON string field; a missing or empty one is None, a broken one is recorded."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value  # already decoded by someone upstream: take it as is
    try:
        return json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        problems.append(f"{name} is not valid JSON: {value[:200]!r}")
        return None


def _parse_instances(value: object, problems: list[str]) -> tuple[Instance, ...]:
    decoded = _parse_json("Result", value, problems)
    if decoded is None:
        return ()
    if not isinstance(decoded, dict):
        problems.append("Result is not a JSON object")
        return ()
    items = decoded.get("Instances")
    if items is None:
        return ()
    if not isinstance(items, list):
        problems.append("Result.Instances is not a list")
        return ()
    if not all(isinstance(item, dict) for item in items):
        problems.append("Result.Instances holds entries that are not objects; they were skipped")
    return tuple(_instance(item) for item in items if isinstance(item, dict))


def _instance(item: dict[str, Any]) -> Instance:
    return Instance(
        instance_id=_pick(item, "InstanceId", "instanceId"),
        ip=_pick(item, "Ip", "ip", "IP"),
        hostname=_pick(item, "Hostname", "hostname", "HostName"),
        role=_pick(item, "role", "Role"),
    )


def _pick(item: dict[str, Any], *names: str) -> str | None:
    """The first of ``names`` present in ``item``, as text (the API mixes key casings)."""
    for name in names:
        if item.get(name) is not None:
            return _text(item[name])
    return None


def _parse_errors(value: object, problems: list[str]) -> tuple[TaskError, ...]:
    decoded = _parse_json("Errors", value, problems)
    if decoded is None:
        return ()
    items = decoded if isinstance(decoded, list) else [decoded]
    return tuple(_error(item) for item in items)


def _error(item: object) -> TaskError:
    if not isinstance(item, dict):
        return TaskError(message=_text(item), raw=item)

    return TaskError(
        code=_pick(item, "Code", "code", "ErrorCode"),
        message=_pick(item, "Message", "message", "Msg", "ErrorMessage"),
        instance_id=_pick(item, "InstanceId", "instanceId"),
        raw=item,
    )


def _parse_request(value: object, problems: list[str]) -> dict[str, Any]:
    decoded = _parse_json("Request", value, problems)
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        problems.append("Request is not a JSON object")
        return {}
    # JSON keys are text already; a dict handed over undecoded may not be.
    return {key if isinstance(key, str) else str(key): item for key, item in decoded.items()}
