"""The stand-in's page in a real browser: what slack-sdk posts is drawn like Slack, and edits arrive live.

Messages go through the real ``slack_sdk.WebClient`` (every request checked against Slack's contracts by
the ``slack_standin`` fixture), rendered by the bridge's own Block Kit functions. Headless Chromium opens
the page, the test posts more, and asserts what a person would see: text, thread nesting, an edit appearing
without a reload (a marker set on ``window`` survives), and a ``<script>`` shown as text, never run.
A screenshot is taken and checked; ``EHPC_DEMO_SCREENSHOT=docs/demo-page.png`` keeps a copy for the README.
"""

from __future__ import annotations

import io
import os
import shutil
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageStat
from playwright.sync_api import BrowserContext, Page
from slack_sdk import WebClient

from integrations.ehpc.task import Instance, TaskError, TaskStatus, TaskType
from integrations.slack.answers import task_actions_block
from integrations.slack.render import SlackMessage, render_final_reply, render_task_message
from integrations.slack.standin import SlackStandIn
from integrations.slack.standin.page import message_id
from tests.fixtures.slack import FIRST_SEEN, make_task

TOKEN = "xoxb-standin-browser"
CHANNEL = "ehpc-demo"
AUBERGINE = (0x3F, 0x0E, 0x40)  # Slack's sidebar
TIMEOUT_MS = 10_000


def _task_message(**task: object) -> SlackMessage:
    snapshot = make_task(**task)
    message = render_task_message(
        task=snapshot,
        cluster_name=snapshot.cluster_id,
        first_seen=FIRST_SEEN,
        now=FIRST_SEEN + timedelta(seconds=95),
    )
    key = f"{snapshot.cluster_id}/{snapshot.task_id}"
    return SlackMessage(text=message.text, blocks=(*message.blocks, task_actions_block(key)))


def _post(client: WebClient, message: SlackMessage, *, thread_ts: str | None = None) -> str:
    answer = client.chat_postMessage(
        channel=CHANNEL, text=message.text, blocks=message.block_list(), thread_ts=thread_ts
    )
    ts: str = answer["ts"]
    return ts


def _open(browser: BrowserContext, standin: SlackStandIn, *, query: str = "") -> Page:
    page = browser.new_page()
    page.goto(standin.page_url + query)
    page.wait_for_selector("#live[data-state=live]", timeout=TIMEOUT_MS)
    page.evaluate("window.loadedOnce = 'yes'")  # gone if the page reloads
    return page


def test_the_page_draws_threads_edits_live_and_escapes_scripts(
    slack_standin: SlackStandIn, browser: BrowserContext, tmp_path: Path
) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    done = make_task(
        task_id="0C2D57A1-create",
        cluster_id="ehpc-hz-genomics",
        task_type=TaskType.CREATE_CLUSTER,
        raw_task_type="CreateCluster",
        status=TaskStatus.SUCCESS,
        raw_status="Success",
        current_step=5,
        total_steps=5,
        instances=[Instance(instance_id="i-bp1a", hostname="login0", ip="10.0.0.5", role="Login")],
    )
    created = _post(client, _task_message(**dict(done)))
    _post(client, render_final_reply(task=done, cluster_name=done.cluster_id), thread_ts=created)
    running = {"task_id": "2452BC39-add", "cluster_id": "ehpc-hz-cfd", "current_step": 2, "total_steps": 6}
    adding = _post(client, _task_message(**running))
    client.chat_postMessage(channel=CHANNEL, text="<script>window.pwned = 1</script> stays text")

    page = _open(browser, slack_standin)
    assert page.inner_text("#live") == "live"  # server-sent events, not the polling fallback
    parent = page.locator(f"#{_css_id(message_id(CHANNEL, adding))}")
    assert "Adding compute nodes" in parent.inner_text()
    assert "▓▓▓░░░░░░░ 2/6 (33%)" in parent.inner_text()
    assert parent.locator("button").all_inner_texts() == ["Refresh", "Mute cluster 1 h"]
    assert page.locator(f"#{_css_id(message_id(CHANNEL, created))} .thread .message").count() == 1
    assert "<script>window.pwned = 1</script> stays text" in page.inner_text("#channels")
    assert page.evaluate("window.pwned") is None

    boot_error = TaskError(code="NodeStartFailed", message="<b>boot</b> timed out", instance_id="i-bp9z")
    finished = make_task(
        **running
        | {
            "status": TaskStatus.PARTIAL_FAIL,
            "raw_status": "PartialFail",
            "current_step": 6,
            "errors": [boot_error],
        }
    )
    client.chat_update(channel=CHANNEL, ts=adding, **_fields(_task_message(**dict(finished))))
    _post(client, render_final_reply(task=finished, cluster_name=finished.cluster_id), thread_ts=adding)

    page.wait_for_function(
        "id => document.getElementById(id).querySelector('.edited') !== null",
        arg=message_id(CHANNEL, adding),
        timeout=TIMEOUT_MS,
    )
    reply = parent.locator(".thread .message")
    reply.wait_for(timeout=TIMEOUT_MS)
    assert "Partly failed" in parent.locator(":scope > .body > .content").inner_text()
    assert "▓▓▓▓▓▓▓▓▓▓ 6/6 (100%)" in parent.inner_text()
    assert "<b>boot</b> timed out" in reply.inner_text()
    assert page.evaluate("window.loadedOnce") == "yes"  # drawn live, no reload
    assert page.locator("#channels b", has_text="boot").count() == 0

    shot = tmp_path / "demo-page.png"
    page.screenshot(path=str(shot), animations="disabled")
    _assert_looks_drawn(shot)
    if keep := os.environ.get("EHPC_DEMO_SCREENSHOT"):
        shutil.copyfile(shot, keep)
    page.close()


def test_the_polling_fallback_also_shows_new_messages_live(
    slack_standin: SlackStandIn, browser: BrowserContext
) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    page = _open(browser, slack_standin, query="?live=poll")
    assert page.inner_text("#live") == "live (polling)"

    ts = _post(client, _task_message())
    client.chat_update(channel=CHANNEL, ts=ts, **_fields(_task_message(current_step=9)))

    page.wait_for_selector(f"#{_css_id(message_id(CHANNEL, ts))} .edited", timeout=TIMEOUT_MS)
    assert "▓▓▓▓▓▓▓▓▓░ 9/10 (90%)" in page.inner_text("#channels")
    assert page.evaluate("window.loadedOnce") == "yes"
    page.close()


def _fields(message: SlackMessage) -> dict[str, object]:
    return {"text": message.text, "blocks": message.block_list()}


def _css_id(element_id: str) -> str:
    """An element id as a CSS selector (ids here carry dots)."""
    return element_id.replace(".", "\\.")


def _assert_looks_drawn(path: Path) -> None:
    """The screenshot is the viewport's size, not blank, and has Slack's aubergine sidebar."""
    image = Image.open(io.BytesIO(path.read_bytes())).convert("RGB")
    assert image.size == (1280, 1000)
    spread = ImageStat.Stat(image.convert("L")).stddev[0]
    assert spread > 20, f"the screenshot is nearly uniform (stddev {spread:.1f})"
    sidebar = image.crop((0, 0, 200, image.height))
    share = sum(count for count, colour in sidebar.getcolors(1 << 16) or [] if colour == AUBERGINE)
    assert share > 0.8 * sidebar.width * sidebar.height, "no Slack sidebar on the left"
