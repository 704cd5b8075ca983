"""Links to a task's Slack thread, for other destinations to point back to (PagerDuty ``links``).

The permalink is built from the message reference already stored, without a Web API call:
``https://slack.com/archives/<channel id>/p<ts without the dot>``, which Slack redirects to the
workspace. It needs a channel *ID*; a channel configured by name (``#ops``) gives no link rather than a
broken one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from integrations.base import MessageRefStore
from integrations.target import SlackTarget, TargetConfig

__all__ = ["SlackThreadLinks", "first_slack_thread_links", "is_channel_id"]

_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


def is_channel_id(channel: str) -> bool:
    """True for a Slack conversation ID (``C…`` public, ``G…`` private, ``D…`` direct), not a ``#name``."""
    return _CHANNEL_ID.fullmatch(channel) is not None


class SlackThreadLinks:
    """:class:`integrations.target.ThreadLinks` from one Slack target's message references."""

    def __init__(self, *, refs: MessageRefStore) -> None:
        self._refs = refs

    def permalink(self, *, task_key: str) -> str | None:
        """The URL of the task's Slack message (its thread), or None when unknown."""
        ref = self._refs.get(task_key)
        if ref is None or not is_channel_id(ref.channel):
            return None
        return f"https://slack.com/archives/{ref.channel}/p{ref.ts.replace('.', '')}"


def first_slack_thread_links(
    targets: Sequence[TargetConfig], *, refs_for: Callable[[str], MessageRefStore]
) -> SlackThreadLinks | None:
    """Links to the first Slack target's task messages, for vendors that link back; None without one."""
    slack = next((target.name for target in targets if isinstance(target, SlackTarget)), None)
    return None if slack is None else SlackThreadLinks(refs=refs_for(slack))
