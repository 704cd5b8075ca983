"""Lark (Feishu) custom bot: one interactive card per transition, optionally signed.

``code`` in a 200 body (older deployments answer ``StatusCode``): 0 is success, 9499 (too many requests)
and 11232 (frequency limited) are retryable, everything else (19021: bad signature, 19024: keyword check
failed, 19001: bad hook …) is permanent. https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from integrations.base import Transition
from integrations.lark.render import card_message, signature_fields
from integrations.robot import RobotNotifier, RobotReply, RobotTarget, Signature

__all__ = ["LarkNotifier", "LarkTarget"]


class LarkTarget(RobotTarget):
    """``webhook_url_env``: variable holding ``https://open.feishu.cn/open-apis/bot/v2/hook/…`` (or the
    larksuite.com one); ``secret_env``: variable holding the signing secret, when the bot has one."""

    type: Literal["lark"] = "lark"


class LarkNotifier(RobotNotifier):
    """Sends each transition to a Lark group as an interactive card."""

    reply: ClassVar[RobotReply] = RobotReply(
        code_fields=("code", "StatusCode"),
        message_fields=("msg", "StatusMessage"),
        retryable_codes={9499, 11232},
    )

    def render(self, transition: Transition) -> dict[str, Any]:
        """See :func:`integrations.lark.render.card_message`."""
        return card_message(transition)

    def sign(self, *, secret: str, now: float) -> Signature:
        """``timestamp`` (s) and ``sign`` as body fields."""
        return Signature(fields=signature_fields(secret=secret, timestamp_s=int(now)))
