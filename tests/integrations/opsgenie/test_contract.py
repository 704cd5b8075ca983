"""Opsgenie Alert API requests, sent by the real notifier, checked against Opsgenie's spec (Prism).

The spec is silent on the alias and on the message limit: asserted here.
"""

from __future__ import annotations

import pytest
import requests

from integrations.opsgenie.notifier import OpsgenieNotifier, OpsgenieTarget
from integrations.target import NotifierContext
from tests.fixtures.prism import PrismMock, RecordingSession
from tests.fixtures.transitions import make_transition

KEY = "eb243592-faa2-4ba2-a551q-1afdf565c889"


def _notifier(mock: PrismMock, recorder: RecordingSession) -> OpsgenieNotifier:
    target = OpsgenieTarget.model_validate(
        {"name": "ops", "api_key_env": "OG_KEY", "api_url": mock.url}, context={"environ": {"OG_KEY": KEY}}
    )
    return OpsgenieNotifier(target, session=recorder.session, context=NotifierContext())


def test_create_conforms(opsgenie_mock: PrismMock, recording_session: RecordingSession) -> None:
    _notifier(opsgenie_mock, recording_session).send(make_transition(status="Fail"))
    (response,) = recording_session.responses
    assert response.status_code == 202
    assert response.request.headers["Authorization"] == f"GenieKey {KEY}"
    (body,) = recording_session.bodies()
    assert body["alias"] == "ehpc-bridge:ehpc-hz-prod01:AddComputes"
    assert 0 < len(body["message"]) <= 130


def test_close_by_alias_conforms(opsgenie_mock: PrismMock, recording_session: RecordingSession) -> None:
    _notifier(opsgenie_mock, recording_session).send(make_transition(status="Success"))
    (response,) = recording_session.responses
    assert response.status_code == 202
    assert response.request.url is not None
    assert response.request.url.endswith("/close?identifierType=alias")


@pytest.mark.expect_prism_violation
def test_harness_catches_an_alert_without_message(opsgenie_mock: PrismMock) -> None:
    response = requests.post(
        f"{opsgenie_mock.url}/v2/alerts",
        json={"alias": "no-message"},
        headers={"Authorization": f"GenieKey {KEY}"},
        timeout=10,
    )
    assert response.status_code >= 400


def test_credential_check_conforms(opsgenie_mock: PrismMock, recording_session: RecordingSession) -> None:
    assert _notifier(opsgenie_mock, recording_session).check().startswith("API key accepted")
    (response,) = recording_session.responses
    assert response.status_code == 200
