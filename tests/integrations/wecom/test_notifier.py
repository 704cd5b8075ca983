"""WeCom delivery against a local stand-in: the shared error table, body codes, redelivery."""

from __future__ import annotations

from integrations.http import BridgeSession
from integrations.target import NotifierContext, StateStore
from integrations.wecom.notifier import WeComNotifier, WeComTarget
from tests.fixtures import robots
from tests.fixtures.transitions import make_transition
from tests.fixtures.vendor_stub import DELIVERY_CASES, VendorStub

KEY = "693a91f6-7xxx-4bc4-97a0-never0in0logs"


def build(url: str, session: BridgeSession, state: StateStore | None) -> WeComNotifier:
    target = WeComTarget.model_validate(
        {"name": "wecom-ops", "type": "wecom", "webhook_url_env": "WECOM_URL"},
        context={"environ": {"WECOM_URL": f"{url}/cgi-bin/webhook/send?key={KEY}"}},
    )
    context = NotifierContext(state_for=(lambda name: state) if state is not None else None)
    return WeComNotifier(target, session=session, context=context)


ROBOT = robots.Robot(
    build=build,
    secrets=(KEY,),
    error_body=lambda code, message: {"errcode": code, "errmsg": message},
    rate_limit_code=45009,
    refused_code=93000,
)
CASES = (*DELIVERY_CASES, *robots.body_code_cases(ROBOT, retryable=(45009, -1), permanent=(93000, 40058)))


class TestWeCom(robots.RobotContract):
    """The robot contract: the table (shared rows and WeCom's codes), redelivery, refusals, scrubbing."""

    robot = ROBOT
    cases = CASES


def test_request_on_the_wire(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    build(vendor_stub.url, stub_session, None).send(make_transition())
    (request,) = vendor_stub.requests
    assert request.path == f"/cgi-bin/webhook/send?key={KEY}"
    assert request.json()["msgtype"] == "markdown"
