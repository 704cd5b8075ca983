"""Slack's ``mrkdwn`` as HTML, drawn the way Slack draws it and never trusting a character of it.

The text arrives Slack-escaped (``&lt;`` ``&gt;`` ``&amp;`` stand for themselves; a bare ``<…>`` is a
control sequence: a link, a mention, ``<!here>``). Control sequences are taken out first, the rest is
decoded and then HTML-escaped, and only then are ``*bold*``, ``_italic_``, ``~strike~``, `` `code` ``,
code blocks and emoji codes turned into markup: every tag in the output is one these functions wrote.
Links keep only ``http``, ``https`` and ``mailto`` targets; any other ``<…>`` (``<javascript:…>``, a raw
``<script>``) is shown as the text it is.
"""

from __future__ import annotations

import html
import re

from integrations.slack.standin.emoji import draw_emoji

__all__ = ["mrkdwn_to_html", "plain_to_html", "slack_unescape"]

_CONTROL = re.compile(r"<([^<>\n]*)>")
_HELD = re.compile(r"\x00(\d+)\x00")  # a control sequence set aside while the text around it is styled
_PRE = re.compile(r"```\n?(.*?)```", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_STYLES = (
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "s"),
)
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_BROADCASTS = {"here", "channel", "everyone"}


def slack_unescape(text: str) -> str:
    """Decode Slack's three entities (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain_to_html(text: str, *, emoji: bool = True) -> str:
    """A ``plain_text`` object's text as HTML: escaped, emoji codes drawn when ``emoji`` is set."""
    escaped = html.escape(text)
    return draw_emoji(escaped) if emoji else escaped


def mrkdwn_to_html(text: str) -> str:
    """``text`` (Slack mrkdwn) as an HTML fragment: escaped, styled, links and mentions drawn."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(_control_html(match[1]))
        return f"\x00{len(held) - 1}\x00"

    prose = _CONTROL.sub(hold, text.replace("\x00", ""))
    parts = _PRE.split(prose)  # even indexes: prose; odd: the insides of ``` blocks
    rendered = "".join(
        f"<pre>{_escape(part)}</pre>" if index % 2 else _inline(part) for index, part in enumerate(parts)
    )
    return _HELD.sub(lambda match: held[int(match[1])], rendered)


def _escape(text: str) -> str:
    return html.escape(slack_unescape(text))


def _inline(text: str) -> str:
    """Prose: `` `code` `` spans kept literal, the rest styled; line breaks kept."""
    pieces = _CODE.split(text)  # odd indexes: the insides of `code` spans
    rendered = "".join(
        f"<code>{_escape(piece)}</code>" if index % 2 else _styled(_escape(piece))
        for index, piece in enumerate(pieces)
    )
    return rendered.replace("\n", "<br>")


def _styled(escaped: str) -> str:
    # The markers (* _ ~) survive HTML escaping unchanged and never occur inside an entity; emoji codes
    # are drawn first so the underscores of ``:white_check_mark:`` are never read as italics.
    styled = draw_emoji(escaped)
    for pattern, tag in _STYLES:
        styled = pattern.sub(rf"<{tag}>\1</{tag}>", styled)
    return styled


def _control_html(inner: str) -> str:
    """One ``<…>`` control sequence: a link, a user, channel or group mention, or a special command."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return _mention("@" + (label.lstrip("@") or target[1:]))
    if target.startswith("#"):
        return _mention("#" + (label or target[1:]))
    if target.startswith("!"):
        command = target[1:].split("^", 1)[0]
        if command in _BROADCASTS:
            return _mention("@" + command, extra=" broadcast")
        return _escape(label or target)
    url = slack_unescape(target)
    if not url.lower().startswith(_LINK_SCHEMES):
        return html.escape(f"<{slack_unescape(inner)}>")  # not a link Slack would draw: the text as sent
    shown = _escape(label) if label else html.escape(url)
    return f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{shown}</a>'


def _mention(text: str, *, extra: str = "") -> str:
    return f'<span class="mention{extra}">{_escape(text)}</span>'
