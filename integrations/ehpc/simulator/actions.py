"""The 2018-04-12 action the simulator serves, ListTasks, with the documented parameter rules.

``ClusterId`` is mandatory; ``PageNumber`` 1–999 (default 1); ``PageSize`` 1–50 (default 10);
``Archived`` ``true``/``false`` in any letter case (default false: running tasks only); ``TaskId`` selects
one task whatever its status (``Archived`` is then ignored; an unknown id gives ``Tasks: []``). An unknown
cluster, or one whose DeleteCluster succeeded, answers ``ClusterNotFound``. Tasks come
newest first; ``TotalCount`` counts every match. ``PageSize`` in the answer echoes the requested page size,
as Alibaba Cloud's paged APIs do. A 2.0 cluster is not known to this API (``ClusterNotFound``).

:data:`ACTIONS` maps ``(version, action)`` to its handler, for both API versions (the 2024-07-30 ones
are in :mod:`~integrations.ehpc.simulator.actions2024`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.ehpc.simulator import actions2024
from integrations.ehpc.simulator.errors import ApiError
from integrations.ehpc.simulator.model import Model
from integrations.ehpc.simulator.params import ActionHandler, boolean_param, integer_param

__all__ = ["ACTIONS", "API_VERSION", "list_tasks"]

API_VERSION = "2018-04-12"


def list_tasks(model: Model, params: Mapping[str, str], *, request_id: str) -> dict[str, Any]:
    """Answer one ListTasks call, or raise :class:`ApiError`."""
    cluster_id = params.get("ClusterId")
    if not cluster_id:
        raise ApiError("MissingClusterId")
    page_number = integer_param(params, "PageNumber", default=1, low=1, high=999)
    page_size = integer_param(params, "PageSize", default=10, low=1, high=50)
    archived = boolean_param(params, "Archived", default=False)
    cluster = model.clusters.get(cluster_id)
    if cluster is None or cluster.generation != "1.0" or not model.exists(cluster_id):
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


ACTIONS: dict[tuple[str, str], ActionHandler] = {
    (API_VERSION, "ListTasks"): list_tasks,
    **{(actions2024.API_VERSION, name): handler for name, handler in actions2024.ACTIONS.items()},
}
