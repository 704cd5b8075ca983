"""Incidents follow the tasks' times, not the order their deliveries run in (issue 10, row 10).

End to end with a real ``ehpc-bridge worker``, the simulator over HTTP, the Slack stand-in and stateful
Jira and PagerDuty stand-ins. A Fail of task X and a Success of task Y (same type, same cluster) are
delivered by independent deliveries; a success resolves only a failure that ended before it began.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import Stack, make_stack
from tests.fixtures.processes import Processes, settle
from tests.fixtures.vendor_standins import (
    JIRA_EMAIL,
    JIRA_TOKEN,
    PAGERDUTY_ROUTING_KEY,
    JiraStandIn,
    PagerDutyStandIn,
)
from tests.fixtures.vendor_stub import RecordedRequest
from worker.detect.diff import task_key_of

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-order001"
INCIDENT = f"ehpc-bridge:{CLUSTER}:AddComputes"
SECRETS = {"JIRA_API_TOKEN": JIRA_TOKEN, "PD_ROUTING_KEY": PAGERDUTY_ROUTING_KEY}


class HeldPagerDuty(PagerDutyStandIn):
    """Answers every trigger 503 (Retry-After 1 s) until it has received a resolve: the Fail's delivery
    keeps retrying while the later Success's delivery gets through first."""

    def _answer(self, request: RecordedRequest) -> tuple[int, Any]:
        event = request.json()
        if event.get("event_action") == "resolve":
            self.resolve_seen = True
        if event.get("event_action") == "trigger" and not getattr(self, "resolve_seen", False):
            return 503, {"status": "unavailable", "message": "try again"}
        return super()._answer(request)


@pytest.fixture
def held_pagerduty() -> Any:
    standin = HeldPagerDuty()
    yield standin
    standin.close()


def _stack(
    tmp_path: Path, *, simulator: SimulatorServer, slack: SlackStandIn, prefix: str, jira: str, events: str
) -> Stack:
    config = tmp_path / "ehpc.yaml"
    config.write_text(
        f"""\
clusters:
  - {{id: {CLUSTER}, name: order}}
targets:
  - {{name: slack, type: slack}}
  - name: jira
    type: jira
    url: "{jira}"
    email: {JIRA_EMAIL}
    api_token_env: JIRA_API_TOKEN
    project_key: OPS
    resolve_transition: Done
  - {{name: pagerduty, type: pagerduty, routing_key_env: PD_ROUTING_KEY, events_url: "{events}"}}
routes:
  - match: {{statuses: [Fail, PartialFail, Success], kinds: [finished]}}
    targets: [jira, pagerduty]
    continue: true
  - targets: [slack]
""",
        encoding="utf-8",
    )
    return make_stack(
        simulator=simulator, slack=slack, prefix=prefix, clusters=(CLUSTER,), EHPC_CONFIG=str(config)
    )


def test_a_success_that_began_before_the_failure_ended_leaves_its_incident_open(
    simulator: SimulatorServer,
    slack_standin: SlackStandIn,
    redis_prefix: str,
    jira_standin: JiraStandIn,
    pagerduty_standin: PagerDutyStandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    stack = _stack(
        tmp_path,
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        jira=jira_standin.url,
        events=f"{pagerduty_standin.url}/v2/enqueue",
    )
    processes = Processes(stack, tmp_path)
    try:
        processes.start("worker", "--concurrency", "4", **SECRETS)
        sim = simulator.simulator
        processes.poll_and_wait(CLUSTER)  # baseline
        long_success = sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=30)
        short_failure = sim.start_task(CLUSTER, "AddComputes", total_steps=1, step_seconds=10, outcome="Fail")
        processes.poll_and_wait(CLUSTER)  # both seen running: the success began before the failure ended
        sim.advance(20)
        processes.poll_and_wait(CLUSTER)  # the failure ends
        sim.advance(60)
        processes.poll_and_wait(CLUSTER)  # the success ends
        keys = [task_key_of(cluster_id=CLUSTER, task_id=t) for t in (long_success, short_failure)]
        settle(stack, processes, keys, slack_parents=2)
    finally:
        processes.stop_all()

    assert pagerduty_standin.incidents == {INCIDENT: "triggered"}, "the overlapping success resolves nothing"
    assert [event["event_action"] for event in pagerduty_standin.events] == ["trigger"]
    [issue] = jira_standin.issues.values()
    assert not issue.done
    assert not jira_standin.calls("POST", f"/rest/api/3/issue/{issue.key}/comment")


def test_a_success_delivered_before_an_earlier_failure_still_recovers_it(
    simulator: SimulatorServer,
    slack_standin: SlackStandIn,
    redis_prefix: str,
    jira_standin: JiraStandIn,
    held_pagerduty: HeldPagerDuty,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    stack = _stack(
        tmp_path,
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        jira=jira_standin.url,
        events=f"{held_pagerduty.url}/v2/enqueue",
    )
    processes = Processes(stack, tmp_path)
    try:
        processes.start("worker", "--concurrency", "4", **SECRETS)
        sim = simulator.simulator
        processes.poll_and_wait(CLUSTER)  # baseline
        failure = sim.start_task(CLUSTER, "AddComputes", total_steps=1, step_seconds=10, outcome="Fail")
        processes.poll_and_wait(CLUSTER)
        sim.advance(20)
        processes.poll_and_wait(CLUSTER)  # the failure ends; its page is refused for now
        success = sim.start_task(CLUSTER, "AddComputes", total_steps=1, step_seconds=10)
        processes.poll_and_wait(CLUSTER)  # the success began after the failure ended
        sim.advance(20)
        processes.poll_and_wait(CLUSTER)
        keys = [task_key_of(cluster_id=CLUSTER, task_id=t) for t in (failure, success)]
        settle(stack, processes, keys, slack_parents=2)
    finally:
        processes.stop_all()

    assert held_pagerduty.incidents.get(INCIDENT) != "triggered", "the late trigger must not reopen it"
    assert "resolve" in [event["event_action"] for event in held_pagerduty.events]
    [issue] = jira_standin.issues.values()
    assert issue.done, "the success that began after the failure ended recovers its ticket"
