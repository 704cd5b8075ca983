"""The one API action the simulator serves, ListTasks, with the documented parameter rules.

``ClusterId`` is mandatory; ``PageNumber`` 1–999 (default 1); ``PageSize`` 1–50 (default 10);
``Archived`` ``true``/``false`` in any letter case (default false: running tasks only); ``TaskId`` selects
one task whatever its status (``Archived`` is then ignored; an unknown id gives ``Tasks: []``). An unknown
cluster, or one whose DeleteCluster succeeded, answers ``ClusterNotFound``. Tasks come
newest first; ``TotalCount`` counts every match. ``PageSize`` in the answer echoes the requested page size,
as Alibaba Cloud's paged APIs do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from integrations.ehpc.simulator.errors import ApiError
from integrations.ehpc.simulator.model import Model

__all__ = ["ACTIONS", "API_VERSION", "ActionHandler", "list_tasks"]

API_VERSION = "2018-04-12"


def _integer(params: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("InvalidParams", name) from None
    if not low <= value <= high:
        raise ApiError("InvalidParams", name)
    return value


def _archived(params: Mapping[str, str]) -> bool:
    raw = params.get("Archived")
    if raw is None:
        return False
    if raw.lower() not in {"true", "false"}:
        raise ApiError("InvalidParams", "Archived")
    return raw.lower() == "true"


def list_tasks(model: Model, params: Mapping[str, str], *, request_id: str) -> dict[str, Any]:
    """Answer one ListTasks call, or raise :class:`ApiError`."""
    cluster_id = params.get("ClusterId")
    if not cluster_id:
        raise ApiError("MissingClusterId")
    page_number = _integer(params, "PageNumber", default=1, low=1, high=999)
    page_size = _integer(params, "PageSize", default=10, low=1, high=50)
    archived = _archived(params)
    if not model.exists(cluster_id):
        raise ApiError("ClusterNotFound")
    matches = model.matching(cluster_id, archived=archived, task_id=params.get("TaskId") or None)
    start = (page_number - 1) * page_size
    now = model.clock.now()
    return {
        "PageSize": page_size,
        "RequestId": request_id,
        "PageNumber": page_number,
        "TotalCount": len(matches),
        "Tasks": [task.to_wire(now) for task in matches[start : start + page_size]],
    }


class ActionHandler(Protocol):
    """Answers one action: the JSON body of a 200, or :class:`ApiError`."""

    def __call__(self, model: Model, params: Mapping[str, str], *, request_id: str) -> dict[str, Any]: ...


ACTIONS: dict[str, ActionHandler] = {"ListTasks": list_tasks}
