"""Slack's v0 request signature, checked where bolt's own check sits and driven by the app's one clock.

A request whose signature is missing, forged, tampered with or older than five minutes gets 401 and nothing
else: no listener runs, no Redis or Slack call is made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware.request_verification import RequestVerification
from slack_sdk.signature import Clock, SignatureVerifier

__all__ = ["SignatureCheck"]

log = logging.getLogger(__name__)


class SignatureCheck(RequestVerification):
    """Bolt's v0 signature middleware with an injectable clock and no request body in its log line.

    Also turns a non-numeric ``X-Slack-Request-Timestamp`` into a 401 (slack-sdk's verifier would raise).
    """

    def __init__(self, *, signing_secret: str, now: Callable[[], datetime]) -> None:
        super().__init__(signing_secret)
        self._verifier = SignatureVerifier(signing_secret=signing_secret, clock=_EpochClock(now))

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        """Pass signed, fresh requests on; answer 401 to anything else."""
        timestamp = req.headers.get("x-slack-request-timestamp", [""])[0]
        if req.mode != "socket_mode" and not (timestamp.isascii() and timestamp.isdigit()):
            self._debug_log_error("", timestamp, "")
            return self._build_error_response()
        return super().process(req=req, resp=resp, next=next)

    def _debug_log_error(self, signature: str, timestamp: str, body: str) -> None:
        log.warning(
            "refused a Slack request with a missing, invalid or stale signature (ts %r)", timestamp[:20]
        )


class _EpochClock(Clock):
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now().timestamp()
