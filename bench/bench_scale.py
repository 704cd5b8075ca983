"""Detection at fleet scale: a real ``ehpc-bridge worker`` and ``beat`` against the simulator, per fleet size.

Run from the checkout (each size takes about ``interval + duration + interval`` seconds)::

    python -m bench.bench_scale                                   # 100 and 1,000 clusters
    python -m bench.bench_scale --clusters 100,1000,5000 --duration 90 --latency-ms 100

Per size it starts a redis-server of its own (so its CPU and memory are the bridge's alone), the simulator
over HTTP in realtime with ``--latency-ms`` added to every API answer, the Slack stand-in, one worker
(``--concurrency`` threads, both queues) and one beat. Every cluster has ``--history`` finished tasks, and new
short tasks start across the fleet so that about ``--busy`` of the polls see activity (start, steps, end).
After one interval of warm-up (each cluster's first poll) it measures for ``--duration`` seconds, then lets
deliveries drain for one more interval, and prints:

- achieved poll interval per cluster (p50/p95) against the configured one (gaps between a cluster's polls);
- status change → Slack request latency (p50/p95/max): a task's start → its message posted, its end → its
  thread reply posted, for every change inside the window (changes never delivered are counted);
- ListTasks calls per quiet poll and per busy poll (a poll is busy when a task of its cluster was alive since
  the cluster's previous poll);
- worker, beat and Redis CPU seconds per cluster-poll, and the cores they used;
- Redis memory per cluster (everything, divided) and per tracked task (its hash and log, sampled).

Then, side by side on the same simulator and clusters, a naive poller (every page of ``Archived=true`` at
each poll, same interval and concurrency, in this process) for ``--naive-intervals`` intervals: its calls
per poll and its change → detection latency (it sends nothing, so its latency is a lower bound of what it
would deliver).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from integrations.ehpc.client import EhpcClient
from integrations.ehpc.simulator import RequestRecord, Scenario, Simulator, SimulatorServer
from integrations.ehpc.simulator.model import SimTask
from integrations.slack.standin import SlackStandIn
from tests.fixtures.redis_server import RedisServer

EHPC_BRIDGE = str(Path(sys.executable).with_name("ehpc-bridge"))
ACCESS_KEY_ID, ACCESS_KEY_SECRET = "benchKeyId", "benchKeySecret"
CHANNEL = "C0BENCH01"
PREFIX = "bench"
TASK_ID = re.compile(r"task ([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...]
    interval: float
    duration: float
    latency: float
    concurrency: int
    history: int
    busy: float
    naive_intervals: int


def main(argv: list[str] | None = None) -> None:
    options = _options(argv)
    print(
        f"bench_scale: interval {options.interval:g} s, API latency {options.latency * 1000:g} ms/call, "
        f"{options.duration:g} s measured per size, worker concurrency {options.concurrency}, "
        f"{options.history} finished tasks per cluster, ~{options.busy:.0%} of polls busy; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    for size in options.sizes:
        run_size(size, options)


def _options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scale", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--clusters", default="100,1000", help="fleet sizes, comma-separated (default 100,1000)"
    )
    parser.add_argument("--interval", type=float, default=30.0, help="EHPC_POLL_INTERVAL (default 30)")
    parser.add_argument(
        "--duration", type=float, default=120.0, help="seconds measured per size (default 120)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="added to every API answer (default 100)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="worker threads (default 32)")
    parser.add_argument("--history", type=int, default=60, help="finished tasks per cluster (default 60)")
    parser.add_argument("--busy", type=float, default=0.1, help="share of polls with activity (default 0.1)")
    parser.add_argument(
        "--naive-intervals", type=int, default=2, help="naive poller run, in intervals (0: skip)"
    )
    args = parser.parse_args(argv)
    return Options(
        sizes=tuple(int(part) for part in args.clusters.split(",") if part.strip()),
        interval=args.interval,
        duration=args.duration,
        latency=args.latency_ms / 1000,
        concurrency=args.concurrency,
        history=args.history,
        busy=args.busy,
        naive_intervals=args.naive_intervals,
    )


def _scenario(cluster_ids: list[str], options: Options) -> Scenario:
    """History per cluster, and new short tasks started in turn across the fleet (``busy`` of the polls)."""
    history = [
        {"type": "StopComputes", "steps": 1, "step_seconds": 1, "start": -86400 + index * 60, "nodes": 0}
        for index in range(options.history)
    ]
    return Scenario.model_validate(
        {
            "clusters": [{"id": cluster_id, "tasks": history} for cluster_id in cluster_ids],
            "activity": {
                "every_seconds": options.interval / (len(cluster_ids) * options.busy),
                "operations": [
                    {"type": "StartComputes", "steps": 3, "step_seconds": 5, "nodes": 1},
                    {
                        "type": "AddComputes",
                        "outcome": "PartialFail",
                        "steps": 4,
                        "step_seconds": 4,
                        "nodes": 2,
                    },
                    {"type": "StopComputes", "steps": 1, "step_seconds": 3, "nodes": 1},
                ],
            },
        }
    )


def run_size(size: int, options: Options) -> None:
    """Measure one fleet size and print its block."""
    cluster_ids = [f"ehpc-hz-s{number:07d}" for number in range(size)]
    print(f"\n== {size} clusters ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        server_redis = RedisServer(Path(scratch) / "redis").start()
        try:
            epoch = time.time()
            simulator = Simulator(
                scenario=_scenario(cluster_ids, options),
                realtime=True,
                latency=options.latency,
                epoch=epoch,
                log_limit=5_000_000,
            )
            with (
                SimulatorServer(
                    simulator=simulator, access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET
                ) as sim_server,
                SlackStandIn() as slack,
            ):
                bridge = _measure_bridge(
                    cluster_ids, options, sim_server=sim_server, slack=slack, redis_server=server_redis
                )
                _report_bridge(bridge, simulator=simulator, slack=slack, epoch=epoch, options=options)
                if options.naive_intervals:
                    _report_naive(cluster_ids, options, sim_server=sim_server, epoch=epoch)
        finally:
            server_redis.stop()


@dataclass
class BridgeRun:
    window: tuple[float, float]
    cpu: dict[str, float]  # seconds in the window: worker, beat, redis
    redis_memory: dict[str, float]
    size: int


@contextmanager
def _processes(
    env: dict[str, str], log_dir: Path, options: Options
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    started: dict[str, subprocess.Popen[bytes]] = {}
    commands = {
        "worker": [EHPC_BRIDGE, "worker", "--concurrency", str(options.concurrency)],
        "beat": [EHPC_BRIDGE, "beat"],
    }
    try:
        for name, command in commands.items():
            log = (log_dir / f"{name}.log").open("wb")
            started[name] = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                command, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        yield started
    finally:
        for process in started.values():
            process.terminate()
        for process in started.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _measure_bridge(
    cluster_ids: list[str],
    options: Options,
    *,
    sim_server: SimulatorServer,
    slack: SlackStandIn,
    redis_server: RedisServer,
) -> BridgeRun:
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "EHPC_REDIS_PREFIX": PREFIX,
        "EHPC_CLUSTERS": ",".join(cluster_ids),
        "EHPC_POLL_INTERVAL": f"{options.interval:g}",
        "EHPC_ENDPOINT": sim_server.endpoint,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "SLACK_BOT_TOKEN": "xoxb-bench-token",
        "SLACK_CHANNEL": CHANNEL,
        "SLACK_API_URL": slack.base_url,
        "EHPC_SLACK_RATE": "1000",
        "EHPC_SLACK_BURST": "1000",
        "EHPC_METRICS_PORT": "0",
        "EHPC_LOG_FORMAT": "text",
    }
    env.pop("EHPC_CONFIG", None)
    client = redis_server.client()
    empty_memory = _redis_info(client, "memory")["used_memory"]
    log_dir = Path(tempfile.mkdtemp(prefix="bench-scale-logs-"))
    with _processes(env, log_dir, options) as processes:
        time.sleep(options.interval + 5)  # warm-up: every cluster's first poll (its baseline)
        before = _cpu(processes, client)
        start = time.time()
        time.sleep(options.duration)
        end = time.time()
        after = _cpu(processes, client)
        time.sleep(options.interval + 5)  # drain: changes near the end of the window reach Slack
        memory = _redis_memory(client, empty=float(empty_memory), clusters=len(cluster_ids))
    client.close()
    print(f"(worker and beat logs: {log_dir})")
    return BridgeRun(
        window=(start, end),
        cpu={name: after[name] - before[name] for name in after},
        redis_memory=memory,
        size=len(cluster_ids),
    )


def _cpu(processes: dict[str, subprocess.Popen[bytes]], client: redis.Redis) -> dict[str, float]:
    """CPU seconds so far of each process (user + system), and of redis-server."""
    found = {}
    for name, process in processes.items():
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        found[name] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    info = _redis_info(client, "cpu")
    found["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return found


def _redis_info(client: redis.Redis, section: str) -> dict[str, float]:
    return dict(client.info(section))


def _redis_memory(client: redis.Redis, *, empty: float, clusters: int) -> dict[str, float]:
    """Bytes per cluster (all of the bridge's keys, divided) and per tracked task (hash + log, sampled)."""
    used = float(_redis_info(client, "memory")["used_memory"])
    task_keys = list(client.scan_iter(match=f"{PREFIX}:task:*", count=1000))
    sample = task_keys[:: max(1, len(task_keys) // 300)]
    per_task = [
        (client.memory_usage(key) or 0) + (client.memory_usage(key.replace(b":task:", b":log:", 1)) or 0)
        for key in sample
    ]
    return {
        "per_cluster": (used - empty) / clusters,
        "per_task": statistics.fmean(per_task) if per_task else 0.0,
        "tracked": float(len(task_keys)),
    }


def _polls(requests: list[RequestRecord], window: tuple[float, float]) -> dict[str, list[tuple[float, int]]]:
    """Per cluster, each poll's (start, ListTasks calls) in the window: a poll begins at archived page 1."""
    polls: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for request in requests:
        if not window[0] <= request.at <= window[1] or request.action != "ListTasks":
            continue
        cluster_id = request.params.get("ClusterId", "")
        first = (
            request.params.get("Archived", "").lower() == "true" and request.params.get("PageNumber") == "1"
        )
        if first or not polls[cluster_id]:
            polls[cluster_id].append((request.at, 1))
        else:
            at, calls = polls[cluster_id][-1]
            polls[cluster_id][-1] = (at, calls + 1)
    return polls


def _report_bridge(
    run: BridgeRun, *, simulator: Simulator, slack: SlackStandIn, epoch: float, options: Options
) -> None:
    polls = _polls(simulator.requests, run.window)
    gaps = [b[0] - a[0] for cluster in polls.values() for a, b in itertools.pairwise(cluster)]
    alive = _alive_windows(simulator.timelines(), epoch)
    quiet: list[int] = []
    busy: list[int] = []
    for cluster_id, cluster in polls.items():
        for (previous, _), (at, calls) in itertools.pairwise(cluster):
            is_busy = any(start <= at and end >= previous for start, end in alive.get(cluster_id, ()))
            (busy if is_busy else quiet).append(calls)
    latencies, undelivered = _bridge_latencies(simulator.timelines(), slack, epoch, run.window)
    poll_count = sum(len(cluster) for cluster in polls.values())
    seconds = run.window[1] - run.window[0]
    print(
        f"achieved poll interval    p50 {_q(gaps, 0.5):.1f} s   p95 {_q(gaps, 0.95):.1f} s   "
        f"(configured {options.interval:g} s; {len(gaps)} gaps)"
    )
    print(
        f"status change -> Slack    p50 {_q(latencies, 0.5):.1f} s   p95 {_q(latencies, 0.95):.1f} s   "
        f"max {max(latencies, default=0):.1f} s   ({len(latencies)} changes, {undelivered} undelivered)"
    )
    print(
        f"ListTasks calls per poll  quiet {_mean(quiet):.2f} (n={len(quiet)})   "
        f"busy {_mean(busy):.2f} (n={len(busy)})   all {_mean(quiet + busy):.2f}"
    )
    per_poll = {name: value / max(poll_count, 1) * 1000 for name, value in run.cpu.items()}
    cores = {name: value / seconds for name, value in run.cpu.items()}
    print(
        f"CPU per cluster-poll      worker {per_poll['worker']:.2f} ms   beat {per_poll['beat']:.2f} ms   "
        f"Redis {per_poll['redis']:.2f} ms   ({poll_count} polls; cores used: worker {cores['worker']:.2f}, "
        f"beat {cores['beat']:.2f}, Redis {cores['redis']:.2f})"
    )
    memory = run.redis_memory
    print(
        f"Redis memory              per cluster {memory['per_cluster'] / 1024:.1f} KiB   "
        f"per tracked task {memory['per_task'] / 1024:.2f} KiB (hash + log; {memory['tracked']:.0f} tracked)"
    )


def _alive_windows(tasks: list[SimTask], epoch: float) -> dict[str, list[tuple[float, float]]]:
    """Per cluster, (start, end) in wall time of each task that was not history before the run began."""
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for task in tasks:
        end = task.ends_at
        if task.started_at >= 0 and end is not None:
            found[task.cluster_id].append((epoch + task.started_at, epoch + end))
    return found


def _bridge_latencies(
    tasks: list[SimTask], slack: SlackStandIn, epoch: float, window: tuple[float, float]
) -> tuple[list[float], int]:
    """Seconds from each change in the window to its Slack request; and how many never got one."""
    parents = {}
    for message in slack.messages(CHANNEL):
        match = TASK_ID.search(message.text)
        if match:
            parents[match.group(1)] = message
    latencies: list[float] = []
    undelivered = 0
    for task in tasks:
        end = task.ends_at
        if task.started_at < 0 or end is None:
            continue
        started, ended = epoch + task.started_at, epoch + end
        parent = parents.get(task.task_id)
        if window[0] <= started <= window[1] and parent is not None and float(parent.ts) < ended:
            latencies.append(float(parent.ts) - started)  # its start was announced while it ran
        if window[0] <= ended <= window[1]:
            replies = slack.replies(CHANNEL, parent.ts) if parent is not None else []
            if replies:
                latencies.append(float(replies[0].ts) - ended)
            else:
                undelivered += 1
    return latencies, undelivered


def _report_naive(
    cluster_ids: list[str], options: Options, *, sim_server: SimulatorServer, epoch: float
) -> None:
    """Every Archived=true page of every cluster each interval, phases spread like beat's."""
    client = EhpcClient(
        endpoint=sim_server.endpoint, access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET
    )
    seen: dict[str, dict[str, str]] = defaultdict(dict)
    changes: dict[str, tuple[float, float | None]] = {}

    def change_times(task_id: str) -> tuple[float, float | None]:
        """(start, end) in wall time of a task; the activity starts new ones as time passes."""
        if task_id not in changes:
            changes.update(
                {
                    task.task_id: (
                        epoch + task.started_at,
                        None if task.ends_at is None else epoch + task.ends_at,
                    )
                    for task in sim_server.simulator.timelines()
                }
            )
        return changes[task_id]

    calls: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    measuring = threading.Event()

    def poll(cluster_id: str) -> None:
        page, statuses = 1, {}
        while True:
            listed = client.list_page(cluster_id, archived=True, page_number=page)
            statuses.update({task.task_id: task.status.value for task in listed.tasks})
            if listed.last:
                break
            page += 1
        now = time.time()
        with lock:
            known = seen[cluster_id]
            if measuring.is_set():
                calls.append(page)  # one call per page read
                for task_id, status in statuses.items():
                    if known and known.get(task_id) != status:
                        started, ended = change_times(task_id)
                        changed = ended if status != "Processing" and ended is not None else started
                        latencies.append(now - changed)
            seen[cluster_id] = statuses

    spacing = options.interval / len(cluster_ids)
    rounds = options.naive_intervals + 1  # the first one takes each cluster's baseline
    with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
        begin = time.monotonic()
        for round_number in range(rounds):
            if round_number == 1:
                measuring.set()
            for index, cluster_id in enumerate(cluster_ids):
                due = begin + round_number * options.interval + index * spacing
                time.sleep(max(0.0, due - time.monotonic()))
                pool.submit(poll, cluster_id)
    print(
        f"naive poller              calls per poll {_mean(calls):.2f} (n={len(calls)})   change -> detected "
        f"p50 {_q(latencies, 0.5):.1f} s   p95 {_q(latencies, 0.95):.1f} s   "
        f"max {max(latencies, default=0):.1f} s"
    )


def _q(values: list[float], quantile: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def _mean(values: list[int]) -> float:
    return statistics.fmean(values) if values else float("nan")


if __name__ == "__main__":
    main()
