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


def test_history_pages_by_cursor_newest_first_until_next_cursor_is_empty(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    posted = [client.chat_postMessage(channel="C1", text=f"m{n}")["ts"] for n in range(5)]

    pages = []
    cursor = None
    while True:
        page = client.conversations_history(channel="C1", limit=2, cursor=cursor, oldest=posted[0])
        pages.append([m["text"] for m in page["messages"]])
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] is bool(cursor)
        if not cursor:
            break

    assert pages == [["m4", "m3"], ["m2", "m1"]]  # oldest is exclusive: m0 is not included


def test_history_window_is_exclusive_unless_inclusive(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    first, middle, last = (client.chat_postMessage(channel="C1", text=t)["ts"] for t in ("a", "b", "c"))

    exclusive = client.conversations_history(channel="C1", oldest=first, latest=last)["messages"]
    inclusive = client.conversations_history(channel="C1", oldest=first, latest=last, inclusive=True)

    assert [m["ts"] for m in exclusive] == [middle]
    assert [m["text"] for m in inclusive["messages"]] == ["c", "b", "a"]


def test_slack_sdk_iterates_history_pages_by_itself(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    for n in range(7):
        client.chat_postMessage(channel="C1", text=f"m{n}")

    texts = [
        m["text"] for page in client.conversations_history(channel="C1", limit=3) for m in page["messages"]
    ]

    assert texts == [f"m{n}" for n in reversed(range(7))]


def test_replies_page_by_cursor_with_the_parent_first_on_each_page(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    parent = client.chat_postMessage(channel="C1", text="parent")["ts"]
    for n in range(3):
        client.chat_postMessage(channel="C1", text=f"r{n}", thread_ts=parent)

    first = client.conversations_replies(channel="C1", ts=parent, limit=2)
    second = client.conversations_replies(
        channel="C1", ts=parent, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )

    assert [m["text"] for m in first["messages"]] == ["parent", "r0", "r1"]
    assert [m["text"] for m in second["messages"]] == ["parent", "r2"]
    assert second["response_metadata"]["next_cursor"] == ""


@pytest.mark.parametrize(
    ("error", "extra"),
    [
        ("not_in_channel", {}),
        (
            "missing_scope",
            {"needed": "channels:history,groups:history", "provided": "chat:write,chat:write.public"},
        ),
    ],
)
def test_refused_history_answers_like_slack_and_posting_still_works(
    slack_standin: SlackStandIn, error: str, extra: dict[str, str]
) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    slack_standin.refuse_history(error=error)
    parent = client.chat_postMessage(channel="C1", text="still posts")["ts"]

    refused = []
    for read in (
        lambda: client.conversations_history(channel="C1"),
        lambda: client.conversations_replies(channel="C1", ts=parent),
    ):
        with pytest.raises(SlackApiError) as failed:
            read()
        refused.append(failed.value.response.data)

    assert refused == [{"ok": False, "error": error, **extra}] * 2
    slack_standin.allow_history()
    assert client.conversations_history(channel="C1")["messages"][0]["ts"] == parent


def test_429_carries_retry_after_and_stores_nothing(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url, retry_handlers=[])
    slack_standin.fail_next(method="chat.postMessage", retry_after=7)

    client.auth_test()  # another method is not affected
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C1", text="x")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert slack_standin.messages("C1") == []


def test_a_late_answer_comes_after_the_client_timeout_but_the_message_is_stored(
    slack_standin: SlackStandIn,
) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url, timeout=1, retry_handlers=[])
    slack_standin.answer_late()

    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel="C1", text="stored anyway")

    assert [m.text for m in slack_standin.messages("C1")] == ["stored anyway"]
    assert client.chat_postMessage(channel="C1", text="next")["ok"] is True  # only one call was late


@pytest.mark.parametrize("stored", [True, False])
def test_a_reset_after_the_request_was_read_stores_it_or_not(
    slack_standin: SlackStandIn, stored: bool
) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url, retry_handlers=[])
    slack_standin.reset_after_read(stored=stored)

    with pytest.raises(ConnectionError):
        client.chat_postMessage(channel="C1", text="maybe")

    assert len(slack_standin.messages("C1")) == (1 if stored else 0)


def test_on_stored_runs_before_the_answer_is_sent(slack_standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack_standin.base_url)
    seen: list[tuple[str, int]] = []
    slack_standin.on_stored(lambda message: seen.append((message.text, len(slack_standin.requests()))))

    client.chat_postMessage(channel="C1", text="hooked")

    assert seen == [("hooked", 1)]
