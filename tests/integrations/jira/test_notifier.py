"""Jira delivery against a local stand-in: the shared error table, search-before-create, recovery."""

from __future__ import annotations

import base64

import pytest
import redis

from integrations.base import PermanentDeliveryError
from integrations.http import BridgeSession
from integrations.jira.notifier import JiraNotifier, JiraTarget
from integrations.target import NotifierContext, StateStore
from tests.fixtures.robots import redis_state
from tests.fixtures.transitions import make_transition
from tests.fixtures.vendor_stub import (
    DELIVERY_CASES,
    DeliveryCase,
    StubResponse,
    VendorStub,
    check_delivery_case,
)

TOKEN = "ATATT3xFfGF0-jira-token-never-in-logs"
EMAIL = "bridge@example.com"
AUTHORIZATION = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
NO_ISSUES = StubResponse(200, body={"issues": [], "isLast": True})
CREATED = StubResponse(201, body={"id": "10001", "key": "OPS-1", "self": "https://jira.example/10001"})


def notifier(
    url: str, session: BridgeSession, *, resolve: str | None = None, state: StateStore | None = None
) -> JiraNotifier:
    target = JiraTarget.model_validate(
        {
            "name": "jira-ops",
            "type": "jira",
            "url": url,
            "email": EMAIL,
            "api_token_env": "JIRA_TOKEN",
            "project_key": "OPS",
            "resolve_transition": resolve,
        },
        context={"environ": {"JIRA_TOKEN": TOKEN}},
    )
    context = NotifierContext(state_for=(lambda name: state) if state is not None else None)
    return JiraNotifier(target, session=session, context=context)


def found(*keys: str) -> StubResponse:
    return StubResponse(200, body={"issues": [{"id": str(n), "key": key} for n, key in enumerate(keys)]})


@pytest.mark.parametrize("case", DELIVERY_CASES, ids=lambda case: case.id)
def test_delivery_outcome(
    case: DeliveryCase, vendor_stub: VendorStub, stub_session: BridgeSession, caplog: pytest.LogCaptureFixture
) -> None:
    check_delivery_case(
        case,
        vendor_stub,
        build=lambda url: notifier(url, stub_session),
        transition=make_transition(),
        secrets=[TOKEN, AUTHORIZATION],
        caplog=caplog,
    )


def test_failure_searches_by_fingerprint_then_creates(
    vendor_stub: VendorStub, stub_session: BridgeSession
) -> None:
    vendor_stub.script(NO_ISSUES, CREATED)
    notifier(vendor_stub.url, stub_session).send(make_transition())
    search, create = vendor_stub.requests
    assert (search.method, search.path) == ("POST", "/rest/api/3/search/jql")
    assert search.json()["jql"] == 'labels = "ehpc-fp-ehpc-hz-prod01:task-0001:3"'
    assert (create.method, create.path) == ("POST", "/rest/api/3/issue")
    fields = create.json()["fields"]
    assert fields["summary"]
    assert fields["description"]["content"]
    assert "ehpc-fp-ehpc-hz-prod01:task-0001:3" in fields["labels"]
    assert {request.headers["authorization"] for request in vendor_stub.requests} == {AUTHORIZATION}


def test_redelivery_finds_the_issue_and_creates_none(
    vendor_stub: VendorStub, stub_session: BridgeSession
) -> None:
    vendor_stub.script(found("OPS-1"))
    notifier(vendor_stub.url, stub_session).send(make_transition())
    assert [request.path for request in vendor_stub.requests] == ["/rest/api/3/search/jql"]


def test_redelivery_before_the_index_caught_up_creates_none(
    vendor_stub: VendorStub, stub_session: BridgeSession, redis_client: redis.Redis, redis_prefix: str
) -> None:
    state = redis_state(redis_client, redis_prefix, target="jira-ops")
    vendor_stub.script(NO_ISSUES, CREATED, NO_ISSUES)  # the search index does not show OPS-1 yet
    transition = make_transition()
    notifier(vendor_stub.url, stub_session, state=state).send(transition)
    notifier(vendor_stub.url, stub_session, state=state).send(transition)
    assert [request.path for request in vendor_stub.requests] == [
        "/rest/api/3/search/jql",
        "/rest/api/3/issue",
    ]


def test_recovery_comments_transitions_and_labels_each_open_issue(
    vendor_stub: VendorStub, stub_session: BridgeSession
) -> None:
    transitions = StubResponse(
        200, body={"transitions": [{"id": "21", "name": "Start"}, {"id": "31", "name": "Done"}]}
    )
    done = StubResponse(204, body="")
    per_issue_answers = (StubResponse(201), transitions, done, done)
    vendor_stub.script(found("OPS-1", "OPS-2"), *per_issue_answers, *per_issue_answers)
    notifier(vendor_stub.url, stub_session, resolve="done").send(
        make_transition(task_id="t-9", status="Success")
    )
    calls = [(request.method, request.path) for request in vendor_stub.requests]
    per_issue = [
        ("POST", "/rest/api/3/issue/{key}/comment"),
        ("GET", "/rest/api/3/issue/{key}/transitions"),
        ("POST", "/rest/api/3/issue/{key}/transitions"),
        ("PUT", "/rest/api/3/issue/{key}"),
    ]
    expected = [(m, p.format(key=key)) for key in ("OPS-1", "OPS-2") for m, p in per_issue]
    assert calls[0] == ("POST", "/rest/api/3/search/jql")
    assert calls[1:] == expected
    assert vendor_stub.requests[3].json() == {"transition": {"id": "31"}}
    assert vendor_stub.requests[4].json() == {"update": {"labels": [{"add": "ehpc-recovered"}]}}
    assert "task t-9" in str(vendor_stub.requests[1].json())


def test_recovery_without_a_transition_comments_and_labels(
    vendor_stub: VendorStub, stub_session: BridgeSession
) -> None:
    vendor_stub.script(found("OPS-1"))
    notifier(vendor_stub.url, stub_session).send(make_transition(task_id="t-9", status="Success"))
    assert [request.method for request in vendor_stub.requests] == ["POST", "POST", "PUT"]
    assert "statusCategory != Done" in vendor_stub.requests[0].json()["jql"]


def test_numeric_transition_is_used_as_is(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    vendor_stub.script(found("OPS-1"))
    notifier(vendor_stub.url, stub_session, resolve="31").send(make_transition(status="Success"))
    assert vendor_stub.requests[2].json() == {"transition": {"id": "31"}}


def test_unknown_transition_name_is_permanent(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    vendor_stub.script(found("OPS-1"), StubResponse(201), StubResponse(200, body={"transitions": []}))
    with pytest.raises(PermanentDeliveryError, match="no transition named 'Done'"):
        notifier(vendor_stub.url, stub_session, resolve="Done").send(make_transition(status="Success"))


@pytest.mark.parametrize("status", ["Processing", "Unknownish"])
def test_other_transitions_are_not_sent(
    status: str, vendor_stub: VendorStub, stub_session: BridgeSession
) -> None:
    notifier(vendor_stub.url, stub_session).send(make_transition(status=status))
    assert vendor_stub.requests == []
