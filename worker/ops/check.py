"""``ehpc-bridge check``: is this deployment able to work? One line per check, pass or fail, and why.

It validates the configuration, pings Redis, calls ListTasks once per watched cluster (for an E-HPC 2.0
cluster ListCommonLogs, after asking the 2024 API which generation it is when ``api: auto``), and asks each
target that has a harmless call (Slack ``auth.test``; any notifier with a ``check()`` method) whether its
credentials work. Exit status 0 only when every line passed. Nothing is posted anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import redis
from pydantic import ValidationError

from worker.config.settings import Settings
from worker.detect.poll2024 import generation_of
from worker.runtime import Runtime

__all__ = ["CheckResult", "run_check", "run_checks"]


@dataclass(frozen=True)
class CheckResult:
    """One line of the table."""

    name: str
    ok: bool
    detail: str


def _attempt(name: str, probe: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name=name, ok=True, detail=probe())
    except Exception as error:  # the table reports every failure, whatever it is
        return CheckResult(name=name, ok=False, detail=f"{type(error).__name__}: {error}")


def run_checks(rt: Runtime) -> list[CheckResult]:
    """Every check for a built runtime, in the order an operator would fix them."""
    results = [_attempt("redis", partial(_ping, rt))]
    if not rt.clusters:
        results.append(CheckResult(name="clusters", ok=False, detail="none configured: set EHPC_CLUSTERS"))
    for cluster_id in rt.clusters:
        results.append(_check_cluster(rt, cluster_id))
    first_cluster = next(iter(rt.clusters), "")
    for name in rt.targets:
        results.append(_attempt(f"target {name}", partial(_target, rt, name, first_cluster)))
    return results


def _ping(rt: Runtime) -> str:
    rt.redis.ping()  # raises when Redis does not answer
    return f"PING ok ({rt.settings.redis_url.split('@')[-1]})"  # the part after '@' holds no password


def _check_cluster(rt: Runtime, cluster_id: str) -> CheckResult:
    """One API call with the cluster's generation's API; a generation nobody can tell fails its own line."""
    generation = _attempt(f"generation {cluster_id}", lambda: generation_of(rt, cluster_id=cluster_id))
    if not generation.ok:
        return generation
    if generation.detail == "2.0":
        return _attempt(f"ListCommonLogs {cluster_id}", partial(_list_operations, rt, cluster_id))
    return _attempt(f"ListTasks {cluster_id}", partial(_list_tasks, rt, cluster_id))


def _list_operations(rt: Runtime, cluster_id: str) -> str:
    window = rt.ehpc2024(cluster_id).list_operations(cluster_id, watermark=None, lookback=3600)
    return f"E-HPC 2.0: {len(window.tasks)} operation(s) in the last hour"


def _list_tasks(rt: Runtime, cluster_id: str) -> str:
    running = rt.ehpc(cluster_id).list_running(cluster_id)
    return f"{len(running)} running task(s)"


def _target(rt: Runtime, name: str, cluster_id: str) -> str:
    notifier = rt.notifier(target_name=name, cluster_id=cluster_id)
    check = getattr(notifier, "check", None)
    if check is None:
        return "configured (this vendor has no harmless call to test credentials)"
    return str(check())


def run_check() -> int:
    """Print the table; returns 0 when everything passed, 1 otherwise."""
    try:
        rt = Runtime.from_settings(Settings())
    except (ValidationError, ValueError, OSError, redis.RedisError) as error:
        print(f"FAIL  configuration  {error}")
        return 1
    results = run_checks(rt)
    width = max(len(result.name) for result in results)
    for result in results:
        print(f"{'PASS' if result.ok else 'FAIL'}  {result.name:<{width}}  {result.detail}")
    failed = sum(not result.ok for result in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0
