"""PagerDuty Events API v2 requests, sent by the real notifier, checked against PagerDuty's spec (Prism).

The spec leaves two rules to prose, asserted here: a trigger carries ``payload``, a resolve ``dedup_key``.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from integrations.pagerduty.notifier import PagerDutyNotifier, PagerDutyTarget
from integrations.target import NotifierContext
from tests.fixtures.prism import PrismMock, RecordingSession
from tests.fixtures.transitions import make_transition

KEY = "737ea619db564d41bd9824063e1f6b08"


def _send(mock: PrismMock, recorder: RecordingSession, **transition: Any) -> None:
    target = PagerDutyTarget.model_validate(
        {"name": "pd", "routing_key_env": "PD_KEY", "events_url": f"{mock.url}/enqueue"},
        context={"environ": {"PD_KEY": KEY}},
    )
    PagerDutyNotifier(target, session=recorder.session, context=NotifierContext()).send(
        make_transition(**transition)
    )


def test_trigger_conforms_and_carries_payload(
    pagerduty_mock: PrismMock, recording_session: RecordingSession
) -> None:
    _send(pagerduty_mock, recording_session, status="Fail")
    (response,) = recording_session.responses
    assert response.status_code == 202
    assert "sl-violations" not in response.headers
    (event,) = recording_session.bodies()
    assert event["event_action"] == "trigger"
    assert set(event["payload"]) >= {"summary", "source", "severity"}


def test_partial_failure_conforms(pagerduty_mock: PrismMock, recording_session: RecordingSession) -> None:
    _send(pagerduty_mock, recording_session, status="PartialFail", errors=[])
    assert [response.status_code for response in recording_session.responses] == [202]


def test_resolve_conforms_and_carries_dedup_key(
    pagerduty_mock: PrismMock, recording_session: RecordingSession
) -> None:
    _send(pagerduty_mock, recording_session, status="Success")
    (response,) = recording_session.responses
    assert response.status_code == 202
    (event,) = recording_session.bodies()
    assert event["event_action"] == "resolve"
    assert event["dedup_key"] == "ehpc-bridge:ehpc-hz-prod01:AddComputes"


@pytest.mark.expect_prism_violation
def test_harness_catches_an_event_without_routing_key(pagerduty_mock: PrismMock) -> None:
    response = requests.post(f"{pagerduty_mock.url}/enqueue", json={"event_action": "trigger"}, timeout=10)
    assert response.status_code == 400
