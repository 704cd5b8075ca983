"""The emoji codes ehpc-bridge's messages use, as the characters a terminal or a browser can draw.

Slack draws ``:white_check_mark:`` as a picture; the stand-in's terminal printout and web page draw the
Unicode character instead. A code not in the table stays as typed, the way Slack shows an unknown emoji.
"""

from __future__ import annotations

import re

__all__ = ["EMOJI", "draw_emoji"]

EMOJI = {
    "hourglass_flowing_sand": "⏳",
    "white_check_mark": "✅",
    "x": "❌",
    "warning": "⚠️",
    "grey_question": "❔",
    "rotating_light": "🚨",
    "no_entry": "⛔",
    "thinking_face": "🤔",
    "mute": "🔇",
    "loud_sound": "🔊",
    "mag": "🔍",
    "large_green_circle": "🟢",
    "red_circle": "🔴",
    "bell": "🔔",
    "lock": "🔒",
}

_CODE = re.compile(r":([a-z0-9_+-]+):")


def draw_emoji(text: str) -> str:
    """``text`` with each known ``:code:`` replaced by its character."""
    return _CODE.sub(lambda match: EMOJI.get(match[1], match[0]), text)
