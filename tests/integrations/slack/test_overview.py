"""The status board, history, failures and Home views stay within Slack's limits and escape API text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from integrations.base import TransitionKind
from integrations.slack.commands import ACTION_RETRY, HistoryQuery, parse_command
from integrations.slack.overview import (
    MAX_HOME_BLOCKS,
    ClusterStatus,
    FailureEntry,
    HistoryEntry,
    render_failures,
    render_history,
    render_home,
    render_status,
)
from integrations.slack.render import MAX_BLOCKS, MAX_TEXT
from tests.fixtures.slack import block_kit_violations, home_view_violations, make_task, make_transition

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> *bold* <https://evil.example|click> & more " * 80


def _cluster(index: int, *, error: str | None = None) -> ClusterStatus:
    return ClusterStatus(
        cluster_id=f"ehpc-hz-c{index:04d}",
        name=f"cluster {index} {HOSTILE[:60]}",
        last_ok=NOW - timedelta(seconds=10),
        last_error=error,
        error_at=NOW if error else None,
        running=[make_task(task_id=f"t-{index}-{n}", stage=HOSTILE[:50]) for n in range(5)],
        muted_until=None,
        stale_after=timedelta(seconds=90),
    )


def _texts(blocks: list[dict[str, object]]) -> list[str]:
    return [json.dumps(block) for block in blocks]


def test_a_big_fleet_fits_a_message_and_a_home_view() -> None:
    clusters = [_cluster(index, error=HOSTILE if index % 7 == 0 else None) for index in range(300)]

    message = render_status(clusters=clusters, now=NOW, share="status")
    home = render_home(clusters=clusters, hidden=4, now=NOW)

    assert len(message.blocks) <= MAX_BLOCKS
    assert block_kit_violations(message.block_list()) == []
    assert len(home["blocks"]) <= MAX_HOME_BLOCKS
    assert home_view_violations(home) == []
    assert "…and" in json.dumps(message.blocks, ensure_ascii=False)
    for block in [*message.blocks, *home["blocks"]]:
        text = json.dumps(block)
        assert "<!channel>" not in text
        assert "<https://evil" not in text


def test_a_long_history_is_chunked_and_escaped() -> None:
    entries = [
        HistoryEntry(
            task=make_task(task_id=f"t-{n}", raw_task_type=HOSTILE[:40], status=make_task().status),
            first_seen=NOW - timedelta(hours=2),
            finished_at=NOW - timedelta(minutes=n),
            link=f"https://team.slack.com/archives/C0ABCDEFG/p{n}",
        )
        for n in range(100)
    ]
    message = render_history(
        cluster_id="ehpc-hz-c1", cluster_name=HOSTILE, entries=entries, what="newest 100", now=NOW, share="h"
    )
    assert len(message.blocks) <= MAX_BLOCKS
    assert all(
        len(json.loads(text).get("text", {}).get("text", "")) <= MAX_TEXT
        for text in _texts(list(message.blocks))
    )
    assert block_kit_violations(message.block_list()) == []
    assert "<!channel>" not in json.dumps(message.blocks)


def test_many_failures_each_get_a_retry_button_within_the_limit() -> None:
    entries = [
        FailureEntry(
            letter_id=f"id{n:04d}",
            destination="slack",
            at=NOW,
            error=HOSTILE,
            transition=make_transition(TransitionKind.FINISHED, sequence=n + 1),
        )
        for n in range(60)
    ]
    message = render_failures(entries=entries, total=60, retry_action=ACTION_RETRY)
    assert len(message.blocks) <= MAX_BLOCKS
    assert block_kit_violations(message.block_list()) == []
    assert "…and 36 more" in json.dumps(message.blocks, ensure_ascii=False)
    assert "<!channel>" not in json.dumps(message.blocks)


def test_history_takes_a_count_or_a_window() -> None:
    assert parse_command("history c1") == HistoryQuery("c1")
    assert parse_command("history c1 25") == HistoryQuery("c1", count=25)
    assert parse_command("history c1 24h") == HistoryQuery("c1", count=100, within=timedelta(hours=24))
    assert parse_command("history c1 24h").text() == "history c1 1d"  # type: ignore[union-attr]
    assert parse_command("history c1 1d") == parse_command("history c1 24h")
    for bad in (
        "history",
        "history c1 0",
        "history c1 101",
        "history c1 8d",
        "history c1 30m",
        "history c1 2 3",
    ):
        assert type(parse_command(bad)).__name__ == "Unrecognized", bad
