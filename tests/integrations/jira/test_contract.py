"""Jira Cloud REST v3 requests checked against Atlassian's published spec (Prism, ``--ignoreExamples``).

Prism fails the test on any request violation. What the spec does not check is asserted here: a
non-empty create body and the basic-auth header. Prism's search always answers one issue (key
``string``); for the create path a response hook on the session (requests' public hook API) turns that
answer into "no issues", after Prism has validated the request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from integrations.base import PermanentDeliveryError
from integrations.http import BridgeSession, new_session
from integrations.jira.notifier import JiraNotifier, JiraTarget
from integrations.target import NotifierContext
from integrations.ticket import BasicAuthApi
from tests.fixtures.prism import PrismMock
from tests.fixtures.transitions import make_transition

TOKEN = "jira-contract-token-0123456789"
EMAIL = "bridge@example.com"
AUTHORIZATION = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
SEARCH = "/rest/api/3/search/jql"


class Recorder:
    """Keeps every prepared request the session sent; optionally empties search answers."""

    def __init__(self, *, empty_search: bool) -> None:
        self.sent: list[requests.PreparedRequest] = []
        self._empty_search = empty_search

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append(response.request)
        if self._empty_search and (response.request.path_url or "").startswith(SEARCH):
            response._content = b'{"issues": [], "isLast": true}'
        return response

    def calls(self) -> list[tuple[str | None, str]]:
        return [(request.method, request.path_url.split("?")[0]) for request in self.sent]


@contextmanager
def session_with(recorder: Recorder) -> Iterator[BridgeSession]:
    session = new_session(timeout=(5.0, 15.0))
    session.hooks["response"].append(recorder)
    yield session
    session.close()


def notifier(mock: PrismMock, session: BridgeSession, *, resolve: str | None = None) -> JiraNotifier:
    target = JiraTarget.model_validate(
        {
            "name": "jira-contract",
            "type": "jira",
            "url": mock.url,
            "email": EMAIL,
            "api_token_env": "JIRA_TOKEN",
            "project_key": "OPS",
            "resolve_transition": resolve,
        },
        context={"environ": {"JIRA_TOKEN": TOKEN}},
    )
    return JiraNotifier(target, session=session, context=NotifierContext())


def test_failure_creates_a_conforming_issue(jira_mock: PrismMock) -> None:
    recorder = Recorder(empty_search=True)
    with session_with(recorder) as session:
        notifier(jira_mock, session).send(make_transition())
    assert recorder.calls() == [("POST", SEARCH), ("POST", "/rest/api/3/issue")]
    create = json.loads(recorder.sent[1].body or b"{}")
    fields = create["fields"]
    assert fields["summary"].strip()
    assert fields["project"] == {"key": "OPS"}
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["description"]["content"]
    assert all(" " not in name for name in fields["labels"])
    assert {request.headers["Authorization"] for request in recorder.sent} == {AUTHORIZATION}


def test_redelivered_failure_creates_nothing(jira_mock: PrismMock) -> None:
    recorder = Recorder(empty_search=False)  # Prism's search finds an issue: it exists already
    with session_with(recorder) as session:
        notifier(jira_mock, session).send(make_transition())
    assert recorder.calls() == [("POST", SEARCH)]


def test_recovery_requests_conform(jira_mock: PrismMock) -> None:
    recorder = Recorder(empty_search=False)
    with session_with(recorder) as session:
        notifier(jira_mock, session, resolve="31").send(make_transition(task_id="t-9", status="Success"))
    assert recorder.calls() == [
        ("POST", SEARCH),
        ("POST", "/rest/api/3/issue/string/comment"),
        ("POST", "/rest/api/3/issue/string/transitions"),
        ("PUT", "/rest/api/3/issue/string"),
    ]
    assert {request.headers["Authorization"] for request in recorder.sent} == {AUTHORIZATION}


@pytest.mark.expect_prism_violation
def test_harness_catches_a_numeric_transition_id(jira_mock: PrismMock) -> None:
    api = BasicAuthApi(
        session=new_session(), base_url=jira_mock.url, username=EMAIL, password=TOKEN, destination="jira"
    )
    with pytest.raises(PermanentDeliveryError):
        api.call("POST", "/rest/api/3/issue/OPS-1/transitions", json={"transition": {"id": 31}})
