"""An API-problem notice is delivered at least once and once only, following the routes: it survives
Slack answering 503 and a worker SIGKILLed right after Slack stored it (a real ``ehpc-bridge worker``,
the simulator over HTTP, the Slack stand-in), and the recovery is told too."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.standin import SlackStandIn, StoredMessage
from tests.fixtures.pipeline import CHANNEL, make_stack
from tests.fixtures.processes import Processes, wait_for

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-gone0001"  # the simulator does not know it: every poll fails with ClusterNotFound
DEV_CHANNEL = "C0HPCDEV"


def _notices(slack: SlackStandIn, channel: str) -> list[StoredMessage]:
    return [message for message in slack.messages(channel) if "E-HPC" in message.text]


def _poll(processes: Processes) -> None:
    """Queue one poll and wait until a worker finished one (a cluster missing at its first poll records
    no poll time: its polls are counted in the workers' logs)."""
    before = processes.count_in_logs("ehpc.poll_cluster", "succeeded")
    processes.poll(CLUSTER)
    wait_for(
        lambda: processes.count_in_logs("ehpc.poll_cluster", "succeeded") > before,
        why="a poll",
        logs=processes,
    )


def test_an_api_problem_notice_survives_a_slack_503_and_a_worker_sigkill(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str, tmp_path: Path
) -> None:
    config = tmp_path / "bridge.yml"
    config.write_text(
        f"clusters:\n  - {{id: {CLUSTER}, name: Genomics, labels: {{env: dev}}}}\n"
        f"targets:\n  - {{name: slack-dev, type: slack, channel: {DEV_CHANNEL}}}\n"
        "routes:\n  - {match: {labels: {env: dev}}, targets: [slack-dev]}\n"
    )
    stack = make_stack(
        simulator=simulator, slack=slack_standin, prefix=redis_prefix, clusters=(), EHPC_CONFIG=config
    )
    processes = Processes(stack, tmp_path)
    try:
        told = stack.runtime.keys.api_problem_told(cluster_id=CLUSTER)
        worker = processes.start("worker", "--concurrency", "2")

        # 1. Slack answers 503: nothing is recorded as told, so the next failing poll tells it again
        slack_standin.fail_next(status=503, error="service_unavailable", method="chat.postMessage")
        _poll(processes)
        wait_for(
            lambda: processes.count_in_logs("could not tell slack-dev") >= 1, why="the 503", logs=processes
        )
        assert _notices(slack_standin, DEV_CHANNEL) == []
        assert stack.runtime.redis.hgetall(told) == {}

        # 2. the worker is SIGKILLed right after Slack stored the notice, before it heard the answer
        slack_standin.on_stored(lambda message: processes.kill(worker) if "E-HPC" in message.text else None)
        processes.poll(CLUSTER)
        wait_for(lambda: worker.poll() is not None, why="the worker to be killed", logs=processes)
        assert len(_notices(slack_standin, DEV_CHANNEL)) == 1
        assert stack.runtime.redis.hgetall(told) == {}  # killed before it could record

        # 3. a new worker's poll finds the message the killed one posted (its attempt mark) and records it
        processes.start("worker", "--concurrency", "2")
        _poll(processes)
        wait_for(lambda: stack.runtime.redis.hget(told, "slack-dev") == b"ClusterNotFound", why="the record")
        _poll(processes)  # the same error again: silent

        (notice,) = _notices(slack_standin, DEV_CHANNEL)
        assert "ClusterNotFound" in notice.text
        assert "Genomics" in notice.text
        assert slack_standin.messages(CHANNEL) == []  # routed to slack-dev only

        # 4. the cluster answers again: the recovery is told, in the same channel, once
        simulator.simulator.add_cluster(CLUSTER)
        _poll(processes)
        wait_for(lambda: len(_notices(slack_standin, DEV_CHANNEL)) == 2, why="the recovery", logs=processes)
        assert "answers again" in _notices(slack_standin, DEV_CHANNEL)[-1].text
        assert stack.runtime.redis.hgetall(told) == {}
    finally:
        processes.stop_all()
