"""Secret scrubbing for everything E-HPC's SDK may show: error texts and the HTTP stack's log records.

A ``SignatureDoesNotMatch`` message echoes the server's string-to-sign, which for RPC V1 signing carries the
``SecurityToken`` query parameter (percent-encoded twice), and a transport error's text can carry the
request URL. :func:`scrub` replaces every known secret (raw or percent-encoded, see :func:`masks`) and every
``SecurityToken``/``Signature``-shaped value with ``***``. Below the SDK, urllib3 logs each request URL at
DEBUG (RPC V1: ``SecurityToken`` included) and darabonba logs every header with ``DEBUG=sdk``:
:func:`redact_http_logs` masks those records too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import partial
from urllib.parse import quote, quote_plus

from integrations.redaction import install

__all__ = ["MASK", "MAX_MESSAGE", "masks", "redact_http_logs", "scrub"]

MASK = "***"
MAX_MESSAGE = 2000  # room for a V1 string-to-sign, whose STS token alone can be 1,000 characters

# RFC 3986 (the signers), form encoding (a query string as requests writes it), and '/' left alone.
_ENCODINGS: tuple[Callable[[str], str], ...] = (
    partial(quote, safe=""),
    partial(quote, safe="/"),
    partial(quote_plus, safe=""),
)

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


def masks(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as it may appear: raw, encoded once (query) and twice (string-to-sign), either way."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        once = {encode(secret) for encode in _ENCODINGS}
        forms.update({secret, *once, *(encode(form) for form in once for encode in _ENCODINGS)})
    return tuple(sorted(forms, key=len, reverse=True))


def scrub(text: str, masks: tuple[str, ...], *, limit: int | None = MAX_MESSAGE) -> str:
    for secret in masks:
        text = text.replace(secret, MASK)
    for shape in _SECRET_SHAPES:
        text = shape.sub(rf"\1{MASK}", text)
    return text if limit is None or len(text) <= limit else text[:limit] + "…"


def redact_http_logs() -> None:
    """Mask credential-shaped values in the HTTP stack's log records (idempotent; the client calls it)."""
    for name in _HTTP_LOGGERS:
        install(name, _scrub_shapes, key="ehpc-credentials")


def _scrub_shapes(text: str) -> str:
    return scrub(text, (), limit=None)
