"""DingTalk group-robot messages and request signing as data, tested without HTTP.

A message is ``msgtype: markdown`` (``title`` shows in the chat list, ``text`` in the chat). Mentions
need an ``at`` object, which is never sent; API text is escaped anyway (``card.escape_markdown``).
Signing (robot "加签" security setting): ``timestamp`` in milliseconds and
``sign = base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))``, both sent as query parameters
(URL-encoding the signature is left to the HTTP client). https://open.dingtalk.com/document/robots/customize-robot-security-settings
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from integrations.base import Transition
from integrations.card import chat_headline, clip, fit_lines, markdown_lines, task_card
from integrations.ehpc.task import TaskStatus

__all__ = ["MAX_TEXT_BYTES", "markdown_message", "signature_params"]

MAX_TEXT_BYTES = 18000  # UTF-8; DingTalk refuses messages of about 20,000 bytes
_STATUS_COLORS = {
    TaskStatus.SUCCESS: "#2E8B57",
    TaskStatus.FAIL: "#D0021B",
    TaskStatus.PARTIAL_FAIL: "#F5A623",
}


def markdown_message(transition: Transition) -> dict[str, Any]:
    """The JSON body of ``POST /robot/send`` for ``transition``."""
    card = task_card(transition)
    headline = chat_headline(card)
    color = _STATUS_COLORS.get(card.status)
    title_line = f'<font color="{color}">{headline}</font>' if color else headline
    text = fit_lines([f"### {title_line}", *markdown_lines(card)], max_bytes=MAX_TEXT_BYTES, separator="\n\n")
    return {"msgtype": "markdown", "markdown": {"title": clip(headline, 64), "text": text}}


def signature_params(*, secret: str, timestamp_ms: int) -> dict[str, str]:
    """The ``timestamp`` and ``sign`` query parameters of a signed robot request."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": str(timestamp_ms), "sign": base64.b64encode(digest).decode()}
