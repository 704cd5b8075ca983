"""DingTalk delivery against a local stand-in: the shared error table, body codes, signing, redelivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

from integrations.dingtalk.notifier import DingTalkNotifier, DingTalkTarget
from integrations.http import BridgeSession
from integrations.target import NotifierContext, StateStore
from tests.fixtures import robots
from tests.fixtures.transitions import make_transition
from tests.fixtures.vendor_stub import DELIVERY_CASES, VendorStub

TOKEN = "dt0access0token0never0in0logs0123"
SECRET = "SEC0signing0secret0never0in0logs"


def build(url: str, session: BridgeSession, state: StateStore | None) -> DingTalkNotifier:
    target = DingTalkTarget.model_validate(
        {"name": "dingtalk-ops", "type": "dingtalk", "webhook_url_env": "DT_URL", "secret_env": "DT_SECRET"},
        context={"environ": {"DT_URL": f"{url}/robot/send?access_token={TOKEN}", "DT_SECRET": SECRET}},
    )
    context = NotifierContext(state_for=(lambda name: state) if state is not None else None)
    return DingTalkNotifier(target, session=session, context=context, clock=lambda: robots.NOW)


ROBOT = robots.Robot(
    build=build,
    secrets=(TOKEN, SECRET),
    error_body=lambda code, message: {"errcode": code, "errmsg": message},
    rate_limit_code=130101,
    refused_code=310000,
)
CASES = (*DELIVERY_CASES, *robots.body_code_cases(ROBOT, retryable=(130101, -1), permanent=(310000, 300001)))


class TestDingTalk(robots.RobotContract):
    """The robot contract: the table (shared rows and DingTalk's codes), redelivery, refusals, scrubbing."""

    robot = ROBOT
    cases = CASES


def test_signed_request_on_the_wire(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    build(vendor_stub.url, stub_session, None).send(make_transition())
    (request,) = vendor_stub.requests
    timestamp = str(int(robots.NOW * 1000))
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    assert request.path == f"/robot/send?access_token={TOKEN}&timestamp={timestamp}&sign={sign}"
    assert request.json()["msgtype"] == "markdown"
