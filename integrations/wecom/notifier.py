"""WeCom (企业微信) group robot: one markdown message per transition.

``errcode`` in a 200 body: 0 is success, 45009 (API frequency limit) and -1 (system busy) are retryable,
everything else (93000: invalid webhook key, 40058: bad content …) is permanent. WeCom robots do not sign.
https://developer.work.weixin.qq.com/document/path/91770
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from integrations.base import Transition
from integrations.robot import RobotNotifier, RobotReply, RobotTarget
from integrations.wecom.render import markdown_message

__all__ = ["WeComNotifier", "WeComTarget"]


class WeComTarget(RobotTarget):
    """``webhook_url_env``: variable holding ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``."""

    type: Literal["wecom"] = "wecom"


class WeComNotifier(RobotNotifier):
    """Sends each transition to a WeCom group as markdown."""

    reply: ClassVar[RobotReply] = RobotReply(
        code_fields=("errcode",), message_fields=("errmsg",), retryable_codes={45009, -1}
    )

    def render(self, transition: Transition) -> dict[str, Any]:
        """See :func:`integrations.wecom.render.markdown_message`."""
        return markdown_message(transition)
