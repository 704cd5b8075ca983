"""The stand-in itself is strict where a real instance would hide our mistakes."""

from __future__ import annotations

import requests

from tests.fixtures.servicenow import PASSWORD, USERNAME, ServiceNowStandIn

TABLE = "/api/now/table/incident"


def test_an_unknown_query_operator_is_refused(servicenow: ServiceNowStandIn) -> None:
    answer = requests.get(
        servicenow.url + TABLE,
        params={"sysparm_query": "correlation_idENDSWITHx"},
        auth=(USERNAME, PASSWORD),
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["status"] == "failure"


def test_requests_without_auth_are_refused(servicenow: ServiceNowStandIn) -> None:
    answer = requests.get(servicenow.url + TABLE, headers={"Accept": "application/json"}, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "User Not Authenticated"


def test_a_form_body_is_refused(servicenow: ServiceNowStandIn) -> None:
    answer = requests.post(
        servicenow.url + TABLE,
        data={"short_description": "x"},
        auth=(USERNAME, PASSWORD),
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 415
    assert servicenow.incidents == {}
