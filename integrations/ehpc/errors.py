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

Secrets: :func:`translate` scrubs every text it keeps (:mod:`integrations.ehpc.scrub`, which also masks the
HTTP stack's log records: :func:`redact_http_logs`, importable from here too), and the translated error is
raised ``from None`` so that no SDK exception (whose ``last_request`` holds the signed headers) rides along
in a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from alibabacloud_credentials.exceptions import CredentialException
from darabonba.exceptions import ResponseException, RetryError
from Tea.exceptions import TeaException, UnretryableException

from integrations.ehpc.scrub import masks, redact_http_logs, scrub

__all__ = [
    "EhpcError",
    "PermanentEhpcError",
    "RetryableEhpcError",
    "is_retryable_code",
    "redact_http_logs",
    "sdk_errors",
    "translate",
]

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
    forms = masks(secrets)
    if isinstance(exc, UnretryableException):
        return _from_transport(exc.inner_exception, forms)
    if isinstance(exc, ResponseException):
        return _from_response(exc, forms)
    if isinstance(exc, CredentialException):
        return PermanentEhpcError(
            scrub(str(exc), forms), code="CredentialsUnavailable", http_status=None, request_id=None
        )
    if isinstance(exc, TeaException):
        # A Tea-level exception without an HTTP answer (validation of the request model and the like).
        code = exc.code if isinstance(exc.code, str) and exc.code else "SdkError"
        return _classified(scrub(str(exc.message or exc), forms), code=code, http_status=None)
    raise TypeError(f"not an SDK exception: {type(exc).__name__}") from exc


def _from_response(exc: ResponseException, forms: tuple[str, ...]) -> EhpcError:
    """An HTTP error answer with a JSON body: ``{"RequestId", "HostId", "Code", "Message", "Recommend"}``."""
    data = exc.data if isinstance(exc.data, dict) else {}
    code = _text(data.get("Code") or data.get("code") or exc.code) or "Unknown"
    server_message = data.get("Message") or data.get("message")
    message = scrub(_text(server_message) or _text(exc.message) or code, forms)
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


def _from_transport(inner: BaseException | None, forms: tuple[str, ...]) -> EhpcError:
    """The SDK got no usable HTTP answer: a timeout, a dropped connection, or a body that isn't JSON."""
    if isinstance(inner, CredentialException):
        # The credential chain runs inside the SDK's request loop, so its failures arrive wrapped.
        return translate(inner, secrets=forms)
    if isinstance(inner, RetryError):  # its str() is a dict's repr; the requests error text is in .message
        detail = scrub(str(inner.message), forms)
        code = "Timeout" if "timed out" in detail.lower() else "ConnectionError"
        return RetryableEhpcError(f"no answer from E-HPC: {detail}", code=code)
    detail = scrub(str(inner) if inner is not None else "no answer", forms)
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
