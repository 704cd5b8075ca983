"""A burst in one Slack channel, end to end: Slack calls per minute and the time until every final shows.

Run from the checkout, with Redis up (``scripts/redis-up.sh``): ``python -m bench.bench_burst`` (or
``--tasks 120 1000``). For each size it starts the simulator over HTTP, the Slack stand-in, a real
``ehpc-bridge worker`` and ``beat`` at the default Slack budget (1 message/s per channel, bursts of 3,
edits at most every 5 s), starts that many tasks together in one cluster routed to one channel, polls them
running, then lets them all end together (every tenth fails) and polls again. It prints, per size: the Slack
calls made (posts / edits / history reads), the most calls and posts seen in any 60 s window, the seconds
from the poll that saw the starts until every start was shown and from the poll that saw the ends until the
last final status was visible (in the task's own message or in a digest), and how many digests there were.
Figures, not asserts: the scenario tests assert the behaviour.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from integrations.ehpc.simulator import Simulator, SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.channel import ChannelView
from tests.fixtures.pipeline import CHANNEL, make_stack
from tests.fixtures.processes import Processes, undelivered
from tests.fixtures.simulator import SIMULATOR_ACCESS_KEY_ID, SIMULATOR_ACCESS_KEY_SECRET
from worker.deliver.delivery import channel_backlog
from worker.detect.diff import task_key_of

REDIS_URL = os.environ.get("EHPC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")  # as the stack's own
CLUSTER = "ehpc-hz-bench0001"
DEFAULT_BUDGET = {"EHPC_SLACK_RATE": 1, "EHPC_SLACK_BURST": 3, "EHPC_SLACK_EDIT_INTERVAL": 5}
_IN_PROGRESS = ":hourglass_flowing_sand:"


class Calls:
    """Samples the stand-in's request count by method over time, for per-minute figures."""

    def __init__(self, slack: SlackStandIn) -> None:
        self._slack = slack
        self.samples: list[tuple[float, int, int]] = []  # (monotonic time, all calls, posts)

    def sample(self) -> None:
        requests = self._slack.requests()
        posts = sum(1 for r in requests if r.api_method == "chat.postMessage")
        self.samples.append((time.monotonic(), len(requests), posts))

    def peak_per_minute(self, column: int) -> int:
        """Most calls (column 1) or posts (column 2) within any 60 s window of the samples."""
        best = 0
        for sample in self.samples:
            inside = [s for s in self.samples if sample[0] <= s[0] <= sample[0] + 60]
            best = max(best, int(inside[-1][column]) - int(sample[column]))
        return best


def visible(view: ChannelView, task_keys: list[str], *, final: bool) -> bool:
    """Every task shows a start (``final`` False) or its final status, in its own message or a digest."""
    parents = view.parents()
    digests: dict[str, str] = {}
    for message in view.messages_of("ehpc_digest"):
        for block in message.blocks:
            for line in str(block.get("text", {}).get("text", "")).split("\n"):
                if "`" in line:
                    task_id = line.split("`")[1]
                    if final or task_id not in digests:
                        digests[task_id] = line
    for key in task_keys:
        task_id = key.split("/", 1)[1]
        own = parents.get(key)
        if own:
            shown = own[-1].text
            if final and ("In progress" in shown):
                return False
        elif task_id not in digests or (final and _IN_PROGRESS in digests[task_id]):
            return False
    return True


def wait_until(condition: Callable[[], bool], calls: Calls, *, timeout: float) -> float:
    """Seconds until ``condition`` held (sampling calls meanwhile); the timeout if it never did."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        calls.sample()
        if condition():
            return time.monotonic() - started
        time.sleep(0.25)
    return timeout


def measure(tasks: int, client: redis.Redis) -> str:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    server = SimulatorServer(
        simulator=Simulator(),
        access_key_id=SIMULATOR_ACCESS_KEY_ID,
        access_key_secret=SIMULATOR_ACCESS_KEY_SECRET,
    )
    with server, SlackStandIn() as slack, tempfile.TemporaryDirectory() as logs:
        stack = make_stack(
            simulator=server, slack=slack, prefix=prefix, clusters=(CLUSTER,), **DEFAULT_BUDGET
        )
        processes = Processes(stack, Path(logs))
        calls, view = Calls(slack), ChannelView(slack, CHANNEL)
        try:
            processes.start("worker", "--concurrency", "4")
            processes.start("beat")
            processes.poll_and_wait(CLUSTER)  # baseline
            sim = server.simulator
            keys = [
                task_key_of(
                    cluster_id=CLUSTER,
                    task_id=sim.start_task(
                        CLUSTER,
                        "AddComputes",
                        total_steps=2,
                        step_seconds=10,
                        nodes=1,
                        outcome="Fail" if n % 10 == 0 else "Success",
                    ),
                )
                for n in range(1, tasks + 1)
            ]
            processes.poll_and_wait(CLUSTER)
            started = wait_until(lambda: visible(view, keys, final=False), calls, timeout=600)
            sim.advance(30)
            processes.poll_and_wait(CLUSTER)
            backlog = channel_backlog(stack.runtime, "slack", CLUSTER)

            def settled() -> bool:
                rt = stack.runtime
                return (
                    visible(view, keys, final=True)
                    and rt.backlog.size(backlog) == 0
                    and rt.digests.current(backlog) is None
                    and not undelivered(stack, keys)
                )

            ended = wait_until(settled, calls, timeout=900)
            calls.sample()
        finally:
            processes.stop_all()
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.delete(key)
        by_method: dict[str, int] = {}
        for request in slack.requests():
            by_method[request.api_method] = by_method.get(request.api_method, 0) + 1
        posts = by_method.get("chat.postMessage", 0)
        edits = by_method.get("chat.update", 0)
        reads = by_method.get("conversations.history", 0) + by_method.get("conversations.replies", 0)
        digests = len(view.messages_of("ehpc_digest"))
        own = len(view.parents())
        return (
            f"{tasks:>6}  {posts:>5}  {edits:>5}  {reads:>5}  {calls.peak_per_minute(1):>13}  "
            f"{calls.peak_per_minute(2):>13}  {started:>10.1f}  {ended:>10.1f}  {digests:>7}  {own:>9}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[120, 1000])
    args = parser.parse_args()
    client = redis.Redis.from_url(REDIS_URL)
    print(
        " tasks  posts  edits  reads  calls/min max  posts/min max  starts (s)  finals (s)  digests  own msgs"
    )
    for tasks in args.tasks:
        print(measure(tasks, client), flush=True)


if __name__ == "__main__":
    main()
