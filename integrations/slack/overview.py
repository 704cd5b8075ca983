"""Answers to "what is going on?": ``/ehpc status``, ``history``, ``failures`` and the App Home, pure.

Each ``render_*`` takes what Redis already knows (the Slack app gathers it) and builds Block Kit within
Slack's limits: a message has at most 50 blocks and 3,000 characters per text, a Home view 100 blocks.
Everything that came from the API or from people (names, errors, stage names) is escaped.

Health, by colour: :red_circle: the latest poll failed; :large_yellow_circle: no successful poll for
longer than three poll intervals (or none yet); :large_green_circle: polled recently and healthy. A muted
cluster says so on its line whatever its colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from integrations.base import Transition
from integrations.ehpc.task import Task
from integrations.slack.answers import button
from integrations.slack.commands import ACTION_SHARE
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
    section,
)
from integrations.text import duration

__all__ = [
    "MAX_HOME_BLOCKS",
    "ClusterStatus",
    "FailureEntry",
    "Health",
    "HistoryEntry",
    "render_failures",
    "render_history",
    "render_home",
    "render_status",
]

MAX_HOME_BLOCKS = 100
_RUNNING_SHOWN = 3  # running tasks named on a status line before "+N more"
_MAX_ERROR = 300
_HEALTH_EMOJI = {
    "healthy": ":large_green_circle:",
    "stale": ":large_yellow_circle:",
    "failing": ":red_circle:",
}

Block = dict[str, Any]


class Health(StrEnum):
    """A cluster's colour on the status board."""

    HEALTHY = "healthy"
    STALE = "stale"
    FAILING = "failing"


@dataclass(frozen=True)
class ClusterStatus:
    """One cluster on the status board, from Redis: polls, the last error, running tasks, the mute."""

    cluster_id: str
    name: str
    last_ok: datetime | None  # the last successful poll
    last_error: str | None  # set while the latest poll failed
    error_at: datetime | None
    running: Sequence[Task]
    muted_until: datetime | None
    stale_after: timedelta

    def health(self, now: datetime) -> Health:
        """Failing while the latest poll failed; stale without a recent successful poll; else healthy."""
        if self.last_error:
            return Health.FAILING
        if self.last_ok is None or now - self.last_ok > self.stale_after:
            return Health.STALE
        return Health.HEALTHY


@dataclass(frozen=True)
class HistoryEntry:
    """A finished task: its last snapshot, when it was first seen and finished, and its message's link."""

    task: Task
    first_seen: datetime
    finished_at: datetime
    link: str | None


@dataclass(frozen=True)
class FailureEntry:
    """A dead letter: its id (the Retry button's value), where it was going, when, why, and what."""

    letter_id: str
    destination: str
    at: datetime | None
    error: str
    transition: Transition


def render_status(*, clusters: Sequence[ClusterStatus], now: datetime, share: str | None) -> SlackMessage:
    """``/ehpc status``: a count by health, then one line per cluster, worst first."""
    if not clusters:
        nothing = "No watched cluster belongs to this channel."
        return SlackMessage(text=nothing, blocks=(section(nothing),))
    blocks = _status_blocks(clusters, now=now, limit=MAX_BLOCKS - 2)
    blocks.append(context(f"From ehpc-bridge's records at {now:%Y-%m-%d %H:%M:%S} UTC"))
    if share is not None:
        blocks.append(_actions("ehpc_status_actions", [button("Share in channel", ACTION_SHARE, share)]))
    return SlackMessage(text=_status_text(clusters, now=now), blocks=tuple(blocks))


def render_home(*, clusters: Sequence[ClusterStatus], hidden: int, now: datetime) -> dict[str, Any]:
    """The App Home view (``views.publish``): the same board for the user who opened it."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "E-HPC clusters"}},
    ]
    if clusters:
        blocks.extend(_status_blocks(clusters, now=now, limit=MAX_HOME_BLOCKS - 4))
    else:
        blocks.append(section("No cluster's access rules name you (or a user group of yours)."))
    if hidden:
        blocks.append(
            context(
                f"{hidden} more cluster{'s are' if hidden != 1 else ' is'} open to the members of "
                "their channels: `/ehpc status` there shows them."
            )
        )
    blocks.append(context(f"Updated {now:%Y-%m-%d %H:%M:%S} UTC · `/ehpc help` for commands"))
    return {"type": "home", "blocks": blocks}


def render_history(
    *,
    cluster_id: str,
    cluster_name: str,
    entries: Sequence[HistoryEntry],
    what: str,
    now: datetime,
    share: str | None,
) -> SlackMessage:
    """``/ehpc history``: finished tasks newest first with outcome, duration and a link to the message."""
    plural = "s" if len(entries) != 1 else ""
    title = (
        f"*{escape(cluster_name)}* (`{escape(cluster_id)}`): {len(entries)} finished task{plural} "
        f"({escape(what)})"
    )
    blocks: list[Block] = [section(title)]
    if not entries:
        blocks.append(section("No finished task is remembered for that span."))
    lines = [_history_line(entry, now=now) for entry in entries]
    chunks = chunk_lines(lines, MAX_TEXT)
    room = MAX_BLOCKS - 3
    blocks.extend(section("\n".join(chunk)) for chunk in chunks[:room])
    if len(chunks) > room:
        blocks.append(context(f"…and {sum(len(chunk) for chunk in chunks[room:])} more"))
    if share is not None:
        blocks.append(_actions("ehpc_history_actions", [button("Share in channel", ACTION_SHARE, share)]))
    text = f"{cluster_name} ({cluster_id}): {len(entries)} finished tasks"
    return SlackMessage(text=clip(escape(text), MAX_TEXT), blocks=tuple(blocks))


def render_failures(*, entries: Sequence[FailureEntry], total: int, retry_action: str) -> SlackMessage:
    """``/ehpc failures``: each dead letter with what, where, why, and a *Retry* button."""
    if not entries:
        return SlackMessage(
            text="Nothing was given up on.",
            blocks=(section(":white_check_mark: Nothing was given up on for the clusters you may mute."),),
        )
    head = f"*{total} transition{'s' if total != 1 else ''} given up on* (newest first)"
    blocks: list[Block] = [section(head)]
    room = (MAX_BLOCKS - 2) // 2
    for entry in entries[:room]:
        blocks.append(section(_failure_line(entry)))
        blocks.append(
            _actions(
                f"ehpc_failure_{entry.letter_id}"[:255],
                [button("Retry", retry_action, entry.letter_id, style="primary")],
            )
        )
    if total > min(len(entries), room):
        blocks.append(
            context(f"…and {total - min(len(entries), room)} more (`ehpc-bridge dead-letters` lists all)")
        )
    return SlackMessage(text=f"{total} transitions given up on", blocks=tuple(blocks))


def _status_blocks(clusters: Sequence[ClusterStatus], *, now: datetime, limit: int) -> list[Block]:
    order = {Health.FAILING: 0, Health.STALE: 1, Health.HEALTHY: 2}
    ranked = sorted(clusters, key=lambda cluster: order[cluster.health(now)])
    counts = {health: sum(c.health(now) is health for c in clusters) for health in Health}
    summary = " · ".join(f"{_HEALTH_EMOJI[h.value]} {counts[h]} {h.value}" for h in Health if counts[h])
    blocks: list[Block] = [
        section(f"*{len(clusters)} cluster{'s' if len(clusters) != 1 else ''}* · {summary}")
    ]
    shown = ranked[: limit - 2]
    blocks.extend(section(_status_line(cluster, now=now)) for cluster in shown)
    if len(ranked) > len(shown):
        blocks.append(context(f"…and {len(ranked) - len(shown)} more"))
    return blocks


def _status_text(clusters: Sequence[ClusterStatus], *, now: datetime) -> str:
    failing = sum(cluster.health(now) is Health.FAILING for cluster in clusters)
    return f"{len(clusters)} clusters, {failing} failing"


def _status_line(cluster: ClusterStatus, *, now: datetime) -> str:
    health = cluster.health(now)
    polled = (
        f"last good poll {_ago(now - cluster.last_ok)} ago ({cluster.last_ok:%H:%M:%S} UTC)"
        if cluster.last_ok is not None
        else "no successful poll yet"
    )
    running = cluster.running
    if running:
        named = ", ".join(
            f"{escape(task.label)} {escape(progress_bar(task))}" for task in running[:_RUNNING_SHOWN]
        )
        more = f" +{len(running) - _RUNNING_SHOWN} more" if len(running) > _RUNNING_SHOWN else ""
        tasks = f"{len(running)} running: {named}{more}"
    else:
        tasks = "nothing running"
    muted = f" · :mute: muted until {cluster.muted_until:%Y-%m-%d %H:%M} UTC" if cluster.muted_until else ""
    line = (
        f"{_HEALTH_EMOJI[health.value]} *{escape(cluster.name)}* (`{escape(cluster.cluster_id)}`) · "
        f"{polled} · {tasks}{muted}"
    )
    if cluster.last_error:
        when = f" ({_ago(now - cluster.error_at)} ago)" if cluster.error_at is not None else ""
        line += f"\n:warning: last API error{when}: {escape(clip(cluster.last_error, _MAX_ERROR))}"
    return line


def _history_line(entry: HistoryEntry, *, now: datetime) -> str:
    task = entry.task
    outcome = task.raw_status if task.status.value == "Unknown" and task.raw_status else task.status.value
    link = f" · <{entry.link}|message>" if entry.link else ""
    return (
        f"{STATUS_EMOJI[task.status]} *{escape(task.label)}* · {escape(outcome)} · "
        f"took {_took(entry.finished_at - entry.first_seen)} · "
        f"finished {_ago(now - entry.finished_at)} ago{link} · `{escape(clip(task.task_id, 80))}`"
    )


def _failure_line(entry: FailureEntry) -> str:
    transition = entry.transition
    task = transition.task
    when = f" at {entry.at:%Y-%m-%d %H:%M} UTC" if entry.at is not None else ""
    return (
        f":no_entry: *{escape(task.label)}* on *{escape(transition.cluster_name)}* · "
        f"{escape(transition.kind.value)} {STATUS_EMOJI[task.status]} · "
        f"to `{escape(entry.destination)}`{when}\n"
        f"`{escape(clip(task.task_id, 80))}` · {escape(clip(entry.error, _MAX_ERROR))}"
    )


def _actions(block_id: str, elements: list[Block]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": elements}


def _ago(delta: timedelta) -> str:
    return duration(delta, parts=1, days=True)


def _took(delta: timedelta) -> str:
    return duration(delta, parts=2)
