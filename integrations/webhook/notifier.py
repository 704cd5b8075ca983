"""POSTs every routed transition to a URL of the operator's, signed, with an idempotency key.

The receiver deduplicates on ``Idempotency-Key`` (the transition's fingerprint): a redelivery after a
worker crash carries the same key and the same body (the signature's timestamp may differ).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

import requests
from pydantic import Field, model_validator

from integrations.base import Transition
from integrations.http import redact_url, send_request
from integrations.target import EnvSecret, NotifierContext, TargetConfig
from integrations.webhook.render import encode_body, render_body, signature_header

__all__ = ["WebhookNotifier", "WebhookTarget"]

log = logging.getLogger(__name__)


class WebhookTarget(TargetConfig):
    """``type: webhook``: ``url`` (``url_env`` if the URL is a secret), optional signing secret."""

    type: Literal["webhook"] = "webhook"
    url: str | None = Field(default=None, pattern=r"^https?://")
    url_env: EnvSecret | None = None
    secret_env: EnvSecret | None = None

    @model_validator(mode="after")
    def _one_url(self) -> WebhookTarget:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        return self

    @property
    def endpoint(self) -> str:
        """The URL to POST to, whichever way it was given."""
        return self.url_env.get() if self.url_env is not None else str(self.url)


class WebhookNotifier:
    """Sends the ``ehpc-bridge.transition/v1`` document of every transition routed to it."""

    def __init__(
        self,
        target: WebhookTarget,
        *,
        session: requests.Session,
        context: NotifierContext,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._target = target
        self._session = session
        self._clock = clock

    def send(self, transition: Transition) -> None:
        """POST the signed body; the fingerprint is the ``Idempotency-Key``."""
        body = encode_body(render_body(transition))
        headers = {"Content-Type": "application/json", "Idempotency-Key": transition.fingerprint}
        if self._target.secret_env is not None:
            headers["X-Ehpc-Signature"] = signature_header(
                body, secret=self._target.secret_env.get(), timestamp=int(self._clock())
            )
        url = self._target.endpoint
        send_request(
            session=self._session,
            method="POST",
            url=url,
            destination=self._target.name,
            data=body,
            headers=headers,
            secrets=self._target.secret_values(),
        )
        log.info("%s: posted %s to %s", self._target.name, transition.fingerprint, redact_url(url))
