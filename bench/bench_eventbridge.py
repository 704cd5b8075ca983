"""Status change → Slack request, with and without an EventBridge hint, at a 30 s poll interval.

Run from the checkout: ``python -m bench.bench_eventbridge [SAMPLES]`` (default 5 each; about 3 minutes).
Real processes: ``ehpc-bridge worker``, ``beat`` (``EHPC_POLL_INTERVAL=30``) and ``slack-app`` (gunicorn,
``POST /eventbridge``), the simulator over HTTP and the Slack stand-in, state in the local Redis (DB 15,
a prefix of its own, deleted afterwards). Each sample starts one task in the simulator at a random moment
of the poll cycle and times until the stand-in has received the ``chat.postMessage`` announcing it. With a
hint, the event is posted at the moment the task starts (EventBridge's own delivery delay, typically under
a second, is not in the figure). Expected: without hints about half the interval on average (up to 30 s);
with them about one poll and one delivery (well under a second on an idle machine).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from integrations.ehpc.simulator import Simulator, SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.eventbridge import BridgeServer, ehpc_event, start_bridge_server
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from tests.fixtures.processes import Processes
from tests.fixtures.simulator import SIMULATOR_ACCESS_KEY_ID, SIMULATOR_ACCESS_KEY_SECRET

CLUSTER = "ehpc-hz-bench0001"
POLL_INTERVAL = 30.0


def sample(stack: Stack, server: BridgeServer | None) -> float:
    """Seconds from one task's start (and its event, with ``server``) to Slack's request announcing it."""
    before = len(stack.slack.messages(CHANNEL))
    time.sleep(random.uniform(0, POLL_INTERVAL))
    started = time.monotonic()
    stack.simulator.simulator.start_task(CLUSTER, "AddComputes", total_steps=4, step_seconds=3600, nodes=1)
    if server is not None:
        server.send(ehpc_event(CLUSTER)).raise_for_status()
    while len(stack.slack.messages(CHANNEL)) == before:
        if time.monotonic() - started > 3 * POLL_INTERVAL:
            raise RuntimeError("no Slack message within three poll intervals")
        time.sleep(0.01)
    return time.monotonic() - started


def report(label: str, seconds: list[float]) -> None:
    print(
        f"{label:<14} n={len(seconds)}  mean {statistics.mean(seconds):6.2f} s  median"
        f" {statistics.median(seconds):6.2f} s  min {min(seconds):6.2f} s  max {max(seconds):6.2f} s"
    )


def main() -> None:
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    simulator = SimulatorServer(
        simulator=Simulator(),
        access_key_id=SIMULATOR_ACCESS_KEY_ID,
        access_key_secret=SIMULATOR_ACCESS_KEY_SECRET,
    )
    prefix = f"bench-eb-{uuid.uuid4().hex[:8]}"
    with simulator, SlackStandIn() as slack, tempfile.TemporaryDirectory() as logs:
        stack = make_stack(
            simulator=simulator,
            slack=slack,
            prefix=prefix,
            clusters=(CLUSTER,),
            EHPC_POLL_INTERVAL=POLL_INTERVAL,
        )
        processes = Processes(stack, Path(logs))
        try:
            processes.start("beat")
            processes.start("worker", "--concurrency", "2")
            server = start_bridge_server(processes)
            processes.poll_and_wait(CLUSTER)  # the baseline
            print(f"poll interval {POLL_INTERVAL:.0f} s; status change → Slack chat.postMessage request")
            report("without hints", [sample(stack, None) for _ in range(samples)])
            report("with hints", [sample(stack, server) for _ in range(samples)])
        finally:
            processes.stop_all()
            for key in stack.runtime.redis.scan_iter(match=f"{prefix}:*", count=1000):
                stack.runtime.redis.delete(key)


if __name__ == "__main__":
    main()
