"""How fast change detection is through the real Redis path: task states checked per second, round trips.

Run from the checkout: ``python -m bench.bench_state [--clusters 20 --tasks 500 --page-size 50]``. It uses
``EHPC_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``) under a prefix of its own, deleted at the
end. Target (issue 3): at least 20,000 states/s on 2 cores and exactly 1 Redis round trip per page.

Three phases, each observing every page of every cluster once (``--workers`` threads share the pages, as
Celery workers would): *first sight* (every task STARTED), *steady* (nothing changed: the common poll) and
*progress* (every tenth task advanced a step). Task objects are built beforehand: what is timed is
:meth:`worker.detect.diff.TaskState.observe_page`, serialization and Lua included. ListTasks calls per poll
are the poll pipeline's figure; add them to :class:`Figures` where that pipeline is driven.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis

from integrations.ehpc.task import Task, TaskStatus, TaskType
from tests.fixtures.redis_counting import CountingRedis
from worker.detect.diff import ClusterRef, Source, TaskState
from worker.store.keys import Keys

REDIS_URL = os.environ.get("EHPC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass(frozen=True)
class Figures:
    """What one phase measured. CPU figures don't depend on what else the 2 cores are doing."""

    phase: str
    states: int
    pages: int
    seconds: float
    round_trips: int
    transitions: int
    client_cpu: float  # this process, seconds
    redis_cpu: float  # the Redis server, seconds (anyone else's commands meanwhile included)

    HEADER = (
        f"{'phase':<12} {'states':>7} {'pages':>5} {'seconds':>7} {'states/s':>9} {'trips/page':>10} "
        f"{'transitions':>11} {'client us/state':>15} {'redis us/state':>14}"
    )

    def line(self) -> str:
        """One row of the printed table."""
        return (
            f"{self.phase:<12} {self.states:>7} {self.pages:>5} {self.seconds:>7.3f} "
            f"{self.states / self.seconds:>9,.0f} {self.round_trips / self.pages:>10.2f} "
            f"{self.transitions:>11} {self.client_cpu / self.states * 1e6:>15.1f} "
            f"{self.redis_cpu / self.states * 1e6:>14.1f}"
        )


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _pages(*, cluster: ClusterRef, tasks: int, page_size: int, step_of: dict[int, int]) -> list[list[Task]]:
    built = [
        Task(
            task_id=f"{cluster.cluster_id}-task-{n:05d}",
            cluster_id=cluster.cluster_id,
            task_type=TaskType.ADD_COMPUTES,
            raw_task_type="AddComputes",
            status=TaskStatus.PROCESSING,
            raw_status="Processing",
            current_step=step_of.get(n, 1),
            total_steps=35,
            request={"clusterId": cluster.cluster_id},
        )
        for n in range(tasks)
    ]
    return [built[start : start + page_size] for start in range(0, tasks, page_size)]


def run_phase(
    *,
    name: str,
    state: TaskState,
    counter: CountingRedis,
    work: list[tuple[ClusterRef, list[Task]]],
    now: datetime,
    workers: int,
) -> Figures:
    """Observe every (cluster, page) once with ``workers`` threads; time it and count round trips."""

    def observe(item: tuple[ClusterRef, list[Task]]) -> int:
        cluster, page = item
        return len(state.observe_page(cluster=cluster, tasks=page, now=now, source=Source.RUNNING))

    redis_cpu = _redis_cpu(counter.client)
    counter.round_trips = 0
    started, client_cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        transitions = sum(pool.map(observe, work))
    seconds, client_cpu = time.perf_counter() - started, time.process_time() - client_cpu
    round_trips = counter.round_trips
    return Figures(
        phase=name,
        states=sum(len(page) for _cluster, page in work),
        pages=len(work),
        seconds=seconds,
        round_trips=round_trips,
        transitions=transitions,
        client_cpu=client_cpu,
        redis_cpu=_redis_cpu(counter.client) - redis_cpu,
    )


def main() -> None:
    """Parse the arguments, run the three phases, print the table, delete the bench's keys."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=500, help="running tasks per cluster")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    counter = CountingRedis.connect(url=REDIS_URL)
    keys = Keys(prefix=f"bench-{uuid.uuid4().hex[:12]}")
    state = TaskState(client=counter.client, keys=keys)
    clusters = [ClusterRef(cluster_id=f"ehpc-bench-{c:03d}", name=f"bench {c}") for c in range(args.clusters)]
    advanced = {n: 2 for n in range(0, args.tasks, 10)}

    def work(step_of: dict[int, int]) -> list[tuple[ClusterRef, list[Task]]]:
        return [
            (cluster, page)
            for cluster in clusters
            for page in _pages(cluster=cluster, tasks=args.tasks, page_size=args.page_size, step_of=step_of)
        ]

    now = datetime.now(tz=UTC)
    try:
        for cluster in clusters:
            state.mark_baseline(cluster_id=cluster.cluster_id)
        # Load the script first: a cold cache costs one extra trip (NOSCRIPT, then SCRIPT LOAD).
        warm_up = ClusterRef(cluster_id="ehpc-bench-warm-up", name="warm-up")
        state.observe_page(cluster=warm_up, tasks=work({})[0][1][:1], now=now, source=Source.RUNNING)
        phases = [
            ("first sight", work({}), now),
            ("steady", work({}), now + timedelta(seconds=30)),
            ("progress", work(advanced), now + timedelta(seconds=60)),
        ]
        size = f"{args.clusters} clusters x {args.tasks} tasks, pages of {args.page_size}"
        print(f"{size}, {args.workers} workers")
        print(Figures.HEADER)
        for name, pages, at in phases:
            figures = run_phase(
                name=name, state=state, counter=counter, work=pages, now=at, workers=args.workers
            )
            print(figures.line())
    finally:
        for key in counter.client.scan_iter(match=f"{keys.prefix}:*", count=1000):
            counter.client.delete(key)
        counter.client.close()


if __name__ == "__main__":
    main()
