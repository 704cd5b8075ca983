"""Lark (Feishu) custom-bot messages and request signing as data, tested without HTTP.

A message is an interactive card whose every text element is ``plain_text``: API text is never parsed as
markdown or as ``<at>`` mentions (and is defanged besides). Signing (bot "签名校验" setting): ``timestamp``
in seconds and ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``, both in the body.
https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from integrations.base import Transition
from integrations.card import chat_headline, clip, defang, task_card
from integrations.ehpc.task import TaskStatus

__all__ = ["card_message", "signature_fields"]

_MAX_ELEMENT = 4000  # characters per text element; a card must stay under 30 KB
_TEMPLATES = {
    TaskStatus.PROCESSING: "blue",
    TaskStatus.SUCCESS: "green",
    TaskStatus.FAIL: "red",
    TaskStatus.PARTIAL_FAIL: "orange",
}


def card_message(transition: Transition) -> dict[str, Any]:
    """The JSON body posted to the bot's webhook for ``transition`` (without the signature fields)."""
    card = task_card(transition)
    blocks = ["\n".join(f"{name}: {value}" for name, value in card.fields)]
    blocks += [
        "\n".join([f"{title}:", *(f"• {item}" for item in items)])
        for title, items in (("Errors", card.errors), ("Nodes", card.nodes))
        if items
    ]
    elements: list[dict[str, Any]] = [_plain_div(block) for block in blocks]
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": clip(chat_headline(card), 200)},
                "template": _TEMPLATES.get(card.status, "grey"),
            },
            "elements": elements,
        },
    }


def signature_fields(*, secret: str, timestamp_s: int) -> dict[str, str]:
    """The ``timestamp`` and ``sign`` body fields of a signed bot request."""
    key = f"{timestamp_s}\n{secret}".encode()
    digest = hmac.new(key, b"", hashlib.sha256).digest()
    return {"timestamp": str(timestamp_s), "sign": base64.b64encode(digest).decode()}


def _plain_div(text: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "plain_text", "content": clip(defang(text), _MAX_ELEMENT)}}
