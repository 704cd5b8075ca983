"""The simulated E-HPC service: model, faults and request log behind one lock, wire-agnostic.

:meth:`Simulator.handle` turns an authenticated request into an :class:`Answer` (status, headers, body,
or a drop); the HTTP server only reads requests and writes answers. Tests drive the rest through the
public methods: clusters, operations, clock, faults, and the request log.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from integrations.ehpc.simulator.actions import ACTIONS
from integrations.ehpc.simulator.auth import Authenticator, IncomingRequest
from integrations.ehpc.simulator.errors import ApiError, error_body, new_request_id
from integrations.ehpc.simulator.faults import Fault, FaultKind, FaultPlan
from integrations.ehpc.simulator.model import Clock, Model, Operation, SimTask
from integrations.ehpc.simulator.oplog import DEFAULT_STAGES, OpSpec
from integrations.ehpc.simulator.params import ActionHandler
from integrations.ehpc.simulator.scenario import Scenario

__all__ = ["Answer", "RequestRecord", "Simulator", "error_answer"]

_JSON = "application/json;charset=utf-8"
_VERSIONS = frozenset(version for version, _ in ACTIONS)
_ACTION_NAMES = frozenset(name for _, name in ACTIONS)
# The list a body-spoiling fault works on, by the answer that carries it.
_LIST_KEYS = ("Tasks", "Logs", "LogDetail", "Clusters")
_LOG_LIMIT = 10_000
_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Answer:
    """What to write back; ``body`` None means drop the connection, ``delay`` is wall seconds to wait."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = b""
    delay: float = 0.0
    code: str | None = None  # the error code, for the request log


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the simulator saw it."""

    action: str | None
    params: dict[str, str]
    style: str | None  # "v3", "v1", or None when authentication failed
    status: int | None  # None when the connection was dropped
    code: str | None  # the error code, None on success
    fault: str | None  # the fault kind applied, if any
    request_id: str
    at: float  # wall time (time.time()) when the request arrived
    delay: float = 0.0  # wall seconds the answer was held back (latency, slow faults): done at ``at + delay``


class Simulator:
    """The stand-in E-HPC; thread-safe, shared by the HTTP server's handler threads."""

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        realtime: bool = False,
        speed: float = 1.0,
        seed: int = 0,
        latency: float = 0.0,
        epoch: float | None = None,
        log_limit: int = _LOG_LIMIT,
    ) -> None:
        """``latency``: wall seconds every API answer is held back, as a distant cloud would (benchmarks);
        ``epoch``: the Unix time of virtual time 0 (default: now), for the 2024 API's Unix windows;
        ``log_limit``: how many requests the request log keeps (the newest)."""
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self.latency = latency
        self.clock = Clock(realtime=realtime, speed=speed)
        self._model = Model(
            clock=self.clock, seed=seed, activity=scenario.activity if scenario else None, epoch=epoch
        )
        self._faults = FaultPlan(seed=seed)
        self._lock = threading.RLock()
        self._log: deque[RequestRecord] = deque(maxlen=log_limit)
        if scenario is not None:
            scenario.apply(self._model)

    # -- model ---------------------------------------------------------------------------------------
    def add_cluster(self, cluster_id: str, *, name: str | None = None, generation: str = "1.0") -> None:
        """Create an empty cluster; ``generation="2.0"`` serves it through the 2024-07-30 API only."""
        with self._lock:
            self._model.add_cluster(cluster_id, name=name, generation=generation)

    def start_task(
        self,
        cluster_id: str,
        task_type: str,
        *,
        total_steps: int = 5,
        step_seconds: float = 10.0,
        outcome: str = "Success",
        nodes: int = 2,
        start_in: float = 0.0,
    ) -> str:
        """Start an operation, one step per ``step_seconds`` virtual seconds; returns its TaskId.

        ``start_in`` > 0 schedules it that many virtual seconds from now (invisible until then).
        """
        if start_in < 0:
            raise ValueError("start_in must be >= 0")
        with self._lock:
            operation = Operation(
                task_type=task_type,
                outcome=outcome,
                total_steps=total_steps,
                step_seconds=step_seconds,
                nodes=nodes,
            )
            return self._model.start_task(cluster_id, operation, started_at=self.clock.now() + start_in)

    def purge_task(self, cluster_id: str, task_id: str) -> None:
        """Forget a task from now on: gone from every listing, and a TaskId lookup finds nothing."""
        with self._lock:
            self._model.purge_task(cluster_id, task_id)

    def add_tasks(self, cluster_id: str, count: int, *, status: str = "Success") -> list[str]:
        """Add ``count`` tasks that stay at ``status`` for ever (for paging tests)."""
        with self._lock:
            return self._model.add_tasks(cluster_id, count, status=status)

    def start_operation(
        self,
        cluster_id: str,
        action: str,
        *,
        stages: tuple[str, ...] = DEFAULT_STAGES,
        stage_seconds: float = 10.0,
        outcome: str = "Finished",
        error: str | None = None,
    ) -> str:
        """Start a 2.0 operation now, one stage per ``stage_seconds`` virtual seconds; returns its RequestId.

        ``outcome="Failed"`` fails in the middle stage with ``error`` (a default one when None).
        """
        extra = {"error": error} if error is not None else {}
        spec = OpSpec(action, outcome=outcome, stages=stages, stage_seconds=stage_seconds, **extra)
        with self._lock:
            return self._model.start_operation(cluster_id, spec)

    def add_logs(
        self, cluster_id: str, count: int, *, status: str = "Finished", spacing: float = 1.0
    ) -> list[str]:
        """Add ``count`` one-line 2.0 operations, the newest now and ``spacing`` s apart; oldest first."""
        with self._lock:
            return self._model.add_logs(cluster_id, count, status=status, spacing=spacing)

    def unix_now(self) -> float:
        """The virtual clock as Unix seconds: what a client of the 2024 API takes as "now"."""
        with self._lock:
            return self._model.unix(self.clock.now())

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward."""
        with self._lock:
            self.clock.advance(seconds)

    @property
    def cluster_ids(self) -> list[str]:
        """IDs of the clusters served, in creation order."""
        with self._lock:
            return list(self._model.clusters)

    def state(self) -> dict[str, Any]:
        """Everything, JSON-ready: clock, clusters with their tasks as on the wire, faults, log size."""
        with self._lock:
            self._model.catch_up()
            now = self.clock.now()
            return {
                "now": now,
                "clusters": [
                    {
                        "cluster_id": c.cluster_id,
                        "name": c.name,
                        "generation": c.generation,
                        "tasks": [t.to_wire(now) for t in c.tasks.values()],
                        "logs": [
                            op.to_wire(line, unix=self._model.unix(line.at))
                            for op in c.operations.values()
                            for line in op.lines(now)
                        ],
                    }
                    for c in self._model.clusters.values()
                ],
                "faults": self.faults(),
                "requests": len(self._log),
            }

    # -- faults --------------------------------------------------------------------------------------
    def inject(self, fault: Fault, *, times: int = 1) -> None:
        """Spoil the next ``times`` API answers with ``fault``."""
        self._faults.inject(fault, times=times)

    def set_fault_rate(self, fault: Fault, rate: float) -> None:
        """Spoil a fraction ``rate`` of the API answers with ``fault`` (seeded, so reproducible)."""
        self._faults.set_rate(fault, rate)

    def set_fault_every(self, fault: Fault, every: int) -> None:
        """Spoil every ``every``-th API answer from now on with ``fault`` (0 removes it)."""
        self._faults.set_every(fault, every)

    def clear_faults(self) -> None:
        """Remove queued faults, every-Nth faults and rates."""
        self._faults.clear()

    def faults(self) -> dict[str, Any]:
        """Queued faults and rates, JSON-ready."""
        return self._faults.describe()

    # -- request log ---------------------------------------------------------------------------------
    def timelines(self) -> list[SimTask]:
        """Every 1.0 task with its timeline (start, steps, outcome): what benchmarks measure latency from."""
        with self._lock:
            self._model.catch_up()
            return [task for cluster in self._model.clusters.values() for task in cluster.tasks.values()]

    @property
    def requests(self) -> list[RequestRecord]:
        """The API requests received, oldest first (the newest ``log_limit``, default 10,000)."""
        with self._lock:
            return list(self._log)

    # -- the wire ------------------------------------------------------------------------------------
    def handle(self, request: IncomingRequest, *, authenticator: Authenticator, host_id: str) -> Answer:
        """Authenticate, maybe spoil, and answer one API request; every outcome is logged."""
        request_id = new_request_id()
        arrived = time.time()
        action: str | None = None
        params: dict[str, str] = {}
        style: str | None = None
        fault: Fault | None = None
        try:
            verified = authenticator.verify(request)
            action, params, style = verified.action, verified.params, verified.style
            if verified.action not in _ACTION_NAMES:
                raise ApiError("InvalidAction.NotFound")
            if verified.version not in _VERSIONS:
                raise ApiError("InvalidVersion")
            handler = ACTIONS.get((verified.version, verified.action))
            if handler is None:
                raise ApiError("InvalidAction.NotFound")
            fault = self._faults.next()
            answer = self._answer(handler, fault, request_id=request_id, params=params)
        except ApiError as error:
            retry_after_ms = fault.retry_after_ms if fault is not None else None
            answer = error_answer(
                error, request_id=request_id, host_id=host_id, retry_after_ms=retry_after_ms
            )
        if self.latency and answer.body is not None and style is not None:
            answer = replace(answer, delay=answer.delay + self.latency)
        with self._lock:
            self._log.append(
                RequestRecord(
                    action=action,
                    params=params,
                    style=style,
                    status=answer.status if answer.body is not None else None,
                    code=answer.code,
                    fault=fault.kind.value if fault else None,
                    request_id=request_id,
                    at=arrived,
                    delay=answer.delay,
                )
            )
        return answer

    def _answer(
        self, handler: ActionHandler, fault: Fault | None, *, request_id: str, params: dict[str, str]
    ) -> Answer:
        kind = fault.kind if fault else None
        if fault is not None and kind is FaultKind.ERROR:
            raise ApiError(fault.code or "UnknownError")
        if kind is FaultKind.DROP:
            return Answer(status=0, body=None)
        if kind is FaultKind.HTML_502:
            return Answer(status=502, headers={"Content-Type": "text/html"}, body=_HTML_502)
        with self._lock:
            body = handler(self._model, params, request_id=request_id)
        if fault is not None:
            body = _spoil(body, fault)
        return Answer(
            status=200,
            headers={"Content-Type": _JSON},
            body=json.dumps(body).encode(),
            delay=fault.seconds if kind is FaultKind.SLOW and fault else 0.0,
        )


def error_answer(
    error: ApiError, *, request_id: str, host_id: str, retry_after_ms: int | None = None
) -> Answer:
    """The cloud's JSON error answer; ``retry_after_ms`` adds ``x-acs-retry-after`` (throttling)."""
    headers = {"Content-Type": _JSON}
    if retry_after_ms is not None:
        headers["x-acs-retry-after"] = str(retry_after_ms)
    body = error_body(error, request_id=request_id, host_id=host_id)
    return Answer(status=error.status, headers=headers, body=json.dumps(body).encode(), code=error.code)


def _spoil(body: dict[str, Any], fault: Fault) -> dict[str, Any]:
    """Apply a body-changing fault to an answer's list (``Tasks``, ``Logs`` …)."""
    key = next((name for name in _LIST_KEYS if name in body), None)
    if key is None:
        return body
    if fault.kind is FaultKind.BAD_SHAPE:
        # an older, XML-flavoured shape: the SDK iterates the dict's keys and gives up (body None)
        return {**body, key: {"Item": body[key]}}
    items = body[key]
    if fault.kind is FaultKind.MALFORMED_JSON and key == "Tasks":  # only ListTasks carries JSON strings
        items = [{**t, "Result": '{"Instances":[{"InstanceId":', "Errors": "[{'Code': oops"} for t in items]
    elif fault.kind is FaultKind.UNKNOWN_STATUS and key in ("Tasks", "Logs"):
        items = [{**t, "Status": fault.status} for t in items]
    return {**body, key: items}
