"""The Slack stand-in as slack-sdk sees it, and the contract harness that watches it."""

from __future__ import annotations

import json
from urllib.request import Request, urlopen

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.slack.answers import task_actions_block
from integrations.slack.standin import SlackStandIn
from tests.fixtures.slack import slack_violations

TOKEN = "xoxb-standin-test"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]


def call(standin: SlackStandIn, method: str, body: str, *, json_body: bool = False) -> dict[str, object]:
    """A raw call as slack-sdk would make it (form or JSON body), answer decoded whatever it says."""
    content_type = "application/json" if json_body else "application/x-www-form-urlencoded"
    request = Request(  # noqa: S310 - the URL is the stand-in's, on 127.0.0.1
        standin.base_url + method,
        data=body.encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type},
    )
    with urlopen(request, timeout=5) as answer:  # noqa: S310
        decoded: dict[str, object] = json.load(answer)
    return decoded


def test_history_is_newest_first_with_metadata_only_when_asked(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    first = client.chat_postMessage(
        channel="C1", text="one", metadata={"event_type": "e", "event_payload": {}}
    )
    client.chat_postMessage(channel="C1", text="two")
    client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])

    plain = client.conversations_history(channel="C1")["messages"]
    rich = client.conversations_history(channel="C1", include_all_metadata=True, limit=1, oldest=first["ts"])

    assert [m["text"] for m in plain] == ["two", "one"]
    assert "metadata" not in plain[1]
    assert plain[1]["reply_count"] == 1
    assert [m["text"] for m in rich["messages"]] == ["two"]


def test_update_keeps_the_edit_history(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    posted = client.chat_postMessage(channel="C1", text="v1", blocks=BLOCKS)

    client.chat_update(channel="C1", ts=posted["ts"], text="v2")

    [message] = slack_standin.messages("C1")
    assert (message.text, message.edits) == ("v2", [("v1", BLOCKS)])


def test_form_bodies_with_json_encoded_blocks_are_understood(slack_standin: SlackStandIn) -> None:
    answer = call(slack_standin, "chat.postMessage", f"channel=C1&text=hi&blocks={json.dumps(BLOCKS)}")

    assert answer["ok"] is True
    assert slack_standin.messages("C1")[0].blocks == BLOCKS


def test_printer_shows_posts_readably() -> None:
    printed: list[str] = []
    with SlackStandIn(printer=printed.append) as standin:
        client = WebClient(token=TOKEN, base_url=standin.base_url)
        client.chat_postMessage(
            channel="C1",
            text="x",
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "a &lt;b&gt;"}}],
        )
        client.chat_postMessage(channel="C1", text="done :white_check_mark:")

    assert "#C1 · new" in printed[0]
    assert "a <b>" in printed[0]
    assert "✅" in printed[1]


def test_unknown_channel_and_wrong_token_answer_like_slack() -> None:
    with SlackStandIn(channels=["C1"]) as standin:
        with pytest.raises(SlackApiError) as missing:
            WebClient(token=TOKEN, base_url=standin.base_url).chat_postMessage(channel="C2", text="x")
        with pytest.raises(SlackApiError) as wrong:
            WebClient(token="xoxp-user-token", base_url=standin.base_url).auth_test()

    assert missing.value.response["error"] == "channel_not_found"
    assert wrong.value.response["error"] == "invalid_auth"


def test_queued_failures_answer_the_next_calls_then_stop(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url, retry_handlers=[])
    slack_standin.fail_next(count=2, status=500, error="internal_error")

    statuses = []
    for _ in range(2):
        with pytest.raises(SlackApiError) as failed:
            client.auth_test()
        statuses.append(failed.value.response.status_code)

    assert statuses == [500, 500]
    assert client.auth_test()["ok"] is True


def test_harness_reports_spec_and_block_kit_violations() -> None:
    """The negative test: requests Slack would refuse are caught, so a clean teardown means something."""
    with SlackStandIn() as standin:
        call(standin, "chat.update", json.dumps({"channel": "C1", "text": "no ts"}), json_body=True)
        call(
            standin,
            "chat.postMessage",
            json.dumps({"channel": "C1", "blocks": [{"type": "section"}]}),
            json_body=True,
        )
        WebClient(token=TOKEN, base_url=standin.base_url).chat_postMessage(
            channel="C1", text="ok", blocks=BLOCKS
        )

    problems = slack_violations(standin.requests())

    assert len(problems) == 2
    assert "chat.update" in problems[0]
    assert "'ts' is a required property" in problems[0]
    assert problems[1].startswith("request 2 POST /api/chat.postMessage: blocks/0")


def test_fixture_fails_the_test_at_teardown_on_a_violation(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["tests.fixtures.slack"]')
    pytester.makepyfile(
        """
        from tests.integrations.slack.test_standin import call

        def test_off_spec(slack_standin):
            call(slack_standin, "chat.update", '{"channel": "C1", "text": "no ts"}', json_body=True)
        """
    )

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*Slack contract violations*", "*'ts' is a required property*"])


def test_printer_shows_a_task_message_with_its_buttons_left_out() -> None:
    printed: list[str] = []
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Adding compute nodes*"}},
        task_actions_block("ehpc-hz-demo0001/T1"),
    ]
    with SlackStandIn(printer=printed.append) as standin:
        WebClient(token=TOKEN, base_url=standin.base_url).chat_postMessage(
            channel="C1", text="x", blocks=blocks
        )

    [message] = printed
    assert "Adding compute nodes" in message
    assert "Refresh" not in message
