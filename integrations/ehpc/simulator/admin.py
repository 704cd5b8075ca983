"""The admin endpoint under ``/_admin/``: drive the simulator over HTTP (the demo, other processes).

Unsigned, JSON in and out, and kept apart from the API path ``/`` (the API never routes here):

=========================  ================================================================================
``GET  /_admin/state``      clock, clusters with their tasks as on the wire, queued faults and rates
``GET  /_admin/requests``   the request log
``POST /_admin/clusters``   ``{"cluster_id", "name"?, "generation"?}`` (``"1.0"`` default, or ``"2.0"``)
``POST /_admin/tasks``      ``{"cluster_id", "task_type", "total_steps"?, "step_seconds"?, "outcome"?,
                            "nodes"?}`` → ``{"task_id"}``
``POST /_admin/tasks/bulk`` ``{"cluster_id", "count", "status"?}`` → ``{"task_ids"}``
``POST /_admin/tasks/purge`` ``{"cluster_id", "task_id"}``: E-HPC forgets the task
``POST /_admin/operations`` 2.0: ``{"cluster_id", "action", "stages"?, "stage_seconds"?, "outcome"?,
                            "error"?}`` → ``{"request_id"}``
``POST /_admin/logs/bulk``  2.0: ``{"cluster_id", "count", "status"?, "spacing"?}`` → ``{"request_ids"}``
``POST /_admin/clock``      ``{"advance": seconds}`` → ``{"now"}``
``POST /_admin/latency``    ``{"seconds"}``: hold every API answer back that long
``POST /_admin/faults``     ``{"fault": {"kind", "code"?, "retry_after_ms"?, "seconds"?, "status"?},
                            "times"?}`` queues it; with ``"rate"`` instead of ``"times"`` sets a rate,
                            with ``"every": N`` spoils every Nth request
``DELETE /_admin/faults``   clears queued faults and rates
=========================  ================================================================================
Bad input answers 400 ``{"error": ...}``; an unknown path 404.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from integrations.ehpc.simulator.faults import Fault
from integrations.ehpc.simulator.service import Simulator

__all__ = ["ADMIN_PREFIX", "handle_admin"]

ADMIN_PREFIX = "/_admin/"


class _NoRouteError(LookupError):
    """No admin call answers this method and path."""


def handle_admin(simulator: Simulator, *, method: str, path: str, body: Any) -> tuple[int, Any]:
    """Run one admin call; returns ``(HTTP status, JSON-ready answer)``."""
    route = (method, path.removeprefix(ADMIN_PREFIX).rstrip("/"))
    try:
        return 200, _dispatch(simulator, route, body if isinstance(body, dict) else {})
    except _NoRouteError:
        return 404, {"error": f"no such route {method} {path}"}
    except (LookupError, ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}


def _dispatch(sim: Simulator, route: tuple[str, str], body: dict[str, Any]) -> Any:
    match route:
        case ("GET", "state"):
            return sim.state()
        case ("GET", "requests"):
            return [asdict(record) for record in sim.requests]
        case ("POST", "clusters"):
            sim.add_cluster(
                str(body["cluster_id"]), name=body.get("name"), generation=str(body.get("generation", "1.0"))
            )
            return {"cluster_id": body["cluster_id"]}
        case ("POST", "tasks"):
            options = {k: body[k] for k in ("total_steps", "step_seconds", "outcome", "nodes") if k in body}
            return {"task_id": sim.start_task(str(body["cluster_id"]), str(body["task_type"]), **options)}
        case ("POST", "tasks/bulk"):
            status = str(body.get("status", "Success"))
            return {"task_ids": sim.add_tasks(str(body["cluster_id"]), int(body["count"]), status=status)}
        case ("POST", "tasks/purge"):
            sim.purge_task(str(body["cluster_id"]), str(body["task_id"]))
            return {"task_id": body["task_id"]}
        case ("POST", "latency"):
            seconds = float(body["seconds"])
            if seconds < 0:
                raise ValueError("seconds must be >= 0")
            sim.latency = seconds
            return {"latency": seconds}
        case ("POST", "operations"):
            keys = ("stage_seconds", "outcome", "error")
            settings: dict[str, Any] = {k: body[k] for k in keys if k in body}
            if "stages" in body:
                settings["stages"] = tuple(str(stage) for stage in body["stages"])
            request_id = sim.start_operation(str(body["cluster_id"]), str(body["action"]), **settings)
            return {"request_id": request_id}
        case ("POST", "logs/bulk"):
            ids = sim.add_logs(
                str(body["cluster_id"]),
                int(body["count"]),
                status=str(body.get("status", "Finished")),
                spacing=float(body.get("spacing", 1.0)),
            )
            return {"request_ids": ids}
        case ("POST", "clock"):
            sim.advance(float(body["advance"]))
            return {"now": sim.clock.now()}
        case ("POST", "faults"):
            fault = Fault.from_dict(body["fault"])
            if "rate" in body:
                sim.set_fault_rate(fault, float(body["rate"]))
            elif "every" in body:
                sim.set_fault_every(fault, int(body["every"]))
            else:
                sim.inject(fault, times=int(body.get("times", 1)))
            return sim.faults()
        case ("DELETE", "faults"):
            sim.clear_faults()
            return sim.faults()
    raise _NoRouteError
