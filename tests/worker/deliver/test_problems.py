"""A permanent ListTasks error is announced once per change of error, not on every poll; its recovery too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.ehpc.errors import PermanentEhpcError
from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, make_stack
from worker.config.models import ClusterConfig
from worker.deliver.problems import announce_api_problem, clear_api_problem
from worker.detect.poll import poll_cluster
from worker.runtime import Runtime

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
UNKNOWN = "ehpc-hz-nowhere1"


def failing_poll(rt: Runtime) -> PermanentEhpcError:
    with pytest.raises(PermanentEhpcError) as raised:
        poll_cluster(rt, cluster_id=UNKNOWN, now=NOW)
    return raised.value


def test_a_cluster_the_api_does_not_know_is_announced_once_and_again_after_a_recovery(
    simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str
) -> None:
    rt = make_stack(simulator=simulator, slack=slack_standin, prefix=redis_prefix, clusters=()).runtime
    rt.clusters[UNKNOWN] = ClusterConfig(id=UNKNOWN, name="Genomics")

    error = failing_poll(rt)
    announced = [announce_api_problem(rt, cluster_id=UNKNOWN, error=error) for _ in range(3)]
    clear_api_problem(rt, cluster_id=UNKNOWN)
    again = announce_api_problem(rt, cluster_id=UNKNOWN, error=failing_poll(rt))

    assert error.code == "ClusterNotFound"
    assert announced == [True, False, False]
    assert again is True
    messages = slack_standin.messages(CHANNEL)
    assert len(messages) == 3  # the problem, its recovery, the relapse
    assert "ClusterNotFound" in messages[0].text
    assert "Genomics" in messages[0].text
    assert "answers again" in messages[1].text
    assert "ClusterNotFound" in messages[2].text
