"""The shared HTTP session and the one HTTP-outcome → delivery-error mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.base import PermanentDeliveryError, RetryableDeliveryError
from integrations.http import (
    USER_AGENT,
    BridgeSession,
    new_session,
    parse_retry_after,
    redact_url,
    send_request,
)
from tests.fixtures.vendor_stub import StubResponse, VendorStub


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Thu, 26 Nov 2026 10:00:30 GMT", 30.0),
        ("Thu, 26 Nov 2026 09:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://oapi.dingtalk.com/robot/send?access_token=abc123&x=1",
            "https://oapi.dingtalk.com/robot/send?access_token=***&x=***",
        ),
        (
            "https://open.feishu.cn/open-apis/bot/v2/hook/2d3f1c0e-1111-2222-3333-444455556666",
            "https://open.feishu.cn/open-apis/bot/v2/hook/***",
        ),
        (
            "https://user:pw@example.com:8443/hooks/ehpc-notifications",
            "https://example.com:8443/hooks/ehpc-notifications",
        ),
        ("http://127.0.0.1:4010/enqueue", "http://127.0.0.1:4010/enqueue"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_session_sets_user_agent_and_default_timeout() -> None:
    session = new_session()
    assert isinstance(session, BridgeSession)
    assert session.headers["User-Agent"] == USER_AGENT
    assert session.default_timeout == (5.0, 10.0)


def test_no_automatic_retry_on_5xx(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    vendor_stub.script(StubResponse(503), StubResponse(503))
    with pytest.raises(RetryableDeliveryError) as raised:
        send_request(session=stub_session, method="POST", url=vendor_stub.url, destination="d", json={})
    assert len(vendor_stub.requests) == 1
    assert raised.value.status == 503
    assert raised.value.destination == "d"


def test_redirect_is_not_followed(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    vendor_stub.script(StubResponse(302, {"Location": "http://127.0.0.1:9/elsewhere"}))
    with pytest.raises(PermanentDeliveryError):
        send_request(session=stub_session, method="POST", url=vendor_stub.url, destination="d", json={})
    assert len(vendor_stub.requests) == 1


def test_408_is_retryable(vendor_stub: VendorStub, stub_session: BridgeSession) -> None:
    vendor_stub.script(StubResponse(408))
    with pytest.raises(RetryableDeliveryError):
        send_request(session=stub_session, method="POST", url=vendor_stub.url, destination="d")


def test_bad_url_is_permanent_and_redacted(stub_session: BridgeSession) -> None:
    with pytest.raises(PermanentDeliveryError) as raised:
        send_request(session=stub_session, method="POST", url="ftp://host/x?token=abc", destination="d")
    assert "abc" not in str(raised.value)
    assert raised.value.__suppress_context__
