"""The answers of ``/ehpc`` in Block Kit: task cards, task pages, cluster health, mute notices, help.

Pure functions (no HTTP), tested by reading what they return. Everything echoed back goes through
:func:`~integrations.slack.render.escape`. The grammar they answer is :mod:`integrations.slack.commands`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from integrations.base import Transition
from integrations.ehpc.task import Task
from integrations.slack.commands import (
    ACTION_MORE,
    ACTION_MUTE_HOUR,
    ACTION_REFRESH,
    ACTION_SHARE,
    MAX_REASON,
    TasksQuery,
    Unrecognized,
    echoed,
)
from integrations.slack.render import (
    MAX_BLOCKS,
    MAX_TEXT,
    STATUS_EMOJI,
    SlackMessage,
    chunk_lines,
    clip,
    context,
    escape,
    progress_bar,
    render_final_reply,
    render_task_message,
    section,
)
from integrations.text import duration

__all__ = [
    "Block",
    "ClusterHealth",
    "TaskRecord",
    "button",
    "render_clusters",
    "render_help",
    "render_mute_summary",
    "render_muted",
    "render_notice",
    "render_task_card",
    "render_task_not_found",
    "render_tasks_page",
    "render_unmuted",
    "render_unrecognized",
    "task_actions_block",
]

_MAX_LIST = 40  # transitions listed in a mute summary before "…and N more"
Block = dict[str, Any]


@dataclass(frozen=True)
class TaskRecord:
    """A task as ehpc-bridge knows it: its latest snapshot and when it was first and last seen."""

    task: Task
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class ClusterHealth:
    """One watched cluster for ``/ehpc clusters``."""

    cluster_id: str
    name: str
    last_poll: datetime | None
    last_error: str | None
    running: int
    muted_until: datetime | None


def task_actions_block(task_key: str) -> Block:
    """The "Refresh" and "Mute cluster 1 h" buttons of a task message (``task_key``: ``<cluster>/<task>``)."""
    return {
        "type": "actions",
        "block_id": "ehpc_task_actions",
        "elements": [
            button("Refresh", ACTION_REFRESH, task_key),
            button("Mute cluster 1 h", ACTION_MUTE_HOUR, task_key),
        ],
    }


def render_help() -> SlackMessage:
    """What ``/ehpc`` can do."""
    lines = [
        "*`/ehpc` — E-HPC tasks from Slack*",
        "• `/ehpc task <TaskId>` — one task's card: status, progress, timings, nodes, errors",
        "• `/ehpc tasks <ClusterId> [all]` — tasks running on a cluster (with `all`: recent history too)",
        "• `/ehpc clusters` — the watched clusters, their last poll and health",
        "• `/ehpc status` — every cluster this channel sees: polls, errors, running tasks, mutes",
        "• `/ehpc history <ClusterId> [N|24h]` — recently finished tasks, with links to their messages",
        "• `/ehpc failures` — what ehpc-bridge gave up delivering, with *Retry* (for those who may mute)",
        "• `/ehpc mute <ClusterId> <duration> [reason]` — pause a cluster's notifications "
        "(`30m`, `2h`, `1d`; at most `7d`); what happens meanwhile is summarized when the mute ends",
        "• `/ehpc unmute <ClusterId>` — end a mute now",
        "Answers are visible only to you until you press *Share in channel*.",
    ]
    return _message("\n".join(lines))


def render_unrecognized(command: Unrecognized) -> SlackMessage:
    """A polite "didn't understand" that echoes the input (escaped) and points at help."""
    typed = f"`/ehpc {echoed(command.text)}`" if command.text.strip() else "`/ehpc`"
    line = f":thinking_face: I didn't understand {typed}: {command.problem}.\nTry `/ehpc help`."
    return _message(line)


def render_notice(text: str) -> SlackMessage:
    """A one-line answer (refusals, unknown clusters, failures); ``text`` is mrkdwn the caller escaped."""
    return _message(text)


def render_task_card(
    *, record: TaskRecord, cluster_name: str, now: datetime, share: str | None, live: bool
) -> SlackMessage:
    """A task's card: the parent message's view, its details when finished, and the task buttons."""
    task = record.task
    head = render_task_message(task=task, cluster_name=cluster_name, first_seen=record.first_seen, now=now)
    blocks = list(head.blocks)
    if task.status.is_final:
        blocks.extend(render_final_reply(task=task, cluster_name=cluster_name).blocks[1:])
    source = "live from E-HPC" if live else f"as last polled at {record.last_seen:%Y-%m-%d %H:%M:%S} UTC"
    blocks.append(context(f"Answer {source}"))
    blocks.append(task_actions_block(f"{task.cluster_id}/{task.task_id}"))
    if share is not None:
        blocks.append(_share_block(share))
    return SlackMessage(text=head.text, blocks=tuple(blocks[:MAX_BLOCKS]))


def render_task_not_found(*, task_id: str, searched: int) -> SlackMessage:
    """The answer for a TaskId no cluster visible from the channel knows."""
    line = (
        f":mag: No task `{echoed(task_id)}` on the {searched} cluster{'s' if searched != 1 else ''} "
        "this channel can see (neither in ehpc-bridge's records nor live from E-HPC)."
    )
    return _message(line)


def render_tasks_page(
    *,
    query: TasksQuery,
    cluster_name: str,
    records: Sequence[TaskRecord],
    total: int,
    now: datetime,
    share: bool,
) -> SlackMessage:
    """One page of a cluster's tasks, newest first, with a "More" button when more remain."""
    what = "recent tasks" if query.include_finished else "running tasks"
    title = f"*{escape(cluster_name)}* (`{escape(query.cluster_id)}`): {total} {what}"
    if total > len(records):
        title += f", {query.offset + 1}–{query.offset + len(records)} shown"
    blocks: list[Block] = [section(title)]
    if not records:
        blocks.append(section("Nothing is running." if not query.include_finished else "No tasks recorded."))
    blocks.extend(section(_task_line(record, now=now)) for record in records)
    elements: list[Block] = []
    if query.offset + len(records) < total:
        following = TasksQuery(query.cluster_id, query.include_finished, query.offset + len(records))
        elements.append(button("More", ACTION_MORE, following.text()))
    if share:
        elements.append(button("Share in channel", ACTION_SHARE, query.text()))
    if elements:
        blocks.append({"type": "actions", "block_id": "ehpc_page_actions", "elements": elements})
    text = f"{cluster_name} ({query.cluster_id}): {total} {what}"
    return SlackMessage(text=escape(text), blocks=tuple(blocks))


def render_clusters(*, clusters: Sequence[ClusterHealth], now: datetime, share: bool) -> SlackMessage:
    """The watched clusters visible from the channel, with their last poll and health."""
    if not clusters:
        return _message("No watched cluster belongs to this channel.")
    blocks: list[Block] = [section(f"*{len(clusters)} watched cluster{'s' if len(clusters) != 1 else ''}*")]
    for cluster in clusters[: MAX_BLOCKS - 3]:
        blocks.append(section(_cluster_line(cluster, now=now)))
    if len(clusters) > MAX_BLOCKS - 3:
        blocks.append(context(f"…and {len(clusters) - (MAX_BLOCKS - 3)} more"))
    if share:
        blocks.append(_share_block("clusters"))
    return SlackMessage(text=f"{len(clusters)} watched clusters", blocks=tuple(blocks))


def render_muted(*, cluster_name: str, until: datetime, reason: str, user_id: str) -> SlackMessage:
    """The announcement, in the cluster's channel, that its notifications are paused."""
    why = f" Reason: {echoed(reason, MAX_REASON)}" if reason else ""
    line = (
        f":mute: <@{escape(user_id)}> muted *{escape(cluster_name)}* until {until:%Y-%m-%d %H:%M} UTC."
        f"{why}\nTransitions are still recorded; a summary follows when the mute ends."
    )
    return _message(line)


def render_unmuted(*, cluster_name: str, user_id: str) -> SlackMessage:
    """The acknowledgement of ``/ehpc unmute`` (the summary itself is a separate message)."""
    return _message(f":loud_sound: <@{escape(user_id)}> unmuted *{escape(cluster_name)}*.")


def render_mute_summary(
    *,
    cluster_name: str,
    started_at: datetime,
    ended_at: datetime,
    transitions: Sequence[Transition],
    untracked: int = 0,
) -> SlackMessage:
    """What happened on a cluster while it was muted: counts, then each task's latest state.

    ``untracked``: changes held back beyond what a mute keeps, counted in the header but not listed.
    """
    latest: dict[str, Transition] = {}
    for transition in transitions:
        latest[transition.task_key] = transition
    head = (
        f":loud_sound: *{escape(cluster_name)}* is no longer muted "
        f"({started_at:%Y-%m-%d %H:%M} – {ended_at:%H:%M} UTC). "
    )
    if not transitions and not untracked:
        return _message(head + "Nothing happened meanwhile.")
    changes = len(transitions) + untracked
    head += f"Meanwhile {changes} change{'s' if changes != 1 else ''} on {len(latest)} tasks"
    head += f" ({untracked} more changes not kept):" if untracked else ":"
    lines = [_summary_line(transition) for transition in latest.values()]
    if len(lines) > _MAX_LIST:
        lines = [*lines[:_MAX_LIST], f"…and {len(lines) - _MAX_LIST} more"]
    blocks = [section(head), *(section("\n".join(chunk)) for chunk in chunk_lines(lines, MAX_TEXT))]
    return SlackMessage(
        text=clip(escape(f"{cluster_name} is no longer muted"), MAX_TEXT), blocks=tuple(blocks)
    )


def _task_line(record: TaskRecord, *, now: datetime) -> str:
    task = record.task
    return (
        f"{STATUS_EMOJI[task.status]} *{escape(task.label)}* · {escape(progress_bar(task))} · "
        f"started {_ago(now - record.first_seen)} ago\n`{escape(task.task_id)}`"
    )


def _cluster_line(cluster: ClusterHealth, *, now: datetime) -> str:
    polled = f"polled {_ago(now - cluster.last_poll)} ago" if cluster.last_poll else "not polled yet"
    health = (
        f":red_circle: last error: {escape(clip(cluster.last_error, 500))}"
        if cluster.last_error
        else ":large_green_circle: healthy"
    )
    muted = f" · :mute: muted until {cluster.muted_until:%H:%M} UTC" if cluster.muted_until else ""
    return (
        f"*{escape(cluster.name)}* (`{escape(cluster.cluster_id)}`) · {polled} · "
        f"{cluster.running} running{muted}\n{health}"
    )


def _summary_line(transition: Transition) -> str:
    task = transition.task
    return (
        f"{STATUS_EMOJI[task.status]} {escape(task.label)} · {escape(transition.kind.value)} · "
        f"`{escape(task.task_id)}`"
    )


def _ago(delta: timedelta) -> str:
    return duration(delta, parts=1, days=True)


def _message(text: str) -> SlackMessage:
    return SlackMessage(text=clip(text, MAX_TEXT), blocks=(section(text),))


def _share_block(command_text: str) -> Block:
    return {
        "type": "actions",
        "block_id": "ehpc_share",
        "elements": [button("Share in channel", ACTION_SHARE, command_text)],
    }


def button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    """A Block Kit button (``style``: ``primary`` or ``danger``)."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
        **({"style": style} if style is not None else {}),
    }
