"""The PagerDuty event as data: trigger, severity, dedup_key shared with the recovery, links."""

from __future__ import annotations

import pytest

from integrations.base import TransitionKind
from integrations.pagerduty.render import render_event
from tests.fixtures.transitions import make_transition

KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(("status", "severity"), [("Fail", "error"), ("PartialFail", "warning")])
def test_failure_triggers_with_mapped_severity(status: str, severity: str) -> None:
    event = render_event(make_transition(status=status), routing_key=KEY)
    assert event is not None
    assert event["event_action"] == "trigger"
    assert event["payload"]["severity"] == severity


def test_trigger_carries_the_payload_pagerduty_requires() -> None:
    event = render_event(make_transition(), routing_key=KEY)
    assert event is not None
    payload = event["payload"]
    assert payload["summary"] == "Adding compute nodes failed on prod (task task-0001)"
    assert payload["source"] == "ehpc-hz-prod01"
    assert payload["timestamp"] == "2026-11-26T09:12:00+00:00"
    assert payload["custom_details"]["errors"] == ["[i-0001] NodeFailed compute0 did not boot"]
    assert "Password" not in str(event)


def test_success_of_a_later_task_resolves_the_same_dedup_key() -> None:
    failed = render_event(make_transition(status="Fail", task_id="t-1"), routing_key=KEY)
    recovered = render_event(make_transition(status="Success", task_id="t-2"), routing_key=KEY)
    assert failed is not None
    assert recovered == {
        "routing_key": KEY,
        "dedup_key": "ehpc-bridge:ehpc-hz-prod01:AddComputes",
        "event_action": "resolve",
    }
    assert failed["dedup_key"] == recovered["dedup_key"]


def test_other_task_types_and_clusters_get_their_own_key() -> None:
    keys = {
        render_event(make_transition(task_type=task_type, cluster_id=cluster), routing_key=KEY)["dedup_key"]  # type: ignore[index]
        for task_type in ("AddComputes", "StopComputes")
        for cluster in ("c1", "c2")
    }
    assert len(keys) == 4


@pytest.mark.parametrize("kind", [TransitionKind.STARTED, TransitionKind.PROGRESSED, TransitionKind.STALLED])
def test_running_transitions_page_nobody(kind: TransitionKind) -> None:
    assert render_event(make_transition(status="Processing", kind=kind), routing_key=KEY) is None


def test_slack_thread_becomes_a_link() -> None:
    event = render_event(
        make_transition(), routing_key=KEY, thread_url="https://slack.example/archives/C1/p1"
    )
    assert event is not None
    assert event["links"] == [{"href": "https://slack.example/archives/C1/p1", "text": "Slack thread"}]
