"""The ``/ehpc`` slash command's grammar: the text after ``/ehpc`` (or a button's value) as data, HTTP-free.

:func:`parse_command` turns the text after ``/ehpc`` into one of the command types below (or
:class:`Unrecognized` with a reason, never an exception); :mod:`integrations.slack.answers` renders the
answers.
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
``ehpc_retry``      "Retry" on a dead letter (``/ehpc failures``)   the dead letter's id
==================  ==============================================  ===================================
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from integrations.slack.render import (
    clip,
    escape,
)

__all__ = [
    "ACTION_MORE",
    "ACTION_MUTE_HOUR",
    "ACTION_REFRESH",
    "ACTION_RETRY",
    "ACTION_SHARE",
    "MAX_MUTE",
    "MAX_REASON",
    "MIN_MUTE",
    "PAGE_SIZE",
    "ClustersQuery",
    "Command",
    "FailuresQuery",
    "HelpQuery",
    "HistoryQuery",
    "MuteCommand",
    "StatusQuery",
    "TaskQuery",
    "TasksQuery",
    "Unmute",
    "Unrecognized",
    "echoed",
    "parse_command",
    "parse_duration",
    "parse_task_key",
]

ACTION_REFRESH = "ehpc_refresh"
ACTION_MUTE_HOUR = "ehpc_mute_1h"
ACTION_SHARE = "ehpc_share"
ACTION_MORE = "ehpc_more"
ACTION_RETRY = "ehpc_retry"
PAGE_SIZE = 20  # tasks per answer: one section each, well within Slack's 50 blocks
HISTORY_DEFAULT = 10  # finished tasks ``/ehpc history`` shows unless told
HISTORY_MAX = 100  # at most, by count or within a window
HISTORY_WINDOW_MAX = timedelta(days=7)
MAX_MUTE = timedelta(days=7)
MIN_MUTE = timedelta(minutes=1)
_MAX_ECHO = 200  # characters of user input echoed back in an error
MAX_REASON = 500
# E-HPC TaskIds are upper-case UUIDs (B745C159-3155-4B94-95D0-4B73D4D2xxxx); any case is accepted.
_TASK_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$", re.IGNORECASE)
# Real ClusterIds look like ehpc-hz-FYUr32xxxx; the simulator and test setups name clusters freely, so
# the check is on the characters and the length (safe to echo and to put in a key), and the access policy
# then refuses any cluster that is not watched.
_CLUSTER_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")
_DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_OFFSET = re.compile(r"^\+(\d{1,5})$")
_WINDOW = re.compile(r"^(\d{1,3})([hd])$")


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


@dataclass(frozen=True)
class StatusQuery:
    """``/ehpc status``: every cluster the channel may see, one line each."""


@dataclass(frozen=True)
class HistoryQuery:
    """``/ehpc history <ClusterId> [N|24h]``: the newest ``count`` finished tasks, or those of ``within``."""

    cluster_id: str
    count: int = HISTORY_DEFAULT
    within: timedelta | None = None

    def text(self) -> str:
        """The command text that asks this again (the "Share" button carries it)."""
        if self.within is not None:
            hours = int(self.within.total_seconds() // 3600)
            return (
                f"history {self.cluster_id} {hours // 24}d"
                if hours % 24 == 0
                else f"history {self.cluster_id} {hours}h"
            )
        return f"history {self.cluster_id} {self.count}"


@dataclass(frozen=True)
class FailuresQuery:
    """``/ehpc failures``: what the bridge gave up on (dead letters), for those who may mute."""


Command = (
    TaskQuery
    | TasksQuery
    | ClustersQuery
    | StatusQuery
    | HistoryQuery
    | FailuresQuery
    | MuteCommand
    | Unmute
    | HelpQuery
    | Unrecognized
)


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
    if verb == "status":
        return StatusQuery() if not args else _unexpected(text, args)
    if verb == "failures":
        return FailuresQuery() if not args else _unexpected(text, args)
    if verb == "history":
        return _parse_history(text, args)
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
    return Unrecognized(text, f"there is no `{echoed(words[0])}` subcommand")


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


def _parse_task(text: str, args: list[str]) -> Command:
    if len(args) != 1:
        return Unrecognized(text, "`task` takes one TaskId: `/ehpc task <TaskId>`")
    if not _TASK_ID.match(args[0]):
        return Unrecognized(text, f"`{echoed(args[0])}` is not a TaskId (they look like `B745C159-3155-…`)")
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


def _parse_history(text: str, args: list[str]) -> Command:
    usage = "`/ehpc history <ClusterId> [N|24h]`"
    if not 1 <= len(args) <= 2:
        return Unrecognized(text, f"`history` takes a ClusterId and optionally a count or a window: {usage}")
    if not _CLUSTER_ID.match(args[0]):
        return _bad_cluster(text, args[0])
    if len(args) == 1:
        return HistoryQuery(args[0])
    amount = args[1].lower()
    if amount.isdigit() and 1 <= int(amount) <= HISTORY_MAX:
        return HistoryQuery(args[0], count=int(amount))
    window = _WINDOW.match(amount)
    if window is not None:
        within = int(window.group(1)) * _UNIT[window.group(2)]
        if timedelta(hours=1) <= within <= HISTORY_WINDOW_MAX:
            return HistoryQuery(args[0], count=HISTORY_MAX, within=within)
    return Unrecognized(
        text,
        f"`{echoed(args[1])}` is neither a count from 1 to {HISTORY_MAX} "
        f"nor a window from `1h` to `7d`: {usage}",
    )


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
            text, f"`{echoed(args[1])}` is not a duration between `1m` and `7d` (say `30m`, `2h` or `1d`)"
        )
    reason = " ".join(args[2:])[:MAX_REASON]
    return MuteCommand(args[0], duration, reason)


def _bad_cluster(text: str, value: str) -> Unrecognized:
    return Unrecognized(text, f"`{echoed(value)}` is not a ClusterId (they look like `ehpc-hz-FYUr32…`)")


def _unexpected(text: str, args: Sequence[str]) -> Unrecognized:
    return Unrecognized(text, f"unexpected `{echoed(' '.join(args))}`")


def echoed(text: str, limit: int = _MAX_ECHO) -> str:
    """User input made safe to show: clipped, escaped, and without backticks that would end code spans."""
    return escape(clip(text.replace("`", "'"), limit))
