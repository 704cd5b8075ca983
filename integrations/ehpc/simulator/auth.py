"""Who may call the simulator: signature check in both styles, clock skew, nonce replay, STS token.

Checks run in the cloud's order of cheapness: the request's shape (``IncompleteSignature``), the
AccessKeyId (``InvalidAccessKeyId.NotFound``), the timestamp (``InvalidTimeStamp.*``), the signature
(``SignatureDoesNotMatch``, its message echoing the server's string-to-sign, never the secret), the STS
token when one is configured, and last the nonce, remembered only for signed requests so a forger can't
burn them. Nonces are kept for twice the skew window (15 minutes either way), after which the timestamp
check refuses the request anyway, so memory stays bounded.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from integrations.ehpc.simulator.errors import ApiError
from integrations.ehpc.simulator.signature import (
    InvalidAuthorizationError,
    parse_authorization,
    sha256_hex,
    v1_signature,
    v1_string_to_sign,
    v3_signature,
    v3_string_to_sign,
)

__all__ = ["SKEW_SECONDS", "Authenticator", "Credential", "IncomingRequest", "Verified"]

SKEW_SECONDS = 15 * 60
_V1_COMMON = frozenset(
    {
        "Action",
        "Version",
        "Format",
        "Timestamp",
        "SignatureNonce",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureType",
        "AccessKeyId",
        "Signature",
        "SecurityToken",
    }
)
_V3_REQUIRED = (
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)


@dataclass(frozen=True)
class Credential:
    """An AccessKey pair the simulator accepts; ``security_token`` makes STS tokens mandatory for it."""

    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __repr__(self) -> str:  # the secret must never reach a log
        return f"Credential(access_key_id={self.access_key_id!r}, access_key_secret=***)"


@dataclass(frozen=True)
class IncomingRequest:
    """An HTTP request as the server read it; ``headers`` keys are lower-case."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    form: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Verified:
    """An authenticated request: its style, action, version and business parameters."""

    style: str  # "v3" or "v1"
    access_key_id: str
    action: str
    version: str
    params: dict[str, str]


class Authenticator:
    """Verifies requests against a fixed set of credentials."""

    def __init__(self, credentials: list[Credential], *, wall: Callable[[], float] = time.time) -> None:
        self._credentials = {c.access_key_id: c for c in credentials}
        self._wall = wall
        self._lock = threading.Lock()
        self._nonces: OrderedDict[tuple[str, str], float] = OrderedDict()

    def verify(self, request: IncomingRequest) -> Verified:
        """Return the verified request or raise :class:`ApiError` with the cloud's code."""
        if "authorization" in request.headers:
            return self._verify_v3(request)
        if "Signature" in request.query:
            return self._verify_v1(request)
        raise ApiError("IncompleteSignature", "Neither an Authorization header nor a Signature parameter.")

    def _verify_v3(self, request: IncomingRequest) -> Verified:
        try:
            auth = parse_authorization(request.headers["authorization"])
        except InvalidAuthorizationError as exc:
            raise ApiError("IncompleteSignature", str(exc)) from None
        missing = [h for h in _V3_REQUIRED if h not in request.headers]
        unsigned = [
            h
            for h in request.headers
            if (h == "host" or h.startswith("x-acs-")) and h not in auth.signed_headers
        ]
        if missing or unsigned:
            raise ApiError("IncompleteSignature", f"Missing: {missing}; unsigned: {unsigned}.")
        credential = self._credential(auth.access_key_id)
        self._check_time(request.headers["x-acs-date"])
        string_to_sign = v3_string_to_sign(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            signed_headers=auth.signed_headers,
            hashed_payload=request.headers["x-acs-content-sha256"],
        )
        expected = v3_signature(secret=credential.access_key_secret, string_to_sign=string_to_sign)
        body_intact = request.headers["x-acs-content-sha256"] == sha256_hex(request.body)
        if not (body_intact and hmac.compare_digest(expected, auth.signature)):
            raise ApiError("SignatureDoesNotMatch", string_to_sign)
        self._check_token(credential, request.headers.get("x-acs-security-token"))
        self._remember_nonce(credential.access_key_id, request.headers["x-acs-signature-nonce"])
        params = dict(request.query)
        params.update(request.form or {})
        return Verified(
            style="v3",
            access_key_id=credential.access_key_id,
            action=request.headers["x-acs-action"],
            version=request.headers["x-acs-version"],
            params=params,
        )

    def _verify_v1(self, request: IncomingRequest) -> Verified:
        params = dict(request.query)
        params.update(request.form or {})
        missing = [
            p
            for p in ("AccessKeyId", "Timestamp", "SignatureNonce", "Action", "Version")
            if not params.get(p)
        ]
        if missing or params.get("SignatureMethod") != "HMAC-SHA1":
            raise ApiError("IncompleteSignature", f"Missing: {missing}; SignatureMethod must be HMAC-SHA1.")
        credential = self._credential(params["AccessKeyId"])
        self._check_time(params["Timestamp"])
        string_to_sign = v1_string_to_sign(method=request.method, params=params)
        expected = v1_signature(secret=credential.access_key_secret, string_to_sign=string_to_sign)
        if not hmac.compare_digest(expected, params["Signature"]):
            raise ApiError("SignatureDoesNotMatch", string_to_sign)
        self._check_token(credential, params.get("SecurityToken"))
        self._remember_nonce(credential.access_key_id, params["SignatureNonce"])
        return Verified(
            style="v1",
            access_key_id=credential.access_key_id,
            action=params["Action"],
            version=params["Version"],
            params={k: v for k, v in params.items() if k not in _V1_COMMON},
        )

    def _credential(self, access_key_id: str) -> Credential:
        try:
            return self._credentials[access_key_id]
        except KeyError:
            raise ApiError("InvalidAccessKeyId.NotFound") from None

    def _check_time(self, stamp: str) -> None:
        try:
            signed_at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        except ValueError:
            raise ApiError("InvalidTimeStamp.Format") from None
        if abs(self._wall() - signed_at) > SKEW_SECONDS:
            raise ApiError("InvalidTimeStamp.Expired")

    @staticmethod
    def _check_token(credential: Credential, token: str | None) -> None:
        if credential.security_token is not None and not hmac.compare_digest(
            credential.security_token, token or ""
        ):
            raise ApiError("InvalidSecurityToken.MismatchWithAccessKey")

    def _remember_nonce(self, access_key_id: str, nonce: str) -> None:
        now = self._wall()
        key = (access_key_id, nonce)
        with self._lock:
            while self._nonces and next(iter(self._nonces.values())) < now - 2 * SKEW_SECONDS:
                self._nonces.popitem(last=False)
            if key in self._nonces:
                raise ApiError("SignatureNonceUsed")
            self._nonces[key] = now
