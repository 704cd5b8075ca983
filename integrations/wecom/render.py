"""WeCom (企业微信) group-robot messages as data, tested without HTTP.

A message is ``msgtype: markdown``; WeCom mentions are ``<@userid>`` inside the content, so API text is
escaped and defanged (:func:`~integrations.card.escape_markdown`). The content is limited to 4,096 bytes
of UTF-8: lines that do not fit are dropped and counted. https://developer.work.weixin.qq.com/document/path/91770
"""

from __future__ import annotations

from typing import Any

from integrations.base import Transition
from integrations.card import chat_headline, fit_lines, markdown_lines, task_card
from integrations.ehpc.task import TaskStatus

__all__ = ["MAX_CONTENT_BYTES", "markdown_message"]

MAX_CONTENT_BYTES = 4096
_STATUS_COLORS = {TaskStatus.SUCCESS: "info", TaskStatus.FAIL: "warning", TaskStatus.PARTIAL_FAIL: "warning"}


def markdown_message(transition: Transition) -> dict[str, Any]:
    """The JSON body of ``POST /cgi-bin/webhook/send`` for ``transition``."""
    card = task_card(transition)
    color = _STATUS_COLORS.get(card.status, "comment")
    lines = [f'## <font color="{color}">{chat_headline(card)}</font>', *markdown_lines(card)]
    return {"msgtype": "markdown", "markdown": {"content": fit_lines(lines, max_bytes=MAX_CONTENT_BYTES)}}
