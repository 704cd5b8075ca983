"""PagerDuty Events API v2 requests checked against PagerDuty's published spec (Prism)."""

from __future__ import annotations

import pytest
import requests

from tests.fixtures.prism import PrismMock


@pytest.mark.expect_prism_violation
def test_harness_catches_an_event_without_routing_key(pagerduty_mock: PrismMock) -> None:
    response = requests.post(f"{pagerduty_mock.url}/enqueue", json={"event_action": "trigger"}, timeout=10)
    assert response.status_code == 400
