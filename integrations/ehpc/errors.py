"""What can go wrong when asking E-HPC, sorted by what the caller should do about it.

Error hierarchy (raised by :class:`~integrations.ehpc.client.EhpcClient`; the SDK's own exceptions never
leave this package: :func:`sdk_errors` is the one place they are caught, :func:`translate` sorts them)::

    EhpcError                  base: ``code``, ``http_status``, ``request_id``, ``message``; never a secret
    ├── RetryableEhpcError     asking again later may work: ServiceUnavailable, UnknownError, InternalError,
    │                          Throttling / Throttling.User / Throttling.Api (``retry_after`` seconds from the
    │                          server's ``x-acs-retry-after`` milliseconds when given, else None), DbError and
    │                          RedisError (server faults although they arrive as HTTP 406), timeouts, dropped
    │                          connections, non-JSON bodies (HTML 502 from a proxy), the SDK's silent
    │                          ``response.body is None`` on an unexpected shape; unknown codes with HTTP 5xx
    └── PermanentEhpcError     asking again cannot help: InvalidParams, Missing*, NotEnabled, ClusterNotFound,
                               NotAuthorized, signature and credential errors (SignatureDoesNotMatch,
                               InvalidAccessKeyId.*, InvalidTimeStamp.Expired, SignatureNonceUsed, ...),
                               InvalidAction.*, credentials the chain can't find; unknown codes with HTTP
                               4xx or without a status

Local codes (no HTTP answer to take one from): ``Timeout``, ``ConnectionError``, ``NonJsonBody``,
``UnexpectedShape``, ``CredentialsUnavailable``, and the client's ``ListingUnstable`` (retryable).

Secrets: a ``SignatureDoesNotMatch`` message echoes the server's string-to-sign, which for RPC V1 signing
carries the ``SecurityToken`` query parameter (percent-encoded twice), and a transport error's text can
carry the request URL. :func:`translate` replaces every known secret (raw or percent-encoded) and every
``SecurityToken``/``Signature``-shaped value with ``***``, and the translated error is raised ``from None``
so that no SDK exception (whose ``last_request`` holds the signed headers) rides along in a traceback.
Below the SDK, urllib3 logs each request URL at DEBUG (RPC V1: ``SecurityToken`` included) and darabonba
logs every header with ``DEBUG=sdk``: :func:`redact_http_logs` masks those records too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any
from urllib.parse import quote, quote_plus

from alibabacloud_credentials.exceptions import CredentialException
from darabonba.exceptions import ResponseException, RetryError
from Tea.exceptions import TeaException, UnretryableException

__all__ = [
    "EhpcError",
    "PermanentEhpcError",
    "RetryableEhpcError",
    "is_retryable_code",
    "redact_http_logs",
    "sdk_errors",
    "translate",
]

_MASK = "***"
_MAX_MESSAGE = 2000  # room for a V1 string-to-sign, whose STS token alone can be 1,000 characters

# RFC 3986 (the signers), form encoding (a query string as requests writes it), and '/' left alone.
_ENCODINGS: tuple[Callable[[str], str], ...] = (
    partial(quote, safe=""),
    partial(quote, safe="/"),
    partial(quote_plus, safe=""),
)

_RETRYABLE_CODES = frozenset(
    {"ServiceUnavailable", "UnknownError", "InternalError", "DbError", "RedisError", "ServiceTimeout"}
)
_PERMANENT_CODES = frozenset(
    {
        "InvalidParams",
        "NotEnabled",
        "ClusterNotFound",
        "NotAuthorized",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "SignatureNonceUsed",
        "InvalidCredentials",
        "CredentialsUnavailable",
        "ParameterMissing",
    }
)
# Families of codes, matched by prefix: "Throttling.User", "MissingClusterId", "InvalidAccessKeyId.NotFound",
# "InvalidTimeStamp.Expired", "InvalidAction.NotFound", "Forbidden.RAM", "InvalidSecurityToken.Expired" …
_THROTTLING = "Throttling"
_RETRYABLE_PREFIXES = (_THROTTLING,)
_PERMANENT_PREFIXES = ("Missing", "Invalid", "Forbidden", "Signature", "NotAuthorized")

# Values that look like credentials wherever they turn up, each form ending where its separator begins: a
# query parameter in a URL (``SecurityToken=…&``), in a string-to-sign (``SecurityToken%3D…%26``), that
# encoded once more (``SecurityToken%253D…%2526``), or a header line (``x-acs-security-token: …``).
_PARAM = r"(?:SecurityToken|AccessKeySecret|Signature|BearerToken)"
_SECRET_SHAPES = (
    re.compile(rf"({_PARAM}=)[^&\s'\"]*", re.IGNORECASE),
    re.compile(rf"({_PARAM}%3D).*?(?=%26|&|\s|'|\"|$)", re.IGNORECASE),
    re.compile(rf"({_PARAM}%253D).*?(?=%2526|%26|&|\s|'|\"|$)", re.IGNORECASE),
    re.compile(r"((?:x-acs-security-token|x-acs-bearer-token|authorization)\s*:)[^\n]*", re.IGNORECASE),
)
# Loggers of the HTTP stack below the SDK that write request lines or headers (urllib3 at DEBUG writes the
# URL, which under RPC V1 signing carries SecurityToken; darabonba with DEBUG=sdk writes every header).
_HTTP_LOGGERS = ("urllib3.connectionpool", "darabonba-core", "credentials")


def _rebuild(cls: type[EhpcError], fields: dict[str, Any]) -> EhpcError:
    """Unpickle an error (Celery sends exceptions between processes; keyword-only __init__ needs help)."""
    return cls(**fields)


class EhpcError(Exception):
    """E-HPC did not give us what we asked for."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id

    @property
    def throttled(self) -> bool:
        """True for the flow-control family (Throttling, Throttling.User, Throttling.Api)."""
        return self.code.startswith(_THROTTLING)

    def __str__(self) -> str:
        status = f" HTTP {self.http_status}" if self.http_status is not None else ""
        request = f" (RequestId {self.request_id})" if self.request_id else ""
        return f"{self.code}{status}: {self.message}{request}"

    def _fields(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "code": self.code,
            "http_status": self.http_status,
            "request_id": self.request_id,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._fields()))


class RetryableEhpcError(EhpcError):
    """Asking again later may succeed; ``retry_after`` is the server's wish in seconds, if it said."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http_status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, request_id=request_id)
        self.retry_after = retry_after

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "retry_after": self.retry_after}


class PermanentEhpcError(EhpcError):
    """Asking again cannot help until someone changes the request, the account or the credentials."""


def is_retryable_code(code: str, http_status: int | None) -> bool:
    """Whether an error ``code`` (with its HTTP status) is worth another try later."""
    if code in _RETRYABLE_CODES or code.startswith(_RETRYABLE_PREFIXES):
        return True
    if code in _PERMANENT_CODES or code.startswith(_PERMANENT_PREFIXES):
        return False
    return http_status is not None and http_status >= 500


@contextmanager
def sdk_errors(*, secrets: Callable[[], Iterable[str]]) -> Iterator[None]:
    """Translate any SDK exception raised in the block; ``secrets`` is asked only when one is."""
    try:
        yield
    except (TeaException, CredentialException) as exc:
        raise translate(exc, secrets=secrets()) from None


def translate(exc: BaseException, *, secrets: Iterable[str] = ()) -> EhpcError:
    """Turn whatever the SDK raised into an :class:`EhpcError` whose text holds none of ``secrets``.

    Raise the result ``from None``: the SDK exception keeps the signed request and must not ride along.
    """
    masks = _masks(secrets)
    if isinstance(exc, UnretryableException):
        return _from_transport(exc.inner_exception, masks)
    if isinstance(exc, ResponseException):
        return _from_response(exc, masks)
    if isinstance(exc, CredentialException):
        return PermanentEhpcError(
            _scrub(str(exc), masks), code="CredentialsUnavailable", http_status=None, request_id=None
        )
    if isinstance(exc, TeaException):
        # A Tea-level exception without an HTTP answer (validation of the request model and the like).
        code = exc.code if isinstance(exc.code, str) and exc.code else "SdkError"
        return _classified(_scrub(str(exc.message or exc), masks), code=code, http_status=None)
    raise TypeError(f"not an SDK exception: {type(exc).__name__}") from exc


def _from_response(exc: ResponseException, masks: tuple[str, ...]) -> EhpcError:
    """An HTTP error answer with a JSON body: ``{"RequestId", "HostId", "Code", "Message", "Recommend"}``."""
    data = exc.data if isinstance(exc.data, dict) else {}
    code = _text(data.get("Code") or data.get("code") or exc.code) or "Unknown"
    server_message = data.get("Message") or data.get("message")
    message = _scrub(_text(server_message) or _text(exc.message) or code, masks)
    status = exc.status_code if isinstance(exc.status_code, int) else None
    request_id = _text(data.get("RequestId") or data.get("requestId") or getattr(exc, "request_id", None))
    retry_after_ms = exc.retry_after if isinstance(exc.retry_after, int | float) else None
    return _classified(
        message,
        code=code,
        http_status=status,
        request_id=request_id,
        retry_after=retry_after_ms / 1000 if retry_after_ms and retry_after_ms > 0 else None,
    )


def _from_transport(inner: BaseException | None, masks: tuple[str, ...]) -> EhpcError:
    """The SDK got no usable HTTP answer: a timeout, a dropped connection, or a body that isn't JSON."""
    if isinstance(inner, CredentialException):
        # The credential chain runs inside the SDK's request loop, so its failures arrive wrapped.
        return translate(inner, secrets=masks)
    if isinstance(inner, RetryError):  # its str() is a dict's repr; the requests error text is in .message
        detail = _scrub(str(inner.message), masks)
        code = "Timeout" if "timed out" in detail.lower() else "ConnectionError"
        return RetryableEhpcError(f"no answer from E-HPC: {detail}", code=code)
    detail = _scrub(str(inner) if inner is not None else "no answer", masks)
    if _is_json_failure(inner):
        return RetryableEhpcError(
            f"E-HPC answered with a body that is not JSON: {detail}", code="NonJsonBody"
        )
    # A JSON error body of the wrong shape (a list, a string) fails inside the SDK's error handling.
    return RetryableEhpcError(
        f"E-HPC answered with an unexpected shape: {type(inner).__name__}: {detail}", code="UnexpectedShape"
    )


def _is_json_failure(inner: BaseException | None) -> bool:
    """darabonba reports an unparsable body as a RuntimeError ("Failed to parse the value as json …")."""
    if isinstance(inner, ValueError | UnicodeDecodeError):
        return True
    return isinstance(inner, RuntimeError) and "as json" in str(inner)


def _classified(
    message: str,
    *,
    code: str,
    http_status: int | None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> EhpcError:
    if is_retryable_code(code, http_status):
        return RetryableEhpcError(
            message, code=code, http_status=http_status, request_id=request_id, retry_after=retry_after
        )
    return PermanentEhpcError(message, code=code, http_status=http_status, request_id=request_id)


def _text(value: object) -> str | None:
    if value is None or value == "" or value == "None":
        return None
    return value if isinstance(value, str) else str(value)


def _masks(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as it may appear: raw, encoded once (query) and twice (string-to-sign), either way."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        once = {encode(secret) for encode in _ENCODINGS}
        forms.update({secret, *once, *(encode(form) for form in once for encode in _ENCODINGS)})
    return tuple(sorted(forms, key=len, reverse=True))


def _scrub(text: str, masks: tuple[str, ...], *, limit: int | None = _MAX_MESSAGE) -> str:
    for secret in masks:
        text = text.replace(secret, _MASK)
    for shape in _SECRET_SHAPES:
        text = shape.sub(rf"\1{_MASK}", text)
    return text if limit is None or len(text) <= limit else text[:limit] + "…"


class _RedactCredentials(logging.Filter):
    """Rewrites a log record whose text holds a credential-shaped value, masking the value."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        scrubbed = _scrub(text, (), limit=None)
        if scrubbed != text:
            record.msg, record.args = scrubbed, None
        return True


def redact_http_logs() -> None:
    """Mask credential-shaped values in the HTTP stack's log records (idempotent; the client calls it)."""
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactCredentials) for f in logger.filters):
            logger.addFilter(_RedactCredentials())
