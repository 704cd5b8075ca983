"""E-HPC 2.0 (API 2024-07-30) through the official SDK, answering with normalized tasks.

The 2024 API has no ListTasks: operations are read from their logs (``ListCommonLogs``) over a sliding
window and folded into one :class:`~integrations.ehpc.task.Task` per ``RequestId``
(:mod:`integrations.ehpc.operation`); stages and their errors come from ``GetCommonLogDetail``, which
this client offers and the caller asks for only when a task changed. Same SDK configuration, credential
chain, error hierarchy (:mod:`integrations.ehpc.errors`) and no SDK retries as the 2018 client
(:mod:`integrations.ehpc.connection`).

The window. ``From`` = watermark − overlap, ``To`` = now (whole Unix seconds, both ends included);
the caller keeps ``To`` as the next watermark once it has recorded what the window held. Pages of 100,
newest first, are read until a short page or ``TotalCount``. Logs are append-only and the window is closed
at ``To``, so nothing leaves it while we page; a line written late with a time inside it enters at the
head (if the cloud's clock lags ours) and pushes others back, which can only repeat a line, never skip
one: repeated lines are dropped. The overlap re-reads the seconds around the last watermark, so a line
written in the second we read, or by a cloud whose clock is a little behind ours, is still seen; the
caller's state (finished tasks remembered) makes a re-read operation no news.

An operation with no line in the window is not in the answer: absence means "nothing new", never
"finished". A caller tracking a running operation asks for it by RequestId (:meth:`get_operation`).

Guarantee: every line written with a time within the window is read at least once; each operation is
returned once per window. Bound: :data:`MAX_PAGES` pages per window, after which the listing fails with
a retryable ``WindowTooLarge`` (the watermark then stays, and a shorter poll interval is the remedy).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from alibabacloud_ehpc20240730.client import Client as SdkClient
from alibabacloud_ehpc20240730.models import (
    GetCommonLogDetailRequest,
    ListClustersRequest,
    ListCommonLogsRequest,
)
from pydantic import BaseModel, SecretStr, ValidationError

from integrations.ehpc.connection import connect
from integrations.ehpc.errors import RetryableEhpcError, sdk_errors
from integrations.ehpc.operation import OperationDetail, group_operations, latest_lines, parse_detail
from integrations.ehpc.schema2024 import (
    ListClustersPage,
    ListCommonLogsPage,
    LogDetailPage,
    RawCluster,
    RawLog,
)
from integrations.ehpc.task import Generation, Task

__all__ = [
    "API_VERSION",
    "DEFAULT_LOOKBACK",
    "DEFAULT_OVERLAP",
    "MAX_PAGES",
    "PAGE_SIZE",
    "ClusterSummary",
    "EhpcClient2024",
    "OperationWindow",
]

API_VERSION = "2024-07-30"
PAGE_SIZE = 100  # the API's maximum
MAX_PAGES = 1000
CLUSTER_PAGE_SIZE = 100
DEFAULT_OVERLAP = 120.0  # seconds re-read before the watermark
DEFAULT_LOOKBACK = 24 * 3600.0  # the first window, when there is no watermark yet

_GENERATIONS: dict[str, Generation] = {"1": "1.0", "2": "2.0"}  # EhpcVersion's major number

logger = logging.getLogger(__name__)
_Page = TypeVar("_Page", bound=BaseModel)


@dataclass(frozen=True)
class OperationWindow:
    """One window's operations: a task per RequestId, newest activity first; ``until`` = next watermark.

    ``signatures`` holds, per RequestId, its status and newest line time: when it differs from the one a
    caller remembers, the operation wrote something new (the moment to read its stages).
    """

    tasks: list[Task]
    since: int
    until: int
    lines: int  # distinct log lines read
    signatures: dict[str, str]


@dataclass(frozen=True)
class ClusterSummary:
    """A cluster as the 2024 ListClusters shows it (both generations)."""

    cluster_id: str
    name: str | None
    status: str | None
    generation: Generation | None  # from EhpcVersion ("2.0.0" → "2.0"); None when it says nothing usable
    raw_version: str | None


class EhpcClient2024:
    """Reads one region's E-HPC 2.0 operations; one instance per process (the SDK keeps a connection pool)."""

    def __init__(
        self,
        *,
        region: str = "cn-hangzhou",
        endpoint: str | None = None,
        access_key_id: str | None = None,
        access_key_secret: SecretStr | str | None = None,
        security_token: SecretStr | str | None = None,
        connect_timeout_ms: int = 5000,
        read_timeout_ms: int = 10000,
        signature_algorithm: str | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        """As :class:`~integrations.ehpc.client.EhpcClient`; ``now`` is the clock windows end at (Unix s)."""
        connection = connect(
            region=region,
            endpoint=endpoint,
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            connect_timeout_ms=connect_timeout_ms,
            read_timeout_ms=read_timeout_ms,
            signature_algorithm=signature_algorithm,
        )
        self._credentials = connection.credentials
        self._sdk = SdkClient(connection.config)
        self.endpoint = connection.endpoint
        self._now = now
        self._calls = 0
        self._calls_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EhpcClient2024(endpoint={self.endpoint!r})"

    @property
    def api_calls(self) -> int:
        """Requests sent so far, failed ones included."""
        return self._calls

    def list_operations(
        self,
        cluster_id: str,
        *,
        watermark: float | None,
        overlap: float = DEFAULT_OVERLAP,
        lookback: float = DEFAULT_LOOKBACK,
    ) -> OperationWindow:
        """The operations with a line since ``watermark`` − ``overlap`` (or ``lookback`` ago), each once."""
        if overlap < 1 or lookback < 1:
            raise ValueError("overlap and lookback must be at least one second")
        until = int(self._now())
        since = int(until - lookback if watermark is None else watermark - overlap)
        since = max(0, min(since, until))
        lines = [line for page in self.iter_log_pages(cluster_id, since=since, until=until) for line in page]
        tasks = group_operations(lines, cluster_id=cluster_id)
        newest = latest_lines(lines)
        return OperationWindow(
            tasks=tasks,
            since=since,
            until=until,
            lines=len(lines),
            signatures={task.task_id: f"{task.raw_status}@{newest[task.task_id]}" for task in tasks},
        )

    def iter_log_pages(
        self, cluster_id: str, *, since: int, until: int, request_id: str | None = None
    ) -> Iterator[list[RawLog]]:
        """The window's log lines page by page, newest first, each line once (see the module docstring)."""
        seen: set[tuple[str, ...]] = set()
        for page_number in range(1, MAX_PAGES + 1):
            page = self._list_page(
                cluster_id=cluster_id,
                since=since,
                until=until,
                page_number=page_number,
                request_id=request_id,
            )
            fresh = _unseen(page.logs, seen)
            if fresh:
                yield fresh
            if len(page.logs) < PAGE_SIZE or (
                page.total_count is not None and page_number * PAGE_SIZE >= page.total_count
            ):
                return
        raise RetryableEhpcError(
            f"more than {MAX_PAGES * PAGE_SIZE} log lines of {cluster_id} in one window",
            code="WindowTooLarge",
        )

    def get_operation(self, cluster_id: str, request_id: str, *, since: float) -> Task | None:
        """One operation by its RequestId, from its lines since ``since`` (Unix s); None if none are there."""
        until = int(self._now())
        low = max(0, min(int(since), until))
        lines = [
            line
            for page in self.iter_log_pages(cluster_id, since=low, until=until, request_id=request_id)
            for line in page
        ]
        return next(
            (t for t in group_operations(lines, cluster_id=cluster_id) if t.task_id == request_id), None
        )

    def get_detail(self, request_id: str, *, since: float) -> OperationDetail | None:
        """The stages of one operation (GetCommonLogDetail since ``since``); None when the cloud has none."""
        until = int(self._now())
        request = GetCommonLogDetailRequest(
            log_request_id=request_id, from_=max(0, min(int(since), until)), to=until, hidden_process=True
        )
        response = self._call("GetCommonLogDetail", self._sdk.get_common_log_detail, request)
        page = _parse(LogDetailPage, response, action="GetCommonLogDetail")
        if not page.log_detail and page.action is None:
            return None
        return parse_detail(page)

    def list_clusters(self, *, cluster_ids: list[str] | None = None) -> list[ClusterSummary]:
        """Every cluster the 2024 ListClusters shows (both generations), or only ``cluster_ids`` (≤ 20)."""
        if cluster_ids is not None and not 1 <= len(cluster_ids) <= 20:
            raise ValueError("cluster_ids takes 1 to 20 ids")
        found: list[ClusterSummary] = []
        for page_number in range(1, MAX_PAGES + 1):
            request = ListClustersRequest(
                cluster_ids=cluster_ids, page_number=page_number, page_size=CLUSTER_PAGE_SIZE
            )
            page = _parse(
                ListClustersPage,
                self._call("ListClusters", self._sdk.list_clusters, request),
                action="ListClusters",
            )
            found.extend(_summary(raw) for raw in page.clusters if raw.cluster_id)
            if len(page.clusters) < CLUSTER_PAGE_SIZE or (
                page.total_count is not None and page_number * CLUSTER_PAGE_SIZE >= page.total_count
            ):
                break
        return found

    def generation_of(self, cluster_id: str) -> Generation | None:
        """Which E-HPC generation a cluster is, as the 2024 ListClusters says; None if it doesn't know it."""
        for summary in self.list_clusters(cluster_ids=[cluster_id]):
            if summary.cluster_id == cluster_id:
                return summary.generation
        return None

    def _list_page(
        self, *, cluster_id: str, since: int, until: int, page_number: int, request_id: str | None
    ) -> ListCommonLogsPage:
        request = ListCommonLogsRequest(
            cluster_id=cluster_id,
            from_=since,
            to=until,
            page_number=page_number,
            page_size=PAGE_SIZE,
            is_reverse=True,
            log_request_id=request_id,
        )
        started = time.monotonic()
        response = self._call("ListCommonLogs", self._sdk.list_common_logs, request)
        logger.debug(
            "ListCommonLogs cluster=%s window=%d..%d page=%d took %.3fs",
            cluster_id,
            since,
            until,
            page_number,
            time.monotonic() - started,
        )
        return _parse(ListCommonLogsPage, response, action="ListCommonLogs")

    def _call(self, action: str, method: Callable[[Any], Any], request: object) -> Any:
        """One SDK call, counted, its exceptions translated."""
        with self._calls_lock:
            self._calls += 1
        with sdk_errors(secrets=self._credentials.secrets):
            return method(request)


def _parse(model: type[_Page], response: Any, *, action: str) -> _Page:
    """Check what the SDK parsed; it returns ``body=None`` instead of raising when the shape was odd."""
    body, status = response.body, response.status_code
    if body is None:
        raise RetryableEhpcError(
            f"{action} answered with a body of an unexpected shape",
            code="UnexpectedShape",
            http_status=status,
        )
    mapping = body.to_map()
    try:
        return model.model_validate(mapping)
    except ValidationError as exc:
        where = ", ".join(".".join(str(part) for part in error["loc"]) for error in exc.errors()[:3])
        request_id = mapping.get("RequestId")
        raise RetryableEhpcError(
            f"{action} answered with a body of an unexpected shape at {where}",
            code="UnexpectedShape",
            http_status=status,
            request_id=request_id if isinstance(request_id, str) else None,
        ) from None


def _unseen(lines: list[RawLog], seen: set[tuple[str, ...]]) -> list[RawLog]:
    """The lines not read before (a line has no id of its own: all its documented fields make one)."""
    fresh = []
    for line in lines:
        identity = tuple(
            str(value)
            for value in (
                line.request_id,
                line.time,
                line.status,
                line.action,
                line.message,
                line.target,
                line.log_type,
            )
        )
        if identity not in seen:
            seen.add(identity)
            fresh.append(line)
    untracked = sum(1 for line in fresh if not line.request_id)
    if untracked:
        logger.warning("ListCommonLogs returned %d lines without RequestId; skipped", untracked)
    return fresh


def _summary(raw: RawCluster) -> ClusterSummary:
    version = raw.ehpc_version if isinstance(raw.ehpc_version, str) else None
    major = version.strip().split(".", 1)[0] if version else ""
    return ClusterSummary(
        cluster_id=str(raw.cluster_id),
        name=raw.cluster_name if isinstance(raw.cluster_name, str) else None,
        status=raw.cluster_status if isinstance(raw.cluster_status, str) else None,
        generation=_GENERATIONS.get(major),
        raw_version=version,
    )
