"""E-HPC ListTasks through the official SDK, answering with normalized tasks (:mod:`integrations.ehpc.task`).

The SDK signs and sends (``alibabacloud_ehpc20180412``; credentials from ``alibabacloud_credentials``'
standard chain unless keys are given); this module pages, deduplicates, normalizes and turns the SDK's
exceptions into :mod:`integrations.ehpc.errors`. SDK retries are off: the Celery task owns the back-off.

Paging running tasks (ListTasks, API version 2018-04-12). The list changes while we page through it: a
new task enters at the head (newest first) and shifts every later one back, which repeats a task across a
page boundary; a task that finishes leaves the list and shifts every later one forward, which could slip a
task past the page we already read. We read forward page by page and keep the ``TotalCount`` of the
previous answer. Because new tasks only enter at the head, no task moves forward by more than the count
went down between two answers; so when ``TotalCount`` went down by ``d`` we step back far enough to re-read
the last ``d`` places before the current page. Tasks are deduplicated by ``TaskId``.

Guarantee: every task that is running for the whole listing appears exactly once; a task that starts or
finishes during the listing appears at most once. Assumptions: the order is newest first, and new tasks
enter at the head. Bounds: page 999 (the API's limit, 49,950 tasks) and :data:`MAX_STEP_BACKS` re-reads per
listing, after which the listing fails with a retryable ``ListingUnstable``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from alibabacloud_ehpc20180412.client import Client as SdkClient
from alibabacloud_ehpc20180412.models import ListTasksRequest
from pydantic import SecretStr, ValidationError

from integrations.ehpc.connection import connect
from integrations.ehpc.errors import RetryableEhpcError, sdk_errors
from integrations.ehpc.schema import ListTasksPage
from integrations.ehpc.task import Task, normalize

__all__ = ["MAX_PAGE", "MAX_STEP_BACKS", "PAGE_SIZE", "EhpcClient", "ListedPage", "ListingPosition"]

PAGE_SIZE = 50  # the API's maximum
MAX_PAGE = 999  # the API's maximum PageNumber
MAX_STEP_BACKS = 100

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListedPage:
    """One page of a listing: its tasks, where it stands, and whether it was the last one."""

    tasks: list[Task]
    page_number: int
    total_count: int | None
    last: bool
    request_id: str | None = None


@dataclass(frozen=True)
class ListingPosition:
    """Where a running-tasks listing stands; plain data, so a poll can store it and resume on retry.

    :meth:`after` applies the module's paging rule: step back when ``TotalCount`` went down, else go on.
    """

    page: int = 1
    previous_total: int | None = None
    step_backs: int = 0

    def after(self, listed: ListedPage, *, cluster_id: str) -> ListingPosition | None:
        """The page to read after ``listed`` (read at :attr:`page`); None when the listing is complete."""
        shrunk = _shrink(self.previous_total, listed.total_count)
        total = listed.total_count if listed.total_count is not None else self.previous_total
        if shrunk and self.page > 1:
            if self.step_backs >= MAX_STEP_BACKS:
                raise RetryableEhpcError(
                    f"running tasks of {cluster_id} kept finishing while being listed",
                    code="ListingUnstable",
                    request_id=listed.request_id,
                )
            # A task behind this page may have slid forward by up to `shrunk` places: re-read them.
            page = max(1, self.page - math.ceil(shrunk / PAGE_SIZE))
            logger.debug("TotalCount went down by %d: re-reading from page %d", shrunk, page)
            return ListingPosition(page=page, previous_total=total, step_backs=self.step_backs + 1)
        if listed.last:
            return None
        if self.page >= MAX_PAGE:
            logger.warning(
                "cluster %s has more than %d running tasks; ListTasks cannot page past %d",
                cluster_id,
                MAX_PAGE * PAGE_SIZE,
                MAX_PAGE,
            )
            return None
        return ListingPosition(page=self.page + 1, previous_total=total, step_backs=self.step_backs)


class EhpcClient:
    """Reads one region's E-HPC tasks; one instance per process (the SDK keeps a connection pool)."""

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
    ) -> None:
        """Explicit keys when given, else the standard chain (environment, CLI profile, ECS RAM role, OIDC).

        ``endpoint`` follows ``EHPC_ENDPOINT``: ``http://host:port`` is plain HTTP, a bare host (or
        ``https://host``) is HTTPS, None is ``ehpc.<region>.aliyuncs.com``. ``signature_algorithm="v2"``
        selects the older RPC V1 HMAC-SHA1 signing; the default is the SDK's ACS3-HMAC-SHA256.
        """
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
        self._calls = 0
        self._calls_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EhpcClient(endpoint={self.endpoint!r})"

    @property
    def api_calls(self) -> int:
        """ListTasks requests sent so far, failed ones included (for the benchmark and the rate budget)."""
        return self._calls

    def credential_kind(self) -> str:
        """Resolve the credentials as a request would and name their kind (``access_key``, ``ecs_ram_role``…).

        No E-HPC call is made; the standard chain may read a CLI profile or ask the ECS metadata service.
        Raises :class:`PermanentEhpcError` ``CredentialsUnavailable`` when no provider has any.
        """
        with sdk_errors(secrets=self._credentials.secrets):
            model = self._credentials.get_credential()
        return str(model.provider_name or model.type or "unknown kind")

    def list_running(self, cluster_id: str) -> list[Task]:
        """Every running task of a cluster, each once (see the module docstring for the guarantee)."""
        return [task for page in self.iter_running_pages(cluster_id) for task in page]

    def iter_running_pages(self, cluster_id: str) -> Iterator[list[Task]]:
        """Running tasks page by page, each task once; finishing normally means the listing is complete.

        A page holds only tasks not yielded before, so a re-read page may yield fewer (or, then skipped,
        none). An exception mid-way means the listing is incomplete: don't take a missing task as finished.
        """
        seen: set[str] = set()
        position: ListingPosition | None = ListingPosition()
        while position is not None:
            listed = self.list_page(cluster_id, archived=False, page_number=position.page)
            fresh = _unseen(listed.tasks, seen)
            if fresh:
                yield fresh
            position = position.after(listed, cluster_id=cluster_id)

    def list_page(self, cluster_id: str, *, archived: bool, page_number: int) -> ListedPage:
        """One page of 50 (``Archived`` as given), newest first; tasks without a TaskId are left out."""
        if not 1 <= page_number <= MAX_PAGE:
            raise ValueError(f"page_number must be within 1..{MAX_PAGE}, not {page_number}")
        page, tasks = self._fetch(
            cluster_id=cluster_id, archived=archived, page_number=page_number, page_size=PAGE_SIZE
        )
        return ListedPage(
            tasks=_unseen(tasks, set()),
            page_number=page_number,
            total_count=page.total_count,
            last=_is_last(page, page_number=page_number, page_size=PAGE_SIZE),
            request_id=page.request_id,
        )

    def list_archived(self, cluster_id: str, *, max_pages: int = 2) -> list[Task]:
        """The newest running and finished tasks (``Archived=True``), at most ``max_pages`` pages of 50.

        A snapshot of the newest, not a complete history: no re-reading, just deduplication by TaskId.
        """
        if not 1 <= max_pages <= MAX_PAGE:
            raise ValueError(f"max_pages must be within 1..{MAX_PAGE}, not {max_pages}")
        seen: set[str] = set()
        found: list[Task] = []
        for page_number in range(1, max_pages + 1):
            page, tasks = self._fetch(
                cluster_id=cluster_id, archived=True, page_number=page_number, page_size=PAGE_SIZE
            )
            found.extend(_unseen(tasks, seen))
            if _is_last(page, page_number=page_number, page_size=PAGE_SIZE):
                break
        return found

    def get_task(self, cluster_id: str, task_id: str) -> Task | None:
        """One task by its TaskId, running or finished; None when E-HPC does not know it."""
        _, tasks = self._fetch(cluster_id=cluster_id, task_id=task_id)
        return next((task for task in tasks if task.task_id == task_id), None)

    def _fetch(
        self,
        *,
        cluster_id: str,
        archived: bool | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        task_id: str | None = None,
    ) -> tuple[ListTasksPage, list[Task]]:
        """One ListTasks request, its answer checked and normalized."""
        request = ListTasksRequest(
            cluster_id=cluster_id,
            archived=archived,
            page_number=page_number,
            page_size=page_size,
            task_id=task_id,
        )
        with self._calls_lock:
            self._calls += 1
        started = time.monotonic()
        with sdk_errors(secrets=self._credentials.secrets):
            response = self._sdk.list_tasks(request)
        logger.debug(
            "ListTasks cluster=%s page=%s archived=%s task=%s took %.3fs",
            cluster_id,
            page_number,
            archived,
            task_id,
            time.monotonic() - started,
        )
        page = _parse_page(response.body, http_status=response.status_code)
        return page, [normalize(raw, cluster_id=cluster_id) for raw in page.tasks]


def _parse_page(body: object, *, http_status: int | None) -> ListTasksPage:
    """Check what the SDK parsed; it returns ``body=None`` instead of raising when the shape was odd."""
    if body is None:
        raise RetryableEhpcError(
            "ListTasks answered with a body of an unexpected shape",
            code="UnexpectedShape",
            http_status=http_status,
        )
    mapping = body.to_map()  # type: ignore[attr-defined]  # an SDK model (untyped package)
    try:
        return ListTasksPage.model_validate(mapping)
    except ValidationError as exc:
        where = ", ".join(".".join(str(part) for part in error["loc"]) for error in exc.errors()[:3])
        raise RetryableEhpcError(
            f"ListTasks answered with a body of an unexpected shape at {where}",
            code="UnexpectedShape",
            http_status=http_status,
            request_id=mapping.get("RequestId") if isinstance(mapping.get("RequestId"), str) else None,
        ) from None


def _unseen(tasks: Iterable[Task], seen: set[str]) -> list[Task]:
    """The tasks with a new TaskId, now recorded; one without an id cannot be tracked, so it is dropped."""
    fresh: list[Task] = []
    for task in tasks:
        if not task.task_id:
            logger.warning("ListTasks returned a task without TaskId on cluster %s; skipped", task.cluster_id)
            continue
        if task.task_id not in seen:
            seen.add(task.task_id)
            fresh.append(task)
    return fresh


def _shrink(previous: int | None, current: int | None) -> int:
    """How far TotalCount went down between two answers (0 when it didn't, or either is unknown)."""
    if previous is None or current is None:
        return 0
    return max(previous - current, 0)


def _is_last(page: ListTasksPage, *, page_number: int, page_size: int) -> bool:
    if len(page.tasks) < page_size:
        return True
    return page.total_count is not None and page_number * page_size >= page.total_count
