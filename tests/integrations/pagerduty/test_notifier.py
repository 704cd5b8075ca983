"""PagerDuty delivery against a local stand-in: the shared error table, secrecy, redelivery."""

from __future__ import annotations

import pytest

from integrations.base import RetryableDeliveryError
from integrations.http import BridgeSession
from integrations.pagerduty.notifier import PagerDutyNotifier, PagerDutyTarget
from integrations.target import NotifierContext
from tests.fixtures.transitions import make_transition
from tests.fixtures.vendor_stub import (
    DELIVERY_CASES,
    DeliveryCase,
    StubResponse,
    VendorStub,
    check_delivery_case,
)

SECRET = "R0UTING-KEY-never-in-logs-0123456"


class Links:
    """The worker's Slack permalink lookup, as a notifier sees it."""

    def permalink(self, *, task_key: str) -> str | None:
        return f"https://slack.example/archives/C1/p{task_key.split(':')[-1]}"


def notifier(url: str, session: BridgeSession) -> PagerDutyNotifier:
    target = PagerDutyTarget.model_validate(
        {"name": "pd-oncall", "routing_key_env": "PD_KEY", "events_url": f"{url}/v2/enqueue"},
        context={"environ": {"PD_KEY": SECRET}},
    )
    return PagerDutyNotifier(target, session=session, context=NotifierContext(thread_links=Links()))


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
        assert request.path == "/v2/enqueue"
        assert request.json()["routing_key"] == SECRET


def test_secret_echoed_by_the_vendor_is_scrubbed(
    vendor_stub: VendorStub, stub_session: BridgeSession
) -> None:
    vendor_stub.script(StubResponse(500, body={"message": f"bad key {SECRET}"}))
    with pytest.raises(RetryableDeliveryError) as raised:
        notifier(vendor_stub.url, stub_session).send(make_transition())
    assert SECRET not in str(raised.value)
    assert "bad key ***" in str(raised.value)


def test_trigger_links_to_the_slack_thread(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    notifier(vendor_stub.url, stub_session).send(make_transition(task_id="task-0042"))
    (request,) = vendor_stub.requests
    assert request.json()["links"] == [
        {"href": "https://slack.example/archives/C1/ptask-0042", "text": "Slack thread"}
    ]


def test_redelivery_sends_the_same_dedup_key(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    transition = make_transition()
    sender = notifier(vendor_stub.url, stub_session)
    sender.send(transition)
    sender.send(transition)
    first, second = (request.json() for request in vendor_stub.requests)
    assert first == second
    assert first["dedup_key"] == "ehpc-bridge:ehpc-hz-prod01:AddComputes"


def test_progress_is_not_sent(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    notifier(vendor_stub.url, stub_session).send(make_transition(status="Processing"))
    assert vendor_stub.requests == []
