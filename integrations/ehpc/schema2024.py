"""The 2024-07-30 (E-HPC 2.0) answers exactly as the wire carries them (PascalCase stops here).

Lax about values, strict about shape, like :mod:`integrations.ehpc.schema`: every documented field is
optional and loosely typed, because the SDK does no coercion. Meaning is
:mod:`integrations.ehpc.operation`'s job.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ListClustersPage",
    "ListCommonLogsPage",
    "LogDetailPage",
    "RawCluster",
    "RawLog",
    "RawStage",
    "RawStageGroup",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class RawLog(_Wire):
    """One element of ``ListCommonLogs``' ``Logs``: a line an operation wrote."""

    action: object = Field(default=None, alias="Action")
    cluster_id: object = Field(default=None, alias="ClusterId")
    log_type: object = Field(default=None, alias="LogType")
    message: object = Field(default=None, alias="Message")
    operator_uid: object = Field(default=None, alias="OperatorUid")
    request_id: object = Field(default=None, alias="RequestId")
    status: object = Field(default=None, alias="Status")
    target: object = Field(default=None, alias="Target")
    time: object = Field(default=None, alias="Time")


class ListCommonLogsPage(_Wire):
    """One page of a ListCommonLogs answer."""

    request_id: str | None = Field(default=None, alias="RequestId")
    page_number: int | None = Field(default=None, alias="PageNumber")
    page_size: int | None = Field(default=None, alias="PageSize")
    total_count: int | None = Field(default=None, alias="TotalCount")
    logs: list[RawLog] = Field(default_factory=list, alias="Logs")


class RawStage(_Wire):
    """One line of a stage in ``GetCommonLogDetail``."""

    log_level: object = Field(default=None, alias="LogLevel")
    message: object = Field(default=None, alias="Message")
    method: object = Field(default=None, alias="Method")
    request_id: object = Field(default=None, alias="RequestId")
    status: object = Field(default=None, alias="Status")
    target: object = Field(default=None, alias="Target")
    time: object = Field(default=None, alias="Time")


class RawStageGroup(_Wire):
    """One element of ``LogDetail``: a stage and its lines."""

    stage_name: object = Field(default=None, alias="StageName")
    stages: list[RawStage] = Field(default_factory=list, alias="Stages")


class LogDetailPage(_Wire):
    """A GetCommonLogDetail answer."""

    request_id: str | None = Field(default=None, alias="RequestId")
    action: object = Field(default=None, alias="Action")
    cluster_id: object = Field(default=None, alias="ClusterId")
    log_detail: list[RawStageGroup] = Field(default_factory=list, alias="LogDetail")


class RawCluster(_Wire):
    """One element of the 2024 ListClusters' ``Clusters`` (the fields the bridge reads)."""

    cluster_id: object = Field(default=None, alias="ClusterId")
    cluster_name: object = Field(default=None, alias="ClusterName")
    cluster_status: object = Field(default=None, alias="ClusterStatus")
    ehpc_version: object = Field(default=None, alias="EhpcVersion")


class ListClustersPage(_Wire):
    """One page of the 2024 ListClusters answer."""

    request_id: str | None = Field(default=None, alias="RequestId")
    page_number: int | None = Field(default=None, alias="PageNumber")
    page_size: int | None = Field(default=None, alias="PageSize")
    total_count: int | None = Field(default=None, alias="TotalCount")
    clusters: list[RawCluster] = Field(default_factory=list, alias="Clusters")
