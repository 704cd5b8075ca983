"""Opsgenie delivery against a local stand-in: the shared error table, GenieKey secrecy, redelivery."""

from __future__ import annotations

import pytest

from integrations.base import PermanentDeliveryError
from integrations.http import BridgeSession
from integrations.opsgenie.notifier import OpsgenieNotifier, OpsgenieTarget
from integrations.target import NotifierContext
from tests.fixtures.transitions import make_transition
from tests.fixtures.vendor_stub import (
    DELIVERY_CASES,
    DeliveryCase,
    StubResponse,
    VendorStub,
    check_delivery_case,
)

SECRET = "genie-0000-1111-2222-never-logged"


def notifier(url: str, session: BridgeSession) -> OpsgenieNotifier:
    target = OpsgenieTarget.model_validate(
        {"name": "ops", "api_key_env": "OG_KEY", "api_url": url},
        context={"environ": {"OG_KEY": SECRET}},
    )
    return OpsgenieNotifier(target, session=session, context=NotifierContext())


@pytest.mark.parametrize("case", DELIVERY_CASES, ids=lambda case: case.id)
def test_delivery_outcome(
    case: DeliveryCase, vendor_stub: VendorStub, stub_session: BridgeSession, caplog: pytest.LogCaptureFixture
) -> None:
    check_delivery_case(
        case,
        vendor_stub,
        build=lambda url: notifier(url, stub_session),
        transition=make_transition(),
        secrets=[SECRET],
        caplog=caplog,
    )
    if not case.refused:
        (request,) = vendor_stub.requests
        assert (request.method, request.path) == ("POST", "/v2/alerts")
        assert request.headers["authorization"] == f"GenieKey {SECRET}"


def test_recovery_closes_the_alert_by_alias(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    sender = notifier(vendor_stub.url, stub_session)
    sender.send(make_transition(status="Fail", task_id="t-1"))
    sender.send(make_transition(status="Success", task_id="t-2"))
    created, closed = vendor_stub.requests
    assert closed.path == "/v2/alerts/ehpc-bridge%3Aehpc-hz-prod01%3AAddComputes/close?identifierType=alias"
    assert created.json()["alias"] == "ehpc-bridge:ehpc-hz-prod01:AddComputes"


def test_redelivery_sends_the_same_alias(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    transition = make_transition()
    sender = notifier(vendor_stub.url, stub_session)
    sender.send(transition)
    sender.send(transition)
    first, second = (request.json() for request in vendor_stub.requests)
    assert first == second


def test_check_reads_one_alert_with_the_key(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    vendor_stub.script(StubResponse(200, body={"data": []}))
    assert notifier(vendor_stub.url, stub_session).check().startswith("API key accepted")
    (request,) = vendor_stub.requests
    assert (request.method, request.path) == ("GET", "/v2/alerts?limit=1")
    assert request.headers["authorization"] == f"GenieKey {SECRET}"


def test_check_fails_on_a_refused_key(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    vendor_stub.script(StubResponse(401, body={"message": "Key is not valid"}))
    with pytest.raises(PermanentDeliveryError, match="answered 401"):
        notifier(vendor_stub.url, stub_session).check()
