"""Lark delivery against a local stand-in: the shared error table, body codes, signing, redelivery."""

from __future__ import annotations

import base64
import hashlib
import hmac

from integrations.http import BridgeSession
from integrations.lark.notifier import LarkNotifier, LarkTarget
from integrations.target import NotifierContext, StateStore
from tests.fixtures import robots
from tests.fixtures.transitions import make_transition
from tests.fixtures.vendor_stub import DELIVERY_CASES, StubResponse, VendorStub

HOOK = "0b5e9c1a-7d3f-4e2a-9c8b-never0in0logs"
SECRET = "lark0signing0secret0never0in0logs"


def build(url: str, session: BridgeSession, state: StateStore | None) -> LarkNotifier:
    target = LarkTarget.model_validate(
        {"name": "lark-ops", "type": "lark", "webhook_url_env": "LARK_URL", "secret_env": "LARK_SECRET"},
        context={"environ": {"LARK_URL": f"{url}/open-apis/bot/v2/hook/{HOOK}", "LARK_SECRET": SECRET}},
    )
    context = NotifierContext(state_for=(lambda name: state) if state is not None else None)
    return LarkNotifier(target, session=session, context=context, clock=lambda: robots.NOW)


ROBOT = robots.Robot(
    build=build,
    secrets=(HOOK, SECRET),
    error_body=lambda code, message: {"code": code, "msg": message, "data": {}},
    rate_limit_code=9499,
    refused_code=19021,
)
CASES = (*DELIVERY_CASES, *robots.body_code_cases(ROBOT, retryable=(9499, 11232), permanent=(19021, 19024)))


class TestLark(robots.RobotContract):
    """The robot contract: the table (shared rows and Lark's codes), redelivery, refusals, scrubbing."""

    robot = ROBOT
    cases = CASES


def test_signed_request_on_the_wire(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    build(vendor_stub.url, stub_session, None).send(make_transition())
    (request,) = vendor_stub.requests
    body = request.json()
    timestamp = str(int(robots.NOW))
    digest = hmac.new(f"{timestamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
    assert request.path == f"/open-apis/bot/v2/hook/{HOOK}"
    assert (body["timestamp"], body["sign"]) == (timestamp, base64.b64encode(digest).decode())
    assert body["msg_type"] == "interactive"


def test_legacy_status_code_is_read(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    vendor_stub.script(StubResponse(200, body={"StatusCode": 0, "StatusMessage": "success"}))
    build(vendor_stub.url, stub_session, None).send(make_transition())
    assert len(vendor_stub.requests) == 1
