"""``ehpc-bridge check`` and ``poll-once`` against the simulator and the Slack stand-in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
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


def test_user_groups_in_access_rules_are_resolved_and_a_missing_scope_named(
    tmp_path: Path, simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str
) -> None:
    config = tmp_path / "bridge.yml"
    config.write_text(f"access: {{mute_groups: [S0ONCALL]}}\nclusters:\n  - id: {CLUSTER}\n")
    slack_standin.workspace.add_usergroup("S0ONCALL", ["U0A", "U0B"])

    def group_line(token: str, *, first: bool) -> tuple[bool, str]:
        stack = make_stack(
            simulator=simulator,
            slack=slack_standin,
            prefix=redis_prefix,
            clusters=(CLUSTER,) if first else (),
            EHPC_CONFIG=config,
            SLACK_BOT_TOKEN=token,
        )
        (line,) = [
            result for result in run_checks(stack.runtime) if result.name.startswith("slack user group")
        ]
        assert line.name == "slack user group S0ONCALL"
        return line.ok, line.detail

    assert group_line("xoxb-test-token", first=True) == (True, "2 member(s)")
    ok, detail = group_line("xoxb-no-usergroups-token", first=False)
    assert not ok
    assert "missing_scope" in detail
    assert "usergroups:read" in detail
