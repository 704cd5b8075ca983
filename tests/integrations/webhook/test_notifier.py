"""Generic webhook delivery against a local receiver: the shared error table, signing, idempotency."""

from __future__ import annotations

import hashlib
import hmac

import pydantic
import pytest

from integrations.http import BridgeSession
from integrations.target import NotifierContext
from integrations.webhook.notifier import WebhookNotifier, WebhookTarget
from tests.fixtures.transitions import make_transition
from tests.fixtures.vendor_stub import (
    DELIVERY_CASES,
    DeliveryCase,
    VendorStub,
    check_delivery_case,
)

SECRET = "whsec-never-in-logs-4f1c"
URL_TOKEN = "tok3n1234567890abcdefXYZ"
NOW = 1_764_147_600


def notifier(url: str, session: BridgeSession) -> WebhookNotifier:
    target = WebhookTarget.model_validate(
        {"name": "hook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"},
        context={"environ": {"HOOK_URL": f"{url}/hooks/ehpc?token={URL_TOKEN}", "HOOK_SECRET": SECRET}},
    )
    return WebhookNotifier(target, session=session, context=NotifierContext(), clock=lambda: NOW)


@pytest.mark.parametrize("case", DELIVERY_CASES, ids=lambda case: case.id)
def test_delivery_outcome(
    case: DeliveryCase, vendor_stub: VendorStub, stub_session: BridgeSession, caplog: pytest.LogCaptureFixture
) -> None:
    check_delivery_case(
        case,
        vendor_stub,
        build=lambda url: notifier(url, stub_session),
        transition=make_transition(),
        secrets=[SECRET, URL_TOKEN],
        caplog=caplog,
    )
    if not case.refused:
        (request,) = vendor_stub.requests
        assert request.path == f"/hooks/ehpc?token={URL_TOKEN}"


def test_receiver_can_verify_the_signature(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    notifier(vendor_stub.url, stub_session).send(make_transition())
    (request,) = vendor_stub.requests
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-ehpc-signature"] == f"t={NOW},v1={expected}"
    assert request.headers["content-type"] == "application/json"


def test_redelivery_carries_the_same_idempotency_key_and_body(
    vendor_stub: VendorStub, stub_session: BridgeSession
) -> None:
    transition = make_transition()
    sender = notifier(vendor_stub.url, stub_session)
    sender.send(transition)
    sender.send(transition)
    first, second = vendor_stub.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == transition.fingerprint
    assert first.body == second.body


def test_unsigned_when_no_secret_is_configured(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    target = WebhookTarget(name="plain", url=f"{vendor_stub.url}/in")
    WebhookNotifier(target, session=stub_session, context=NotifierContext()).send(make_transition())
    (request,) = vendor_stub.requests
    assert "x-ehpc-signature" not in request.headers


def test_exactly_one_of_url_and_url_env() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one of url and url_env"):
        WebhookTarget(name="none")
