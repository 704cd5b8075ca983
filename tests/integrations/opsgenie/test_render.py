"""Opsgenie Alert API calls as data: create with the incident alias, close by alias, limits held."""

from __future__ import annotations

import pytest

from integrations.opsgenie.render import render_request
from tests.fixtures.transitions import make_transition


@pytest.mark.parametrize(("status", "priority"), [("Fail", "P2"), ("PartialFail", "P3")])
def test_failure_creates_an_alert_with_the_incident_alias(status: str, priority: str) -> None:
    request = render_request(make_transition(status=status))
    assert request is not None
    assert request.path == "/v2/alerts"
    assert request.body["alias"] == "ehpc-bridge:ehpc-hz-prod01:AddComputes"
    assert request.body["priority"] == priority
    assert request.body["entity"] == "ehpc-hz-prod01"


def test_success_closes_by_alias() -> None:
    request = render_request(make_transition(status="Success", task_id="t-2"))
    assert request is not None
    assert request.path == "/v2/alerts/ehpc-bridge%3Aehpc-hz-prod01%3AAddComputes/close"
    assert request.params == {"identifierType": "alias"}
    assert request.body["note"].startswith("Recovered: a later adding compute nodes on prod succeeded")


def test_vendor_limits_hold_for_long_api_text() -> None:
    errors = [{"Code": "E", "Message": "x" * 9000}] * 60
    request = render_request(make_transition(cluster_name="c" * 300, errors=errors))
    assert request is not None
    assert len(request.body["message"]) <= 130
    assert len(request.body["description"]) <= 15000
    assert all(len(tag) <= 50 for tag in request.body["tags"])
    assert all(isinstance(value, str) and len(value) <= 8000 for value in request.body["details"].values())


def test_running_transitions_alert_nobody() -> None:
    assert render_request(make_transition(status="Processing")) is None
