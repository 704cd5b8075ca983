"""One failed AddComputes fans out to Slack, Jira and PagerDuty exactly once each; a later success resolves.

End to end with a real ``ehpc-bridge worker`` (Celery, Redis broker), the simulator over HTTP, the Slack
stand-in, and stateful Jira and PagerDuty stand-ins, routed by an ``EHPC_CONFIG`` file. Polls are queued
the way beat queues them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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
from worker.deliver.delivery import deliver
from worker.deliver.dispatch import dispatch
from worker.detect.diff import task_key_of

pytestmark = pytest.mark.slow

CLUSTER = "ehpc-hz-fan0001"
INCIDENT = f"ehpc-bridge:{CLUSTER}:AddComputes"
SECRETS = {"JIRA_API_TOKEN": JIRA_TOKEN, "PD_ROUTING_KEY": PAGERDUTY_ROUTING_KEY}


def routing_file(directory: Path, *, jira_url: str, events_url: str) -> Path:
    """Failures and their recovery go to Jira and PagerDuty (and on), everything goes to Slack."""
    path = directory / "ehpc.yaml"
    path.write_text(
        f"""\
clusters:
  - {{id: {CLUSTER}, name: fanout}}
targets:
  - {{name: slack, type: slack}}
  - name: jira
    type: jira
    url: "{jira_url}"
    email: {JIRA_EMAIL}
    api_token_env: JIRA_API_TOKEN
    project_key: OPS
    resolve_transition: Done
  - {{name: pagerduty, type: pagerduty, routing_key_env: PD_ROUTING_KEY, events_url: "{events_url}"}}
routes:
  # Success must reach the incident targets too: it is what resolves the failure's issue and page.
  - match: {{statuses: [Fail, PartialFail, Success], kinds: [finished]}}
    targets: [jira, pagerduty]
    continue: true
  - targets: [slack]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def stack(
    simulator: SimulatorServer,
    slack_standin: SlackStandIn,
    redis_prefix: str,
    jira_standin: JiraStandIn,
    pagerduty_standin: PagerDutyStandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Stack:
    """The pipeline stack routed by an ``EHPC_CONFIG`` file to Slack, Jira and PagerDuty stand-ins."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)  # the file names them; the in-process runtime reads them at load
    config = routing_file(
        tmp_path, jira_url=jira_standin.url, events_url=f"{pagerduty_standin.url}/v2/enqueue"
    )
    return make_stack(
        simulator=simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        clusters=(CLUSTER,),
        EHPC_CONFIG=str(config),
    )


def run_task(stack: Stack, processes: Processes, *, outcome: str) -> str:
    """Start an AddComputes ending in ``outcome``, poll it running and finished; returns its task key."""
    sim = stack.simulator.simulator
    task_id = sim.start_task(CLUSTER, "AddComputes", total_steps=2, step_seconds=10, outcome=outcome)
    processes.poll_and_wait(CLUSTER)
    sim.advance(30)
    processes.poll_and_wait(CLUSTER)
    return task_key_of(cluster_id=CLUSTER, task_id=task_id)


def vendor_calls(stack: Stack, jira: JiraStandIn, pagerduty: PagerDutyStandIn) -> tuple[int, int, int]:
    """How many requests each vendor stand-in has received so far."""
    return len(stack.slack.requests()), len(jira.requests), len(pagerduty.requests)


def test_a_failed_add_computes_fans_out_once_each_and_a_later_success_resolves_it(
    stack: Stack, processes: Processes, jira_standin: JiraStandIn, pagerduty_standin: PagerDutyStandIn
) -> None:
    jira, pagerduty = jira_standin, pagerduty_standin
    processes.start("worker", "--concurrency", "2", **SECRETS)
    processes.poll_and_wait(CLUSTER)  # baseline

    failed = run_task(stack, processes, outcome="Fail")
    settle(stack, processes, [failed], slack_parents=1)

    [issue] = jira.issues.values()
    assert issue.key == "OPS-1"
    assert len(jira.calls("POST", "/rest/api/3/issue")) == 1
    assert f"ehpc-task-{failed}".replace("/", "_") in issue.labels
    assert not issue.done
    [trigger] = pagerduty.events
    assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", INCIDENT)
    assert trigger["payload"]["severity"] == "error"

    succeeded = run_task(stack, processes, outcome="Success")
    settle(stack, processes, [failed, succeeded], slack_parents=2)

    assert len(jira.calls("POST", "/rest/api/3/issue")) == 1, "the success opens nothing"
    assert len(jira.calls("POST", "/rest/api/3/issue/OPS-1/comment")) == 1
    assert len(jira.calls("POST", "/rest/api/3/issue/OPS-1/transitions")) == 1
    assert issue.done
    assert "ehpc-recovered" in issue.labels
    assert "Recovered" in str(issue.comments[0])
    assert [(event["event_action"], event["dedup_key"]) for event in pagerduty.events] == [
        ("trigger", INCIDENT),
        ("resolve", INCIDENT),
    ]
    assert pagerduty.incidents == {INCIDENT: "resolved"}

    before = vendor_calls(stack, jira, pagerduty)
    processes.poll_and_wait(CLUSTER)  # the worker polls again: nothing new
    scheduled: list[tuple[str, str]] = []
    dispatch(stack.runtime, consumer="redelivery", enqueue=lambda *pair: scheduled.append(pair))
    assert scheduled == []
    now = datetime.now(UTC)
    redelivered = [
        deliver(stack.runtime, destination=name, task_key=task_key, now=now)
        for task_key in (failed, succeeded)
        for name in stack.runtime.targets
    ]  # a Celery redelivery of every deliver message the scenario could have produced
    assert [(outcome.sent, outcome.wait) for outcome in redelivered] == [(0, 0.0)] * len(redelivered)
    assert vendor_calls(stack, jira, pagerduty) == before

    logs = processes.logs()
    assert JIRA_TOKEN not in logs
    assert PAGERDUTY_ROUTING_KEY not in logs
