"""The stand-in's page as HTML: mrkdwn drawn like Slack, every foreign character escaped, live updates."""

from __future__ import annotations

import json
import threading
from urllib.request import urlopen

import pytest
from slack_sdk import WebClient

from integrations.slack.answers import task_actions_block
from integrations.slack.render import render_final_reply, render_task_message
from integrations.slack.standin import SlackStandIn, StoredMessage
from integrations.slack.standin.mrkdwn import mrkdwn_to_html
from integrations.slack.standin.page import message_id, render_blocks, render_message
from tests.fixtures.slack import FIRST_SEEN, make_task

TOKEN = "xoxb-standin-page"


@pytest.mark.parametrize(
    ("mrkdwn", "html"),
    [
        ("*bold* _italic_ ~struck~", "<b>bold</b> <i>italic</i> <s>struck</s>"),
        ("a `code *not bold*` b", "a <code>code *not bold*</code> b"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("&lt;b&gt; &amp;amp;", "&lt;b&gt; &amp;amp;"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('"quoted" it\'s', "&quot;quoted&quot; it&#x27;s"),
        (
            "<https://example.com/?a=1&amp;b=2|the docs>",
            '<a href="https://example.com/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">the docs',
        ),
        ("<javascript:alert(1)|click>", "&lt;javascript:alert(1)|click&gt;"),
        ('<https://x.example/"onmouseover="x|y>', '<a href="https://x.example/&quot;onmouseover=&quot;x"'),
        ("<!channel> <@U1> <#C1|general>", '<span class="mention broadcast">@channel</span>'),
        ("*<https://example.com|bold link>*", '<b><a href="https://example.com"'),
        (":white_check_mark: done :unknown_code:", "✅ done :unknown_code:"),
        ("```\nraw <1>\n*kept*```", "<pre>raw &lt;1&gt;\n*kept*</pre>"),
        ("one\ntwo", "one<br>two"),
        ("a\x00b", "ab"),
    ],
)
def test_mrkdwn_is_drawn_and_escaped(mrkdwn: str, html: str) -> None:
    assert html in mrkdwn_to_html(mrkdwn)


def test_a_code_block_keeps_an_escaped_angle_bracket_as_text() -> None:
    assert mrkdwn_to_html("```&lt;tag&gt;```") == "<pre>&lt;tag&gt;</pre>"


def test_task_message_shows_fields_context_and_buttons() -> None:
    task = make_task(cluster_id="ehpc-hz-<1>")
    message = render_task_message(task=task, cluster_name="genomics", first_seen=FIRST_SEEN, now=FIRST_SEEN)
    drawn = render_blocks([*message.block_list(), task_actions_block("ehpc-hz-1/task-1")], fallback="x")

    assert '<div class="fields">' in drawn
    assert "▓▓▓▓░░░░░░ 4/10 (40%)" in drawn
    assert '<div class="block context">' in drawn
    assert "<code>ehpc-hz-&lt;1&gt;</code>" in drawn
    assert drawn.count('<button type="button" class="button') == 2
    assert ">Mute cluster 1 h</button>" in drawn


def test_other_blocks_are_drawn_or_named() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "<Title> :x:"}},
        {"type": "divider"},
        {"type": "video", "title": {"type": "plain_text", "text": "x"}},
        {"type": "context", "elements": [{"type": "image", "image_url": "https://x", "alt_text": "<logo>"}]},
    ]
    drawn = render_blocks(blocks, fallback="unused")

    assert '<div class="block header">&lt;Title&gt; ❌</div>' in drawn
    assert '<hr class="block divider">' in drawn
    assert "unsupported block: video" in drawn
    assert "[&lt;logo&gt;]" in drawn
    assert "https://x" not in drawn  # the page loads nothing from elsewhere


def test_a_message_without_blocks_shows_its_text() -> None:
    assert "<b>hi</b>" in render_blocks([], fallback="*hi*")


def test_a_reply_sits_in_its_parents_thread_and_an_edit_is_marked() -> None:
    parent = StoredMessage("C1", "1.000001", "p", [], edits=[("old", [])])
    reply = StoredMessage("C1", "1.000002", "r", [], thread_ts="1.000001")
    reply_block = render_final_reply(task=make_task(), cluster_name="genomics").block_list()
    reply.blocks = reply_block

    drawn = render_message(parent, replies=[reply])

    assert '<span class="edited">(edited)</span>' in drawn
    assert '<div class="thread" data-replies="1">' in drawn
    assert f'data-parent="{message_id("C1", "1.000001")}"' in drawn
    assert drawn.index(message_id("C1", "1.000002")) > drawn.index('<div class="thread"')


def test_page_and_changes_are_served_over_http_and_not_recorded_as_api_calls() -> None:
    with SlackStandIn() as standin:
        client = WebClient(token=TOKEN, base_url=standin.base_url)
        posted = client.chat_postMessage(channel="ops", text="first <!here>")
        with urlopen(standin.page_url, timeout=5) as answer:  # noqa: S310 - the stand-in on 127.0.0.1
            page = answer.read().decode()
        client.chat_update(channel="ops", ts=posted["ts"], text="second")
        with urlopen(f"{standin.page_url}page/changes?after=1", timeout=5) as answer:  # noqa: S310
            changes = json.load(answer)
        with urlopen(f"{standin.page_url}healthz", timeout=5) as answer:  # noqa: S310
            health = json.load(answer)
        with urlopen(f"{standin.page_url}static/page.js", timeout=5) as answer:  # noqa: S310
            script = answer.read()
        methods = [request.api_method for request in standin.requests()]

    assert 'data-revision="1"' in page
    assert "&lt;!here&gt;" not in page  # a real <!here> is drawn as a mention, not as text
    assert '<span class="mention broadcast">@here</span>' in page
    assert [change["id"] for change in changes["changes"]] == [message_id("ops", posted["ts"])]
    assert "second" in changes["changes"][0]["html"]
    assert (changes["revision"], health) == (2, {"ok": True, "revision": 2})
    assert b"EventSource" in script
    assert methods == ["chat.postMessage", "chat.update"]


def test_a_long_poll_wakes_when_a_message_arrives() -> None:
    with SlackStandIn() as standin:
        client = WebClient(token=TOKEN, base_url=standin.base_url)
        answers: list[dict[str, object]] = []

        def long_poll() -> None:
            with urlopen(f"{standin.page_url}page/changes?after=0&wait=20", timeout=25) as answer:  # noqa: S310
                answers.append(json.load(answer))

        waiter = threading.Thread(target=long_poll)
        waiter.start()
        client.chat_postMessage(channel="ops", text="wake up")
        waiter.join(timeout=20)

    assert not waiter.is_alive()
    assert answers[0]["revision"] == 1


def test_deletions_and_the_message_cap_leave_tombstones() -> None:
    with SlackStandIn(max_messages=2) as standin:
        client = WebClient(token=TOKEN, base_url=standin.base_url)
        first = client.chat_postMessage(channel="ops", text="1")
        client.chat_postMessage(channel="ops", text="reply", thread_ts=first["ts"])
        client.chat_postMessage(channel="ops", text="2")
        client.chat_postMessage(channel="ops", text="3")  # the cap drops "1" and its thread

        changes = standin.wait_for_changes(after=2, timeout=0)

    assert [m.text for m in standin.messages("ops")] == ["2", "3"]
    assert {ts for _, ts in changes.deleted} >= {first["ts"]}
    assert len(changes.deleted) == 2
    assert changes.complete
