"""DingTalk group robot: one markdown message per transition, optionally signed.

``errcode`` in a 200 body: 0 is success, 130101 (sending too fast) and -1 (system busy) are retryable,
everything else (310000: signature, keyword or IP check failed; 300001: bad token …) is permanent.
https://open.dingtalk.com/document/robots/custom-robot-access
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from integrations.base import Transition
from integrations.dingtalk.render import markdown_message, signature_params
from integrations.robot import RobotNotifier, RobotReply, RobotTarget, Signature

__all__ = ["DingTalkNotifier", "DingTalkTarget"]


class DingTalkTarget(RobotTarget):
    """``webhook_url_env``: variable holding ``https://oapi.dingtalk.com/robot/send?access_token=…``;
    ``secret_env``: variable holding the ``SEC…`` signing secret, when the robot has one."""

    type: Literal["dingtalk"] = "dingtalk"


class DingTalkNotifier(RobotNotifier):
    """Sends each transition to a DingTalk group as markdown."""

    reply: ClassVar[RobotReply] = RobotReply(
        code_fields=("errcode",), message_fields=("errmsg",), retryable_codes={130101, -1}
    )

    def render(self, transition: Transition) -> dict[str, Any]:
        """See :func:`integrations.dingtalk.render.markdown_message`."""
        return markdown_message(transition)

    def sign(self, *, secret: str, now: float) -> Signature:
        """``timestamp`` (ms) and ``sign`` as query parameters."""
        return Signature(params=signature_params(secret=secret, timestamp_ms=int(now * 1000)))
