"""What one poll costs end to end: ListTasks calls and Redis round trips per poll, through the real path.

Run from the checkout: ``python -m bench.bench_poll``. For clusters with 0, 1, 50, 51, 500 and 2,000
running tasks (and 500 finished ones before them) it starts the simulator over HTTP (the official SDK signs
every call), polls once to take the baseline and once more in steady state, and prints the ListTasks calls
and Redis round trips of the steady poll, and its wall time. Expected (see :mod:`worker.detect.poll`): one
call while every running task is on the first archived page (at most 50), else one more per 50 running
tasks (the running list); one Redis round trip per page plus a constant few (cursor, baseline, running set).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

from integrations.ehpc.client import EhpcClient
from integrations.ehpc.simulator import Simulator, SimulatorServer
from tests.fixtures.redis_counting import CountingRedis
from worker.detect.cursor import CursorStore
from worker.detect.diff import ClusterRef, TaskState
from worker.detect.poll import observe_cluster
from worker.store.keys import Keys

REDIS_URL = os.environ.get("EHPC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SIZES = (0, 1, 50, 51, 500, 2000)


def measure(server: SimulatorServer, counting: CountingRedis, *, running: int) -> tuple[int, int, float]:
    """Calls, round trips and seconds of a steady poll of a cluster with ``running`` tasks."""
    cluster_id = f"ehpc-hz-bench{running:05d}"
    server.simulator.add_cluster(cluster_id)
    server.simulator.add_tasks(cluster_id, 500, status="Success")
    server.simulator.advance(1)
    server.simulator.add_tasks(cluster_id, running, status="Processing")
    client = EhpcClient(endpoint=server.endpoint, access_key_id="benchKey", access_key_secret="benchSecret")
    keys = Keys(prefix=f"bench-{uuid.uuid4().hex[:8]}")
    state = TaskState(client=counting.client, keys=keys)
    cursors = CursorStore(client=counting.client, keys=keys)
    cluster = ClusterRef(cluster_id=cluster_id, name=cluster_id)
    observe_cluster(client=client, state=state, cursors=cursors, cluster=cluster, now=datetime.now(UTC))
    calls, trips, started = client.api_calls, counting.round_trips, time.perf_counter()
    observe_cluster(client=client, state=state, cursors=cursors, cluster=cluster, now=datetime.now(UTC))
    return client.api_calls - calls, counting.round_trips - trips, time.perf_counter() - started


def main() -> None:
    counting = CountingRedis.connect(url=REDIS_URL)
    server = SimulatorServer(simulator=Simulator(), access_key_id="benchKey", access_key_secret="benchSecret")
    print("running tasks  ListTasks calls/poll  Redis round trips/poll  poll seconds")
    try:
        with server:
            for running in SIZES:
                calls, trips, seconds = measure(server, counting, running=running)
                print(f"{running:>13}  {calls:>19}  {trips:>22}  {seconds:>12.3f}")
    finally:
        for key in counting.client.scan_iter(match="bench-*", count=1000):
            counting.client.delete(key)


if __name__ == "__main__":
    main()
