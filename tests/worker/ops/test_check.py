"""``ehpc-bridge check`` and ``poll-once`` against the simulator and the Slack stand-in."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.fixtures.pipeline import CHANNEL, Stack
from worker.config.models import ClusterConfig
from worker.detect.poll import preview_poll
from worker.ops.check import run_checks

CLUSTER = "ehpc-hz-pipe0001"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_a_working_deployment_passes_every_check(stack: Stack) -> None:
    results = run_checks(stack.runtime)

    assert [(result.name, result.ok) for result in results] == [
        ("redis", True),
        ("credentials", True),
        (f"ListTasks {CLUSTER}", True),
        ("target slack", True),
        (f"target slack {CHANNEL}", True),
    ]


def test_a_channel_whose_history_the_bot_cannot_read_fails_its_line_saying_what_to_grant(
    stack: Stack,
) -> None:
    stack.slack.refuse_history(error="missing_scope", channel=CHANNEL)

    failed = [result for result in run_checks(stack.runtime) if not result.ok]

    assert [result.name for result in failed] == [f"target slack {CHANNEL}"]
    assert "lacks channels:history,groups:history" in failed[0].detail


def test_a_cluster_the_api_does_not_know_fails_its_line_only(stack: Stack) -> None:
    stack.runtime.clusters["ehpc-hz-nowhere1"] = ClusterConfig(id="ehpc-hz-nowhere1")

    failed = [result for result in run_checks(stack.runtime) if not result.ok]

    assert [result.name for result in failed] == ["ListTasks ehpc-hz-nowhere1"]
    assert "ClusterNotFound" in failed[0].detail


def test_poll_once_previews_without_touching_the_real_state(stack: Stack) -> None:
    stack.simulator.simulator.start_task(CLUSTER, "AddComputes", total_steps=3)

    preview = preview_poll(stack.runtime, cluster_id=CLUSTER, now=NOW)

    assert [transition.kind.value for transition in preview] == ["started"]
    assert not stack.runtime.state.has_baseline(cluster_id=CLUSTER)
    assert stack.slack.messages("C0EHPCTEST") == []


def test_a_2_0_cluster_is_checked_with_list_common_logs(stack: Stack) -> None:
    stack.simulator.simulator.add_cluster("ehpc-hz-next0001", generation="2.0")
    stack.runtime.clusters["ehpc-hz-next0001"] = ClusterConfig(id="ehpc-hz-next0001", api="auto")

    results = {result.name: result for result in run_checks(stack.runtime)}

    assert results["ListCommonLogs ehpc-hz-next0001"].ok
    assert results["ListCommonLogs ehpc-hz-next0001"].detail.startswith("E-HPC 2.0: 0 operation(s)")
    assert results[f"ListTasks {CLUSTER}"].ok
