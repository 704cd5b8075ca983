"""The ListTasks response exactly as the wire carries it (PascalCase stops here).

These models are deliberately lax about *values* and strict about *shape*: every field the API page
documents is optional and typed loosely (``object``), because the SDK does no coercion and the cloud has
been seen to send surprises. Turning values into meaning is :mod:`integrations.ehpc.task`'s job.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ListTasksPage", "RawTask"]


class RawTask(BaseModel):
    """One element of ``Tasks``; ``Result``/``Errors``/``Request`` are JSON *strings*."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    task_id: object = Field(default=None, alias="TaskId")
    cluster_id: object = Field(default=None, alias="ClusterId")
    task_type: object = Field(default=None, alias="TaskType")
    status: object = Field(default=None, alias="Status")
    current_step: object = Field(default=None, alias="CurrentStep")
    total_steps: object = Field(default=None, alias="TotalSteps")
    result: object = Field(default=None, alias="Result")
    errors: object = Field(default=None, alias="Errors")
    request: object = Field(default=None, alias="Request")


class ListTasksPage(BaseModel):
    """One page of a ListTasks answer."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    request_id: str | None = Field(default=None, alias="RequestId")
    page_number: int | None = Field(default=None, alias="PageNumber")
    page_size: int | None = Field(default=None, alias="PageSize")
    total_count: int | None = Field(default=None, alias="TotalCount")
    tasks: list[RawTask] = Field(default_factory=list, alias="Tasks")
