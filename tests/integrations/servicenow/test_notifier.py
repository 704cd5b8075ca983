"""ServiceNow incidents against the Table API stand-in: the shared error table, idempotency, recovery."""

from __future__ import annotations

import logging

import pytest

from integrations.base import PermanentDeliveryError
from integrations.http import BridgeSession
from integrations.servicenow.notifier import ServiceNowNotifier, ServiceNowTarget
from integrations.target import NotifierContext
from tests.fixtures.servicenow import PASSWORD, USERNAME, ServiceNowStandIn
from tests.fixtures.transitions import make_transition
from tests.fixtures.vendor_stub import DELIVERY_CASES, DeliveryCase, check_delivery_case

# The shared table's success row scripts a generic 202; here success is the stand-in's own answer.
CASES = (DeliveryCase("success", (), None), *(case for case in DELIVERY_CASES if case.error is not None))


def notifier(url: str, session: BridgeSession, *, password: str = PASSWORD) -> ServiceNowNotifier:
    target = ServiceNowTarget.model_validate(
        {
            "name": "snow",
            "type": "servicenow",
            "instance_url": url,
            "username": USERNAME,
            "password_env": "SN_PASSWORD",
            "assignment_group": "HPC Operations",
        },
        context={"environ": {"SN_PASSWORD": password}},
    )
    return ServiceNowNotifier(target, session=session, context=NotifierContext())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_delivery_outcome(
    case: DeliveryCase,
    servicenow: ServiceNowStandIn,
    stub_session: BridgeSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    check_delivery_case(
        case,
        servicenow,
        build=lambda url: notifier(url, stub_session),
        transition=make_transition(),
        secrets=[PASSWORD],
        caplog=caplog,
    )
    assert len(servicenow.incidents) == (1 if case.error is None else 0)


def test_failure_opens_an_incident_with_the_task_card(
    servicenow: ServiceNowStandIn, stub_session: BridgeSession
) -> None:
    notifier(servicenow.url, stub_session).send(make_transition())
    (incident,) = servicenow.incidents.values()
    assert incident["short_description"] == "[E-HPC] Adding compute nodes failed on prod"
    assert (incident["urgency"], incident["impact"]) == ("2", "2")
    assert incident["correlation_id"] == "ehpc/ehpc-hz-prod01/AddComputes/task-0001"
    assert incident["assignment_group"] == "HPC Operations"
    assert "[i-0001] NodeFailed compute0 did not boot" in incident["description"]
    assert "compute0 (i-0001, 10.0.0.5)" in incident["description"]
    assert "do-not-leak" not in incident["description"]


def test_partial_failure_is_less_urgent(servicenow: ServiceNowStandIn, stub_session: BridgeSession) -> None:
    notifier(servicenow.url, stub_session).send(make_transition(status="PartialFail"))
    (incident,) = servicenow.incidents.values()
    assert (incident["urgency"], incident["impact"]) == ("3", "3")


def test_redelivery_after_a_restart_opens_no_second_incident(
    servicenow: ServiceNowStandIn, stub_session: BridgeSession
) -> None:
    transition = make_transition()
    notifier(servicenow.url, stub_session).send(transition)
    notifier(servicenow.url, stub_session).send(transition)  # a new process: no memory of the first
    assert len(servicenow.incidents) == 1
    assert [request.method for request in servicenow.requests] == ["GET", "POST", "GET"]


def test_recovery_resolves_the_open_incidents_of_its_kind_only(
    servicenow: ServiceNowStandIn, stub_session: BridgeSession
) -> None:
    sender = notifier(servicenow.url, stub_session)
    for task_id, task_type in (("t-1", "AddComputes"), ("t-2", "AddComputes"), ("t-3", "StopCluster")):
        sender.send(make_transition(task_id=task_id, task_type=task_type))
    sender.send(make_transition(task_id="t-9", status="Success"))
    by_task = {row["correlation_id"].rsplit("/", 1)[1]: row for row in servicenow.incidents.values()}
    assert [by_task[task]["state"] for task in ("t-1", "t-2", "t-3")] == ["6", "6", "1"]
    assert by_task["t-1"]["close_code"] == "Solution provided"
    assert "task t-9" in by_task["t-1"]["close_notes"]


def test_redelivered_recovery_changes_nothing(
    servicenow: ServiceNowStandIn, stub_session: BridgeSession
) -> None:
    sender = notifier(servicenow.url, stub_session)
    sender.send(make_transition())
    success = make_transition(task_id="t-9", status="Success")
    sender.send(success)
    sender.send(success)
    assert [request.method for request in servicenow.requests] == ["GET", "POST", "GET", "PATCH", "GET"]


@pytest.mark.parametrize("status", ["Processing", "Unknownish"])
def test_other_transitions_are_not_sent(
    status: str, servicenow: ServiceNowStandIn, stub_session: BridgeSession
) -> None:
    notifier(servicenow.url, stub_session).send(make_transition(status=status))
    assert servicenow.requests == []


def test_wrong_password_is_permanent_and_never_shown(
    servicenow: ServiceNowStandIn, stub_session: BridgeSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentDeliveryError) as raised:
        notifier(servicenow.url, stub_session, password="wrong-Passw0rd-123").send(make_transition())
    assert raised.value.status == 401
    assert "wrong-Passw0rd-123" not in str(raised.value) + caplog.text
