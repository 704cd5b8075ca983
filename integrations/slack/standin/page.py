"""The stand-in's web page: its channels drawn the way Slack draws Block Kit, as escaped HTML.

Pure functions from stored messages to HTML, tested without a browser. Sections (text, fields, a button
accessory), context lines, dividers, headers and action buttons are drawn; any other block shows as a
grey "unsupported block" line rather than vanishing. Thread replies sit under their parent. Every string
from a message goes through :mod:`~integrations.slack.standin.mrkdwn` or :func:`html.escape`: a
``<script>`` in a message is shown as text. Buttons are drawn, not wired: clicking is for real Slack.

The page's script (``static/page.js``) keeps it live: it listens to ``/page/stream`` (server-sent events)
or, without EventSource or when the stream never opens, long-polls ``/page/changes``. Both carry
:func:`changes_document`: each changed message as the HTML this module draws, keyed by a stable element id.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from integrations.slack.standin.mrkdwn import mrkdwn_to_html, plain_to_html

if TYPE_CHECKING:
    from integrations.slack.standin.server import Changes, StoredMessage

__all__ = ["asset", "changes_document", "message_id", "render_blocks", "render_message", "render_page"]

_ASSETS = {"page.css": "text/css; charset=utf-8", "page.js": "text/javascript; charset=utf-8"}
_BOT_NAME = "ehpc-bridge"


def message_id(channel: str, ts: str) -> str:
    """The page element id of a message: unique per channel and ts, stable across edits."""
    return f"m-{channel}-{ts}"


def render_blocks(blocks: Iterable[Any], *, fallback: str) -> str:
    """Block Kit blocks as HTML; a message without blocks shows its ``text`` as mrkdwn, as Slack does."""
    drawn = [_block(block) for block in blocks if isinstance(block, Mapping)]
    if not drawn:
        return f'<div class="block section"><div class="text">{mrkdwn_to_html(fallback)}</div></div>'
    return "".join(drawn)


def render_message(message: StoredMessage, *, replies: Sequence[StoredMessage] = ()) -> str:
    """One message as a page element: avatar, name, time, "(edited)", its blocks, then its thread."""
    when = datetime.fromtimestamp(float(message.ts), UTC)
    edited = ' <span class="edited">(edited)</span>' if message.edits else ""
    parent = "" if message.thread_ts is None else f' data-parent="{_attr(_parent_id(message))}"'
    thread = (
        ""
        if message.thread_ts
        else (
            f'<div class="thread" data-replies="{len(replies)}">{"".join(map(render_message, replies))}</div>'
        )
    )
    return (
        f'<article class="message" id="{_attr(message_id(message.channel, message.ts))}"'
        f' data-ts="{_attr(message.ts)}"{parent}>'
        '<div class="avatar" aria-hidden="true">EB</div>'
        '<div class="body"><div class="content">'
        f'<div class="meta"><span class="author">{_BOT_NAME}</span> <span class="badge">APP</span> '
        f'<time datetime="{when.isoformat()}" title="{when:%Y-%m-%d %H:%M:%S} UTC">{when:%H:%M:%S}</time>'
        f"{edited}</div>"
        f'<div class="blocks">{render_blocks(message.blocks, fallback=message.text)}</div>'
        f"</div>{thread}</div></article>"
    )


def render_page(*, snapshot: Changes, instance: str, api_url: str) -> str:
    """The whole page at ``snapshot.revision``: a sidebar of channels, then each channel's messages."""
    channels: dict[str, list[StoredMessage]] = {}
    replies: dict[str, list[StoredMessage]] = {}
    for message in sorted(snapshot.messages, key=lambda m: float(m.ts)):
        if message.thread_ts is None:
            channels.setdefault(message.channel, []).append(message)
        else:
            replies.setdefault(_parent_id(message), []).append(message)
    sidebar = "".join(
        f'<li><a href="#{_attr(_channel_id(name))}"># {html.escape(name)}</a></li>' for name in channels
    )
    sections = "".join(
        _channel_section(name, [render_message(m, replies=replies.get(_parent_id(m), [])) for m in parents])
        for name, parents in channels.items()
    )
    empty = (
        '<p class="empty" id="empty">No messages yet. Whatever is posted with <code>chat.postMessage</code>'
        f" to <code>{html.escape(api_url)}</code> appears here as it happens.</p>"
    )
    return _PAGE.format(
        instance=_attr(instance), revision=snapshot.revision, sidebar=sidebar, channels=sections or empty
    )


def changes_document(changes: Changes, *, instance: str) -> dict[str, Any]:
    """What the page applies: changed messages (parents before replies) and deleted ids, as JSON data."""
    ordered = sorted(changes.messages, key=lambda m: (m.thread_ts is not None, float(m.ts)))
    return {
        "instance": instance,
        "revision": changes.revision,
        "complete": changes.complete,
        "changes": [
            {
                "id": message_id(m.channel, m.ts),
                "channel": m.channel,
                "parent": None if m.thread_ts is None else _parent_id(m),
                "ts": m.ts,
                "html": render_message(m),
            }
            for m in ordered
        ],
        "deleted": [message_id(channel, ts) for channel, ts in changes.deleted],
    }


def asset(name: str) -> tuple[str, bytes] | None:
    """A static file of the page (content type, bytes), or None for a name that isn't one."""
    content_type = _ASSETS.get(name)
    if content_type is None:
        return None
    return content_type, resources.files(__package__).joinpath("static", name).read_bytes()


def _channel_section(name: str, messages: list[str]) -> str:
    return (
        f'<section class="channel" id="{_attr(_channel_id(name))}" data-channel="{_attr(name)}">'
        f'<h2 class="channel-name"># {html.escape(name)}</h2>'
        f'<div class="messages">{"".join(messages)}</div></section>'
    )


def _channel_id(name: str) -> str:
    return f"c-{name}"


def _parent_id(message: StoredMessage) -> str:
    return message_id(message.channel, message.thread_ts or message.ts)


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _block(block: Mapping[str, Any]) -> str:
    kind = block.get("type")
    if kind == "section":
        return _section(block)
    if kind == "context":
        elements = block.get("elements") or []
        items = "".join(f"<span>{_context_item(e)}</span>" for e in elements if isinstance(e, Mapping))
        return f'<div class="block context">{items}</div>'
    if kind == "divider":
        return '<hr class="block divider">'
    if kind == "header":
        return f'<div class="block header">{_text(block.get("text"))}</div>'
    if kind == "actions":
        elements = block.get("elements") or []
        buttons = "".join(_element(element) for element in elements if isinstance(element, Mapping))
        return f'<div class="block actions">{buttons}</div>'
    return f'<div class="block unsupported">unsupported block: {html.escape(str(kind))}</div>'


def _section(block: Mapping[str, Any]) -> str:
    parts = []
    if isinstance(block.get("text"), Mapping):
        parts.append(f'<div class="text">{_text(block["text"])}</div>')
    fields = [field for field in block.get("fields") or [] if isinstance(field, Mapping)]
    if fields:
        parts.append('<div class="fields">' + "".join(f"<div>{_text(f)}</div>" for f in fields) + "</div>")
    accessory = block.get("accessory")
    side = f'<div class="accessory">{_element(accessory)}</div>' if isinstance(accessory, Mapping) else ""
    return f'<div class="block section"><div class="main">{"".join(parts)}</div>{side}</div>'


def _text(obj: object) -> str:
    """A text object: mrkdwn drawn, plain_text escaped (emoji codes drawn unless ``emoji`` is false)."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_html(obj["text"])
    return plain_to_html(obj["text"], emoji=obj.get("emoji", True) is not False)


def _context_item(item: Mapping[str, Any]) -> str:
    return _text(item) if item.get("type") in {"mrkdwn", "plain_text"} else _element(item)


def _element(element: Mapping[str, Any]) -> str:
    if element.get("type") == "button":
        style = element.get("style")
        css = f" {style}" if style in {"primary", "danger"} else ""
        return (
            f'<button type="button" class="button{css}" title="buttons answer in real Slack">'
            f"{_text(element.get('text'))}</button>"
        )
    if element.get("type") == "image":
        return f'<span class="image">[{html.escape(str(element.get("alt_text", "image")))}]</span>'
    return f'<span class="unsupported">{html.escape(str(element.get("type")))}</span>'


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ehpc-bridge · Slack stand-in</title>
<link rel="stylesheet" href="/static/page.css">
</head>
<body data-instance="{instance}" data-revision="{revision}">
<nav class="sidebar">
<div class="workspace">ehpc-bridge <span>stand-in</span></div>
<div class="sidebar-title">Channels</div>
<ul id="channel-list">{sidebar}</ul>
</nav>
<main>
<header class="topbar"><span>Messages the bridge sent, drawn as Slack draws them</span>
<span id="live" class="live" data-state="connecting">connecting…</span></header>
<div id="channels">{channels}</div>
</main>
<script src="/static/page.js"></script>
</body>
</html>
"""
