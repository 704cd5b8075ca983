"""What the DingTalk, Lark and WeCom group robots share: a secret webhook, one POST, a code in the body.

All three answer HTTP 200 with an error code in the JSON body, so after :func:`integrations.http.send_request`
has mapped the HTTP status, :class:`RobotNotifier` maps the body's code: 0 is success, a vendor's rate-limit
codes are retryable (its window is one minute, so ``retry_after`` is 60 s), every other code is permanent.

Chat robots have no idempotency key. A redelivered transition is recognized by its fingerprint in the
target's :class:`~integrations.target.StateStore`, recorded after the vendor accepted it (a worker killed
between the two sends once more: at least once, never twice on an ordinary retry).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import requests

from integrations.base import PermanentDeliveryError, RetryableDeliveryError, Transition
from integrations.http import json_object, redact_url, send_request
from integrations.target import EnvSecret, NotifierContext, StateStore, TargetConfig

__all__ = ["RATE_LIMIT_WAIT", "RobotNotifier", "RobotReply", "RobotTarget", "Signature"]

log = logging.getLogger(__name__)

RATE_LIMIT_WAIT = 60.0  # seconds; the robots' rate windows are per minute
_SENT_TTL = 7 * 24 * 3600  # longer than any redelivery
_MIN_TOKEN = 8  # shorter URL parts ("send", "v2") are words, not tokens


class RobotTarget(TargetConfig):
    """A robot whose webhook URL carries its token (so the URL is a secret), optionally signing.

    Robots secured by "custom keyword" instead: use ``E-HPC``, which every message contains.
    """

    webhook_url_env: EnvSecret
    secret_env: EnvSecret | None = None


@dataclass(frozen=True)
class RobotReply:
    """How a vendor's JSON body says the outcome: the code field(s) and which codes mean "slow down"."""

    code_fields: tuple[str, ...]
    message_fields: tuple[str, ...]
    retryable_codes: Collection[int]


class RobotNotifier(ABC):
    """Posts a rendered message once per transition fingerprint and maps the body's code to errors.

    Vendors set :attr:`reply` and implement :meth:`render`; signing ones override :meth:`sign`.
    """

    reply: ClassVar[RobotReply]

    def __init__(
        self,
        target: RobotTarget,
        *,
        session: requests.Session,
        context: NotifierContext,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._target = target
        self._session = session
        self._clock = clock
        self._state: StateStore | None = context.state_for(target.name) if context.state_for else None
        self._secrets = (*target.secret_values(), *_url_tokens(target.webhook_url_env.get()))

    @abstractmethod
    def render(self, transition: Transition) -> dict[str, Any]:
        """The vendor's message body for ``transition`` (a pure render function)."""

    def sign(self, *, secret: str, now: float) -> Signature:
        """Extra query parameters and body fields proving the request; robots without signing add none."""
        return Signature()

    def send(self, transition: Transition) -> None:
        """Post the transition's message once; raise a ``DeliveryError`` when the robot did not take it."""
        sent_key = f"sent:{transition.fingerprint}"
        if self._state is not None and self._state.get(sent_key):
            log.info("%s: %s already sent, skipped", self._target.name, transition.fingerprint)
            return
        body = self.render(transition)
        signature = Signature()
        if self._target.secret_env is not None:
            signature = self.sign(secret=self._target.secret_env.get(), now=self._clock())
        url = self._target.webhook_url_env.get()
        response = send_request(
            session=self._session,
            method="POST",
            url=url,
            destination=self._target.name,
            json={**signature.fields, **body},
            params=signature.params,
            secrets=self._secrets,
        )
        self._check(
            json_object(response, destination=self._target.name), url=url, status=response.status_code
        )
        if self._state is not None:
            self._state.set(sent_key, "1", ttl_seconds=_SENT_TTL)
        log.info("%s: sent %s", self._target.name, transition.fingerprint)

    def _check(self, answer: dict[str, Any], *, url: str, status: int) -> None:
        code = next((answer[f] for f in self.reply.code_fields if f in answer), 0)
        if code == 0:
            return
        detail = next((str(answer[f]) for f in self.reply.message_fields if f in answer), "")
        for secret in self._secrets:
            detail = detail.replace(secret, "***")
        message = f"{self._target.name}: POST {redact_url(url)} refused with code {code}: {detail[:300]}"
        if code in self.reply.retryable_codes:
            raise RetryableDeliveryError(
                message, destination=self._target.name, status=status, retry_after=RATE_LIMIT_WAIT
            )
        raise PermanentDeliveryError(message, destination=self._target.name, status=status)


def _url_tokens(url: str) -> tuple[str, ...]:
    """The parts of a webhook URL that a vendor may echo alone: query values and the last path segment."""
    parts = urlsplit(url)
    values = [value for _, value in parse_qsl(parts.query)] + [parts.path.rsplit("/", 1)[-1]]
    return tuple(value for value in values if len(value) >= _MIN_TOKEN)


@dataclass(frozen=True)
class Signature:
    """What signing adds to a request: query parameters (DingTalk) or body fields (Lark)."""

    params: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
