"""The one HTTP session every notifier uses, and the one place HTTP outcomes become delivery errors.

Why one session: one connection pool, one User-Agent, one timeout policy, and **no automatic retries**
(retrying is Celery's job, with the vendor's Retry-After as countdown). Why one mapping: every vendor gets
the same rules, drawn here::

    2xx                                   -> the response
    408, 429, 5xx                         -> RetryableDeliveryError(retry_after=Retry-After, if given)
    timeout, connection refused/reset     -> RetryableDeliveryError
    any other status (3xx, 4xx)           -> PermanentDeliveryError
    anything else requests raises         -> PermanentDeliveryError (a bad URL will not heal)
    2xx whose body is not a JSON object   -> PermanentDeliveryError (json_object, where one is expected)

Messages carry the destination name, the method, the *redacted* URL and the status; never a secret:
query values and userinfo are masked, so are token-like path segments (a Lark or Slack hook token), and
any value passed in ``secrets`` is scrubbed from the vendor's answer. Exceptions are raised ``from None``
because a requests exception's text and traceback carry the full URL. urllib3 logs every request line at
DEBUG, query string included, so :func:`new_session` puts a redacting filter on that logger.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from integrations.base import PermanentDeliveryError, RetryableDeliveryError
from integrations.redaction import install

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "BridgeSession",
    "check_response",
    "json_object",
    "new_session",
    "parse_retry_after",
    "redact_url",
    "send_request",
]

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 10.0)  # (connect, read) seconds
USER_AGENT = "ehpc-bridge/0.1 (+https://github.com/ehpc-bridge/ehpc-bridge)"
_RETRYABLE_STATUSES = frozenset({408, 429})
_BODY_EXCERPT = 300
_REDACTED = "***"
# A path segment that looks like a credential: long, and mixing letters with digits (uuid, hook token).
_TOKEN_SEGMENT = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{16,}$")
_URL_IN_TEXT = re.compile(r"(?<![^\s\"])(?:https?://|/)[^\s\"]*")


class BridgeSession(requests.Session):
    """A ``requests.Session`` whose requests time out by default (requests' own default is never).

    ``before_request`` runs before every request: the worker renews the calling delivery's lease there, so
    a send of several calls never outlives it (:mod:`worker.deliver.fence`).
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.before_request = before_request

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        """Send like ``requests.Session.request``, with ``default_timeout`` unless one is given."""
        if self.before_request is not None:
            self.before_request()
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(*args, **kwargs)


def new_session(
    *,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    user_agent: str = USER_AGENT,
    before_request: Callable[[], None] | None = None,
) -> BridgeSession:
    """Build the shared session: default ``(connect, read)`` timeout, our User-Agent, zero retries."""
    session = BridgeSession(timeout=timeout, before_request=before_request)
    session.headers["User-Agent"] = user_agent
    adapter = HTTPAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    _install_log_redaction()
    return session


def send_request(
    *,
    session: requests.Session,
    method: str,
    url: str,
    destination: str,
    json: Any = None,
    data: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> requests.Response:
    """Send one request and return the 2xx response; anything else raises a ``DeliveryError``.

    Redirects are not followed: a notification endpoint that redirects is misconfigured.
    """
    secret_values = tuple(s for s in secrets if s)
    try:
        response = session.request(
            method,
            url,
            json=json,
            data=data,
            headers=dict(headers or {}),
            params=dict(params or {}),
            allow_redirects=False,
        )
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise RetryableDeliveryError(
            f"{destination}: {method} {redact_url(url)} failed: {type(exc).__name__}",
            destination=destination,
        ) from None
    except requests.RequestException as exc:
        raise PermanentDeliveryError(
            f"{destination}: {method} {redact_url(url)} could not be sent: {type(exc).__name__}",
            destination=destination,
        ) from None
    check_response(response, destination=destination, secrets=secret_values)
    return response


def check_response(response: requests.Response, *, destination: str, secrets: Iterable[str] = ()) -> None:
    """Raise the ``DeliveryError`` a non-2xx ``response`` stands for; return on 2xx.

    :func:`send_request` calls it on every answer; vendors that answer 200 with an error code in the body
    (DingTalk, Lark, WeCom) then read that code themselves.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    method = response.request.method if response.request is not None else "HTTP"
    excerpt = _scrub(response.text[:_BODY_EXCERPT], secrets)
    message = f"{destination}: {method} {redact_url(response.url)} answered {status}: {excerpt}"
    if status in _RETRYABLE_STATUSES or status >= 500:
        raise RetryableDeliveryError(
            message,
            destination=destination,
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    raise PermanentDeliveryError(message, destination=destination, status=status)


def json_object(response: requests.Response, *, destination: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer; any other body is a vendor we do not understand (permanent)."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise PermanentDeliveryError(
            f"{destination}: answered HTTP {response.status_code} with a body that is not a JSON object",
            destination=destination,
            status=response.status_code,
        )
    return answer


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def redact_url(url: str) -> str:
    """``url`` fit for a log line: no userinfo, query values masked, token-like path segments masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    path = "/".join(_REDACTED if _TOKEN_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(
        f"{pair.split('=', 1)[0]}={_REDACTED}" if "=" in pair else _REDACTED
        for pair in parts.query.split("&")
        if pair
    )
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _redact_urls(text: str) -> str:
    """``text`` with each URL or request path in it (urllib3's ``"GET /path?query HTTP/1.1"``) redacted."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def _install_log_redaction() -> None:
    """Put the URL redaction on urllib3's connection-pool logger (idempotent)."""
    install("urllib3.connectionpool", _redact_urls, key="urls")


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text
