"""The two Alibaba Cloud request signatures, computed the way the server recomputes them.

ACS3-HMAC-SHA256 ("V3", the SDK's default) and RPC V1 HMAC-SHA1 (``Config(signature_algorithm='v2')`` and
the legacy core SDK). Pure functions: the simulator's authenticator compares their output with what the
client sent, and the tests check them against the vectors in ``ehpc-wire.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "V3_ALGORITHM",
    "Authorization",
    "InvalidAuthorizationError",
    "canonical_query",
    "parse_authorization",
    "percent_encode",
    "sha256_hex",
    "v1_signature",
    "v1_string_to_sign",
    "v3_signature",
    "v3_string_to_sign",
]

V3_ALGORITHM = "ACS3-HMAC-SHA256"


class InvalidAuthorizationError(ValueError):
    """``Authorization`` is not ``ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..``."""


@dataclass(frozen=True)
class Authorization:
    """The parts of a V3 ``Authorization`` header."""

    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def percent_encode(text: str) -> str:
    """RFC 3986 encoding: only ``A-Za-z0-9-_.~`` stay as they are (space → %20, ``*`` → %2A)."""
    return quote(text, safe="~", encoding="utf-8")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256, as sent in ``x-acs-content-sha256``."""
    return hashlib.sha256(data).hexdigest()


def canonical_query(params: Mapping[str, str]) -> str:
    """Sorted ``pct(key)=pct(value)`` pairs joined by ``&``; an empty value gives ``key=``."""
    return "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))


def parse_authorization(header: str) -> Authorization:
    """Split a V3 ``Authorization`` header, refusing anything incomplete."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != V3_ALGORITHM:
        raise InvalidAuthorizationError(f"unsupported algorithm {algorithm!r}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise InvalidAuthorizationError(f"malformed component {name!r}")
        parts[name] = value
    missing = {"Credential", "SignedHeaders", "Signature"} - {k for k, v in parts.items() if v}
    if missing:
        raise InvalidAuthorizationError(f"missing {', '.join(sorted(missing))}")
    signed = tuple(parts["SignedHeaders"].split(";"))
    return Authorization(
        access_key_id=parts["Credential"], signed_headers=signed, signature=parts["Signature"]
    )


def v3_string_to_sign(
    *,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    hashed_payload: str,
) -> str:
    """``ACS3-HMAC-SHA256\\n`` + hex SHA-256 of the canonical request; ``headers`` keys are lower-case."""
    names = sorted(name.lower() for name in signed_headers)
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in names)
    canonical_request = "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query(query),
            canonical_headers,
            ";".join(names),
            hashed_payload,
        ]
    )
    return f"{V3_ALGORITHM}\n{sha256_hex(canonical_request.encode())}"


def v3_signature(*, secret: str, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 keyed by the AccessKey secret itself."""
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def v1_string_to_sign(*, method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&`` + pct(canonical query of every parameter but ``Signature``)."""
    signed = {k: v for k, v in params.items() if k != "Signature"}
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(signed))}"


def v1_signature(*, secret: str, string_to_sign: str) -> str:
    """Base64 HMAC-SHA1 keyed by the secret followed by ``&``."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
