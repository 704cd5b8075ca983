"""The /ehpc grammar: every subcommand parsed, bad input turned into a reason, never an exception."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integrations.slack.answers import (
    render_unrecognized,
)
from integrations.slack.commands import (
    ClustersQuery,
    HelpQuery,
    MuteCommand,
    TaskQuery,
    TasksQuery,
    Unmute,
    Unrecognized,
    parse_command,
    parse_duration,
    parse_task_key,
)
from integrations.slack.render import SlackMessage
from tests.fixtures.slack import valid_message_text

TASK_ID = "B745C159-3155-4B94-95D0-4B73D4D2A1B2"


CLUSTER = "ehpc-hz-FYUr32abcd"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", HelpQuery()),
        ("help", HelpQuery()),
        ("  HELP  ", HelpQuery()),
        ("clusters", ClustersQuery()),
        (f"task {TASK_ID}", TaskQuery(TASK_ID)),
        (f"task {TASK_ID.lower()}", TaskQuery(TASK_ID)),
        (f"tasks {CLUSTER}", TasksQuery(CLUSTER)),
        (f"tasks {CLUSTER} all", TasksQuery(CLUSTER, include_finished=True)),
        (f"tasks {CLUSTER} all +20", TasksQuery(CLUSTER, include_finished=True, offset=20)),
        (f"mute {CLUSTER} 30m", MuteCommand(CLUSTER, timedelta(minutes=30), "")),
        (f"mute {CLUSTER} 2h node upgrade", MuteCommand(CLUSTER, timedelta(hours=2), "node upgrade")),
        (f"unmute {CLUSTER}", Unmute(CLUSTER)),
    ],
)
def test_commands_are_understood(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frobnicate", "no `frobnicate` subcommand"),
        ("task", "takes one TaskId"),
        ("task not-a-task-id", "is not a TaskId"),
        (f"task {TASK_ID} extra", "takes one TaskId"),
        ("tasks", "needs a ClusterId"),
        ("tasks ehpc/../x", "is not a ClusterId"),
        (f"tasks {CLUSTER} everything", "unexpected `everything`"),
        (f"mute {CLUSTER}", "needs a ClusterId and a duration"),
        (f"mute {CLUSTER} forever", "is not a duration"),
        (f"mute {CLUSTER} 8d", "is not a duration"),
        ("unmute", "takes one ClusterId"),
        ("clusters now", "unexpected `now`"),
    ],
)
def test_anything_else_gets_a_reason(text: str, problem: str) -> None:
    command = parse_command(text)
    assert isinstance(command, Unrecognized)
    assert problem in command.problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("7d", timedelta(days=7)),
        ("0m", None),
        ("8d", None),
        ("2 h", None),
        ("1h30m", None),
        ("-1h", None),
        ("h", None),
    ],
)
def test_durations_from_a_minute_to_a_week(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


def test_task_keys_from_buttons_are_validated() -> None:
    assert parse_task_key(f"{CLUSTER}/{TASK_ID}") == (CLUSTER, TASK_ID)
    assert parse_task_key(f"{CLUSTER}/not-a-task") is None
    assert parse_task_key(TASK_ID) is None
    assert parse_task_key(f"<!channel>/{TASK_ID}") is None


def _unrecognized(text: str) -> SlackMessage:
    command = parse_command(text)
    assert isinstance(command, Unrecognized)
    return render_unrecognized(command)


def test_echoed_input_is_escaped_and_cannot_ping() -> None:
    message = _unrecognized("<!channel> & <@U123|x> `code`")
    text = valid_message_text(message)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123|x&gt;" in text


def test_a_long_input_is_clipped_when_echoed() -> None:
    message = _unrecognized("x" * 5000)
    assert len(message.blocks[0]["text"]["text"]) < 600
    valid_message_text(message)
