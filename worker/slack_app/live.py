"""What the app asks E-HPC live, and the adapter that asks through each cluster's regional client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from integrations.ehpc.task import Task

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = ["LiveTasks", "RegionalTasks"]


class LiveTasks(Protocol):
    """What the app asks E-HPC live (:class:`integrations.ehpc.client.EhpcClient` is one)."""

    def get_task(self, cluster_id: str, task_id: str) -> Task | None:
        """One task by TaskId, or None when E-HPC does not know it."""

    def list_running(self, cluster_id: str) -> list[Task]:
        """The cluster's running tasks."""

    def list_archived(self, cluster_id: str, *, max_pages: int = ...) -> list[Task]:
        """The cluster's newest tasks, running and finished."""


class RegionalTasks:
    """:class:`LiveTasks` over the runtime's E-HPC clients: each cluster asked through its region's."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def get_task(self, cluster_id: str, task_id: str) -> Task | None:
        return self._rt.ehpc(cluster_id).get_task(cluster_id, task_id)

    def list_running(self, cluster_id: str) -> list[Task]:
        return self._rt.ehpc(cluster_id).list_running(cluster_id)

    def list_archived(self, cluster_id: str, *, max_pages: int = 1) -> list[Task]:
        return self._rt.ehpc(cluster_id).list_archived(cluster_id, max_pages=max_pages)
