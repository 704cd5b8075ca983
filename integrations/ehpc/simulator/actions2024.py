"""The 2024-07-30 (E-HPC 2.0) actions the simulator serves: ListCommonLogs, GetCommonLogDetail, ListClusters.

Rules, from the SDK's request models and the API pages (``ehpc-2.0.md``):

* ``ListCommonLogs``: ``From`` and ``To`` (Unix seconds) are required (``MissingFrom`` / ``MissingTo``)
  and must be integers with ``From <= To`` (``InvalidParams``); a line is in the window when its second
  lies within ``From..To``, both ends included. ``ClusterId`` narrows to one cluster (unknown, or a 1.0
  cluster: ``ClusterNotFound``; absent: every 2.0 cluster); ``ActionName`` (a JSON list), ``ActionStatus``,
  ``LogRequestId``, ``LogType`` and ``OperatorUid`` filter. ``PageSize`` 1–100 (default 20),
  ``PageNumber`` from 1 (default 1), ``IsReverse`` (default true: newest first). ``TotalCount`` counts
  every match.
* ``GetCommonLogDetail``: ``LogRequestId``, ``From`` and ``To`` required; ``HiddenProcess`` (default true)
  keeps only each stage's result line. An unknown RequestId answers an empty ``LogDetail`` (assumed).
* ``ListClusters``: both generations, each with ``EhpcVersion`` (``1.0.0`` / ``2.0.0``, assumed values),
  and ``EhpcVersionStatistics {V1Count, V2Count}``; ``ClusterIds`` / ``ClusterNames`` (JSON lists, up to
  20) filter; ``PageSize`` 10–100 (default 10).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from integrations.ehpc.simulator.errors import ApiError
from integrations.ehpc.simulator.model import Cluster, Model
from integrations.ehpc.simulator.oplog import OPERATOR_UID, LogLine, SimOperation
from integrations.ehpc.simulator.params import ActionHandler, boolean_param, integer_param

__all__ = ["ACTIONS", "API_VERSION", "get_common_log_detail", "list_clusters", "list_common_logs"]

API_VERSION = "2024-07-30"
_MAX_PAGE_NUMBER = 1_000_000
_MAX_FILTER_ITEMS = 20


def list_common_logs(model: Model, params: Mapping[str, str], *, request_id: str) -> dict[str, Any]:
    """Answer one ListCommonLogs call, or raise :class:`ApiError`."""
    low, high = _window(params)
    page_number = integer_param(params, "PageNumber", default=1, low=1, high=_MAX_PAGE_NUMBER)
    page_size = integer_param(params, "PageSize", default=20, low=1, high=100)
    newest_first = boolean_param(params, "IsReverse", default=True)
    actions = _json_list(params, "ActionName")
    clusters = _clusters(model, params.get("ClusterId") or None)
    model.catch_up()
    now = model.clock.now()
    wanted = {
        "Status": params.get("ActionStatus") or None,
        "RequestId": params.get("LogRequestId") or None,
        "LogType": params.get("LogType") or None,
        "OperatorUid": params.get("OperatorUid") or None,
    }
    found: list[tuple[float, str, int, dict[str, Any]]] = []
    for cluster in clusters:
        for operation in cluster.operations.values():
            if actions is not None and operation.spec.action not in actions:
                continue
            for index, line in enumerate(operation.lines(now)):
                if not low <= int(model.unix(line.at)) <= high:
                    continue
                wire = operation.to_wire(line, unix=model.unix(line.at))
                if all(value is None or wire[key] == value for key, value in wanted.items()):
                    found.append((line.at, operation.request_id, index, wire))
    found.sort(key=lambda item: item[:3], reverse=newest_first)
    start = (page_number - 1) * page_size
    return {
        "TotalCount": len(found),
        "PageNumber": page_number,
        "PageSize": page_size,
        "RequestId": request_id,
        "Uid": OPERATOR_UID,
        "Logs": [wire for *_, wire in found[start : start + page_size]],
    }


def get_common_log_detail(model: Model, params: Mapping[str, str], *, request_id: str) -> dict[str, Any]:
    """Answer one GetCommonLogDetail call, or raise :class:`ApiError`."""
    log_request_id = params.get("LogRequestId")
    if not log_request_id:
        raise ApiError("MissingLogRequestId")
    low, high = _window(params)
    hidden = boolean_param(params, "HiddenProcess", default=True)
    model.catch_up()
    operation = _operation(model, log_request_id)
    body: dict[str, Any] = {"RequestId": request_id, "Uid": OPERATOR_UID, "LogDetail": []}
    if operation is None:
        return body
    groups = []
    for name, lines in operation.stage_groups(model.clock.now(), hidden_process=hidden):
        kept = [line for line in lines if low <= int(model.unix(line.at)) <= high]
        if kept:
            stages = [_stage(operation, name, line, model) for line in kept]
            groups.append({"StageName": name, "Stages": stages})
    return {
        **body,
        "Action": operation.spec.action,
        "ClusterId": operation.cluster_id,
        "LogType": "Operation",
        "OperatorUid": OPERATOR_UID,
        "LogDetail": groups,
    }


def list_clusters(model: Model, params: Mapping[str, str], *, request_id: str) -> dict[str, Any]:
    """Answer one ListClusters call (both generations), or raise :class:`ApiError`."""
    page_number = integer_param(params, "PageNumber", default=1, low=1, high=_MAX_PAGE_NUMBER)
    page_size = integer_param(params, "PageSize", default=10, low=10, high=100)
    ids = _json_list(params, "ClusterIds")
    names = _json_list(params, "ClusterNames")
    chosen = [
        cluster
        for cluster in model.clusters.values()
        if (ids is None or cluster.cluster_id in ids) and (names is None or cluster.name in names)
    ]
    start = (page_number - 1) * page_size
    return {
        "RequestId": request_id,
        "TotalCount": len(chosen),
        "PageNumber": page_number,
        "PageSize": page_size,
        "EhpcVersionStatistics": {
            "V1Count": sum(c.generation == "1.0" for c in chosen),
            "V2Count": sum(c.generation == "2.0" for c in chosen),
        },
        "Clusters": [_cluster(c, model) for c in chosen[start : start + page_size]],
    }


def _window(params: Mapping[str, str]) -> tuple[int, int]:
    """``From``..``To``, both required Unix seconds, ``From`` not after ``To``."""
    for name in ("From", "To"):
        if not params.get(name):
            raise ApiError(f"Missing{name}")
    low = integer_param(params, "From", default=0, low=0, high=2**40)
    high = integer_param(params, "To", default=0, low=0, high=2**40)
    if low > high:
        raise ApiError("InvalidParams", "From")
    return low, high


def _json_list(params: Mapping[str, str], name: str) -> set[str] | None:
    """A list parameter the SDK sends as a JSON string (``["CreateNodes"]``); None when absent."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise ApiError("InvalidParams", name) from None
    if not isinstance(value, list) or len(value) > _MAX_FILTER_ITEMS:
        raise ApiError("InvalidParams", name)
    return {str(item) for item in value}


def _clusters(model: Model, cluster_id: str | None) -> list[Cluster]:
    if cluster_id is None:
        return [c for c in model.clusters.values() if c.generation == "2.0"]
    cluster = model.clusters.get(cluster_id)
    if cluster is None or cluster.generation != "2.0":
        raise ApiError("ClusterNotFound")
    return [cluster]


def _operation(model: Model, request_id: str) -> SimOperation | None:
    for cluster in model.clusters.values():
        if request_id in cluster.operations:
            return cluster.operations[request_id]
    return None


def _stage(operation: SimOperation, name: str, line: LogLine, model: Model) -> dict[str, Any]:
    return operation.stage_to_wire(line, method=f"{operation.spec.action}.{name}", unix=model.unix(line.at))


def _cluster(cluster: Cluster, model: Model) -> dict[str, Any]:
    created = datetime.fromtimestamp(int(model.epoch), tz=UTC).strftime("%Y-%m-%dT%H:%MZ")
    return {
        "ClusterId": cluster.cluster_id,
        "ClusterName": cluster.name,
        "ClusterStatus": "running",
        "EhpcVersion": f"{cluster.generation}.0",
        "ClusterCategory": "Standard",
        "ClusterMode": "Integrated",
        "ClusterCreateTime": created,
        "ClusterModifyTime": created,
    }


ACTIONS: dict[str, ActionHandler] = {
    "ListCommonLogs": list_common_logs,
    "GetCommonLogDetail": get_common_log_detail,
    "ListClusters": list_clusters,
}
