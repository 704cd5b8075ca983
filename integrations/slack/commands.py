"""The ``/ehpc`` slash command as data: argument parsing and the answers' Block Kit, pure and HTTP-free.

:func:`parse_command` turns the text after ``/ehpc`` into one of the command types below (or
:class:`Unrecognized` with a reason, never an exception); the ``render_*`` functions build the answers.
Everything echoed back (what the user typed, reasons, names, API strings) goes through
:func:`~integrations.slack.render.escape`, so ``<!channel>`` in an argument pings nobody.

Interactive elements carry these ``action_id``\\ s (the Slack app dispatches on them):

==================  ==============================================  ===================================
action_id           button                                          ``value``
==================  ==============================================  ===================================
``ehpc_refresh``    "Refresh" on a task message                     task key ``<cluster_id>/<task_id>``
``ehpc_mute_1h``    "Mute cluster 1 h" on a task message            task key ``<cluster_id>/<task_id>``
``ehpc_share``      "Share in channel" on an ephemeral answer       the command text to answer again
``ehpc_more``       "More" under a page of tasks                    the command text of the next page
==================  ==============================================  ===================================
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from integrations.base import Transition
from integrations.ehpc.task import Task
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

__all__ = [
    "ACTION_MORE",
    "ACTION_MUTE_HOUR",
    "ACTION_REFRESH",
    "ACTION_SHARE",
    "MAX_MUTE",
    "PAGE_SIZE",
    "ClusterHealth",
    "ClustersQuery",
    "Command",
    "HelpQuery",
    "MuteCommand",
    "TaskQuery",
    "TaskRecord",
    "TasksQuery",
    "Unmute",
    "Unrecognized",
    "parse_command",
    "parse_duration",
    "parse_task_key",
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

ACTION_REFRESH = "ehpc_refresh"
ACTION_MUTE_HOUR = "ehpc_mute_1h"
ACTION_SHARE = "ehpc_share"
ACTION_MORE = "ehpc_more"

PAGE_SIZE = 20  # tasks per answer: one section each, well within Slack's 50 blocks
MAX_MUTE = timedelta(days=7)
MIN_MUTE = timedelta(minutes=1)
_MAX_ECHO = 200  # characters of user input echoed back in an error
_MAX_REASON = 500
_MAX_LIST = 40  # transitions listed in a mute summary before "…and N more"

# E-HPC TaskIds are upper-case UUIDs (B745C159-3155-4B94-95D0-4B73D4D2xxxx); any case is accepted.
_TASK_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$", re.IGNORECASE)
# Real ClusterIds look like ehpc-hz-FYUr32xxxx; the simulator and test setups name clusters freely, so
# the check is on the characters and the length (safe to echo and to put in a key), and the access policy
# then refuses any cluster that is not watched.
_CLUSTER_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")
_DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_OFFSET = re.compile(r"^\+(\d{1,5})$")


Block = dict[str, Any]


@dataclass(frozen=True)
class TaskQuery:
    """``/ehpc task <TaskId>``."""

    task_id: str


@dataclass(frozen=True)
class TasksQuery:
    """``/ehpc tasks <ClusterId> [all]``; ``offset`` is set by the "More" button (``+20``)."""

    cluster_id: str
    include_finished: bool = False
    offset: int = 0

    def text(self) -> str:
        """The command text that asks for this page again (the "Share" and "More" buttons carry it)."""
        parts = ["tasks", self.cluster_id, *(["all"] if self.include_finished else [])]
        if self.offset:
            parts.append(f"+{self.offset}")
        return " ".join(parts)


@dataclass(frozen=True)
class ClustersQuery:
    """``/ehpc clusters``."""


@dataclass(frozen=True)
class MuteCommand:
    """``/ehpc mute <ClusterId> <duration> [reason]``."""

    cluster_id: str
    duration: timedelta
    reason: str


@dataclass(frozen=True)
class Unmute:
    """``/ehpc unmute <ClusterId>``."""

    cluster_id: str


@dataclass(frozen=True)
class HelpQuery:
    """``/ehpc help`` or a bare ``/ehpc``."""


@dataclass(frozen=True)
class Unrecognized:
    """Anything else: what was typed and why it was not understood."""

    text: str
    problem: str


Command = TaskQuery | TasksQuery | ClustersQuery | MuteCommand | Unmute | HelpQuery | Unrecognized


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


def parse_command(text: str) -> Command:
    """Understand the text after ``/ehpc``; never raises."""
    words = text.split()
    if not words:
        return HelpQuery()
    verb, args = words[0].lower(), words[1:]
    if verb == "help":
        return HelpQuery()
    if verb == "clusters":
        return ClustersQuery() if not args else _unexpected(text, args)
    if verb == "task":
        return _parse_task(text, args)
    if verb == "tasks":
        return _parse_tasks(text, args)
    if verb == "mute":
        return _parse_mute(text, args)
    if verb == "unmute":
        if len(args) != 1:
            return Unrecognized(text, "`unmute` takes one ClusterId: `/ehpc unmute <ClusterId>`")
        return Unmute(args[0]) if _CLUSTER_ID.match(args[0]) else _bad_cluster(text, args[0])
    return Unrecognized(text, f"there is no `{_echo(words[0])}` subcommand")


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``2h``, ``1d``, ``1w`` → a duration between a minute and a week; None when it is not one."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        return None
    duration = int(match.group(1)) * _UNIT[match.group(2)]
    return duration if MIN_MUTE <= duration <= MAX_MUTE else None


def parse_task_key(value: str) -> tuple[str, str] | None:
    """Split a task key ``<cluster_id>/<task_id>`` from a button, validating both halves."""
    cluster_id, slash, task_id = value.partition("/")
    if not slash or not _CLUSTER_ID.match(cluster_id) or not _TASK_ID.match(task_id):
        return None
    return cluster_id, task_id.upper()


def task_actions_block(task_key: str) -> Block:
    """The "Refresh" and "Mute cluster 1 h" buttons of a task message (``task_key``: ``<cluster>/<task>``)."""
    return {
        "type": "actions",
        "block_id": "ehpc_task_actions",
        "elements": [
            _button("Refresh", ACTION_REFRESH, task_key),
            _button("Mute cluster 1 h", ACTION_MUTE_HOUR, task_key),
        ],
    }


def render_help() -> SlackMessage:
    """What ``/ehpc`` can do."""
    lines = [
        "*`/ehpc` — E-HPC tasks from Slack*",
        "• `/ehpc task <TaskId>` — one task's card: status, progress, timings, nodes, errors",
        "• `/ehpc tasks <ClusterId> [all]` — tasks running on a cluster (with `all`: recent history too)",
        "• `/ehpc clusters` — the watched clusters, their last poll and health",
        "• `/ehpc mute <ClusterId> <duration> [reason]` — pause a cluster's notifications "
        "(`30m`, `2h`, `1d`; at most `7d`); what happens meanwhile is summarized when the mute ends",
        "• `/ehpc unmute <ClusterId>` — end a mute now",
        "Answers are visible only to you until you press *Share in channel*.",
    ]
    return _message("\n".join(lines))


def render_unrecognized(command: Unrecognized) -> SlackMessage:
    """A polite "didn't understand" that echoes the input (escaped) and points at help."""
    typed = f"`/ehpc {_echo(command.text)}`" if command.text.strip() else "`/ehpc`"
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
        f":mag: No task `{_echo(task_id)}` on the {searched} cluster{'s' if searched != 1 else ''} "
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
        elements.append(_button("More", ACTION_MORE, following.text()))
    if share:
        elements.append(_button("Share in channel", ACTION_SHARE, query.text()))
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
    why = f" Reason: {_echo(reason, _MAX_REASON)}" if reason else ""
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


def _parse_task(text: str, args: list[str]) -> Command:
    if len(args) != 1:
        return Unrecognized(text, "`task` takes one TaskId: `/ehpc task <TaskId>`")
    if not _TASK_ID.match(args[0]):
        return Unrecognized(text, f"`{_echo(args[0])}` is not a TaskId (they look like `B745C159-3155-…`)")
    return TaskQuery(args[0].upper())


def _parse_tasks(text: str, args: list[str]) -> Command:
    if not args:
        return Unrecognized(text, "`tasks` needs a ClusterId: `/ehpc tasks <ClusterId> [all]`")
    rest = [arg.lower() for arg in args[1:]]
    include_finished = "all" in rest
    offsets = [match for arg in rest if (match := _OFFSET.match(arg))]
    if len(rest) != include_finished + len(offsets) or len(offsets) > 1:
        return _unexpected(text, args[1:])
    if not _CLUSTER_ID.match(args[0]):
        return _bad_cluster(text, args[0])
    offset = int(offsets[0].group(1)) if offsets else 0
    return TasksQuery(args[0], include_finished, offset)


def _parse_mute(text: str, args: list[str]) -> Command:
    if len(args) < 2:
        return Unrecognized(
            text, "`mute` needs a ClusterId and a duration: `/ehpc mute <ClusterId> 2h [reason]`"
        )
    if not _CLUSTER_ID.match(args[0]):
        return _bad_cluster(text, args[0])
    duration = parse_duration(args[1])
    if duration is None:
        return Unrecognized(
            text, f"`{_echo(args[1])}` is not a duration between `1m` and `7d` (say `30m`, `2h` or `1d`)"
        )
    reason = " ".join(args[2:])[:_MAX_REASON]
    return MuteCommand(args[0], duration, reason)


def _bad_cluster(text: str, value: str) -> Unrecognized:
    return Unrecognized(text, f"`{_echo(value)}` is not a ClusterId (they look like `ehpc-hz-FYUr32…`)")


def _unexpected(text: str, args: Sequence[str]) -> Unrecognized:
    return Unrecognized(text, f"unexpected `{_echo(' '.join(args))}`")


def _echo(text: str, limit: int = _MAX_ECHO) -> str:
    """User input made safe to show: clipped, escaped, and without backticks that would end code spans."""
    return escape(clip(text.replace("`", "'"), limit))


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
    seconds = max(int(delta.total_seconds()), 0)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _message(text: str) -> SlackMessage:
    return SlackMessage(text=clip(text, MAX_TEXT), blocks=(section(text),))


def _share_block(command_text: str) -> Block:
    return {
        "type": "actions",
        "block_id": "ehpc_share",
        "elements": [_button("Share in channel", ACTION_SHARE, command_text)],
    }


def _button(label: str, action_id: str, value: str) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
