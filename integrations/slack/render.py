"""Slack messages as data: pure functions from tasks to Block Kit, tested without HTTP.

Every string that came from the E-HPC API (or from configuration) goes through :func:`escape`, so an error
message containing ``<!channel>`` shows as text and pings nobody. Slack's limits are held here, not hoped
for: at most 50 blocks, 3,000 characters per text object (2,000 per section field), 40,000 characters of
fallback text; long lists are cut and end with "…and N more".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from integrations.base import Transition, TransitionKind
from integrations.ehpc.task import Instance, Task, TaskError, TaskStatus
from integrations.text import ERROR_LINE_LIMIT, duration, error_message, node_label
from integrations.text import clip as cut

__all__ = [
    "MAX_BLOCKS",
    "MAX_TEXT",
    "STATUS_EMOJI",
    "SlackMessage",
    "chunk_lines",
    "clip",
    "context",
    "escape",
    "progress_bar",
    "render_api_recovered",
    "render_cluster_problem",
    "render_digest",
    "render_final_reply",
    "render_lost_notice",
    "render_stalled_warning",
    "render_state_rebuilt",
    "render_task_message",
    "section",
    "stages_done",
]

MAX_BLOCKS = 50
MAX_TEXT = 3000  # one text object
MAX_FIELD = 2000  # one section field
MAX_FALLBACK = 40000  # the message's top-level ``text``
_BAR_WIDTH = 10

Block = dict[str, Any]

STATUS_EMOJI = {  # the status visual every Slack surface uses
    TaskStatus.PROCESSING: ":hourglass_flowing_sand:",
    TaskStatus.SUCCESS: ":white_check_mark:",
    TaskStatus.FAIL: ":x:",
    TaskStatus.PARTIAL_FAIL: ":warning:",
    TaskStatus.UNKNOWN: ":grey_question:",
}
_FAILED = frozenset({TaskStatus.FAIL, TaskStatus.PARTIAL_FAIL})
_STATUS_WORDS = {
    TaskStatus.PROCESSING: "In progress",
    TaskStatus.SUCCESS: "Succeeded",
    TaskStatus.FAIL: "Failed",
    TaskStatus.PARTIAL_FAIL: "Partly failed",
    TaskStatus.UNKNOWN: "Unknown",
}
LOST_EMOJI = ":ghost:"
LOST_WORDS = "No longer reported by E-HPC"


@dataclass(frozen=True)
class SlackMessage:
    """What ``chat.postMessage``/``chat.update`` receive: a plain fallback and the Block Kit blocks."""

    text: str
    blocks: tuple[Block, ...]

    def block_list(self) -> list[Block]:
        """The blocks as the list slack-sdk serializes."""
        return list(self.blocks)


def escape(text: str) -> str:
    """Escape Slack's three control characters so foreign text is shown, never interpreted."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def progress_bar(task: Task) -> str:
    """A text bar such as ``▓▓▓▓░░░░░░ 4/10 (40%)``; a 2.0 operation, which has no total, as stages done.

    A 2.0 operation's line carries a stage name from the API: escape the result before it goes into mrkdwn.
    """
    if task.generation == "2.0":
        return stages_done(task)
    fraction = task.progress
    if fraction is None:
        return "steps unknown"
    filled = round(fraction * _BAR_WIDTH)
    bar = "▓" * filled + "░" * (_BAR_WIDTH - filled)
    return f"{bar} {task.current_step}/{task.total_steps} ({round(fraction * 100)}%)"


def stages_done(task: Task) -> str:
    """``3 stages done (latest: ConfigNetwork)``: honest progress where the API gives no total.

    The stage name is the API's text: escape the result before it goes into mrkdwn.
    """
    if task.current_step is None:
        return "stages not read yet"
    count = task.current_step
    latest = f" (latest: {task.stage})" if task.stage else ""
    return f"{count} stage{'' if count == 1 else 's'} done{latest}"


def render_task_message(
    *, task: Task, cluster_name: str, first_seen: datetime, now: datetime, lost: bool = False
) -> SlackMessage:
    """The parent message of a task, edited in place as it progresses and when it ends.

    ``lost``: E-HPC no longer reports the task; the message keeps its last known progress.
    """
    emoji = LOST_EMOJI if lost else STATUS_EMOJI[task.status]
    title = f"{emoji} *{escape(task.label)}* on *{escape(cluster_name)}*"
    status = f"{LOST_EMOJI} {LOST_WORDS}" if lost else _status_words(task)
    elapsed = _duration(now - first_seen)
    fields = [
        _mrkdwn(f"*Status*\n{status}"),
        _mrkdwn(f"*Progress*\n{escape(progress_bar(task))}"),
        _mrkdwn(f"*Elapsed*\n{elapsed}"),
        _mrkdwn(f"*Task ID*\n`{clip(escape(task.task_id), MAX_FIELD - 20)}`"),
    ]
    blocks: list[Block] = [
        {"type": "section", "text": _mrkdwn(clip(title, MAX_TEXT)), "fields": fields},
        context(f"Cluster `{escape(task.cluster_id)}` · updated {now:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    text = (
        f"{task.label} on {cluster_name}: {status} · {progress_bar(task)} · {elapsed} · task {task.task_id}"
    )
    return SlackMessage(text=clip(escape(text), MAX_FALLBACK), blocks=tuple(blocks))


def render_final_reply(*, task: Task, cluster_name: str) -> SlackMessage:
    """The thread reply when a task ends: nodes added, errors, and for PartialFail which nodes failed."""
    headline = (
        f"{STATUS_EMOJI[task.status]} *{escape(task.label)}* on *{escape(cluster_name)}* "
        f"finished: {_status_words(task)}"
    )
    blocks: list[Block] = [section(headline)]
    sections = [
        ("Nodes added", [_instance_line(node) for node in task.instances]),
        ("Errors", [_error_line(error) for error in task.errors]),
    ]
    if task.status is TaskStatus.PARTIAL_FAIL:
        failed = sorted({error.instance_id for error in task.errors if error.instance_id})
        sections.append(("Failed nodes", [f"• `{escape(node)}`" for node in failed]))
    for title, lines in sections:
        if lines:
            blocks.append(section(_bounded_lines(f"*{title}* ({len(lines)})", lines, MAX_TEXT)))
    if len(blocks) == 1:
        blocks.append(section("No node or error details were reported."))
    text = "\n".join(block["text"]["text"] for block in blocks)
    return SlackMessage(text=clip(text, MAX_FALLBACK), blocks=tuple(blocks))


def render_lost_notice(*, task: Task, cluster_name: str, last_seen: datetime | None) -> SlackMessage:
    """The thread reply closing a task E-HPC no longer reports: what was last known of it, and when."""
    steps = f" {task.current_step}/{task.total_steps}" if task.current_step is not None else ""
    when = f" at {last_seen:%Y-%m-%d %H:%M:%S} UTC" if last_seen is not None else ""
    line = (
        f"{LOST_EMOJI} *{escape(task.label)}* on *{escape(cluster_name)}*: E-HPC no longer reports this "
        f"task; last seen {escape(task.raw_status or task.status.value)}{steps}{when}. "
        "No further updates will follow."
    )
    return SlackMessage(text=clip(line, MAX_TEXT), blocks=(section(clip(line, MAX_TEXT)),))


def render_stalled_warning(
    *, task: Task, cluster_name: str, first_seen: datetime, now: datetime
) -> SlackMessage:
    """The one thread warning for a task stuck on a step far longer than usual."""
    if task.generation == "2.0":
        step = escape(f"{task.stage} after {stages_done(task)}") if task.stage else "its current stage"
    elif task.current_step is not None:
        step = f"step {task.current_step}/{task.total_steps}"
    else:
        step = "its current step"
    line = (
        f":rotating_light: *{escape(task.label)}* on *{escape(cluster_name)}* looks stalled: "
        f"still on {step} after {_duration(now - first_seen)}."
    )
    return SlackMessage(text=line, blocks=(section(line),))


def render_digest(*, transitions: Sequence[Transition], now: datetime) -> SlackMessage:
    """One message announcing many tasks' latest state, sent instead of a flood when a channel has a backlog.

    Each task gets one line: failed ones first, each with its first error; then the others (finished,
    started, at a step, stalled). Lines fill sections of at most 3,000 characters, and when the message
    would pass 40,000 characters the last section ends with "…and N more" (the header counts every task).
    :data:`worker.deliver.digests.DIGEST_SIZE` keeps a digest of failures within that in full.
    """
    counts = Counter(transition.task.status for transition in transitions)
    summary = ", ".join(
        f"{STATUS_EMOJI[status]} {counts[status]} {_STATUS_WORDS[status].lower()}" for status in counts
    )
    finished = all(transition.kind is TransitionKind.FINISHED for transition in transitions)
    what = "tasks finished" if finished else "task updates"
    header = f"*{len(transitions)} E-HPC {what}* ({summary})"
    ordered = sorted(transitions, key=lambda transition: transition.task.status not in _FAILED)
    lines = [_digest_line(transition, now=now) for transition in ordered]
    blocks: list[Block] = [section(header)]
    chunks = chunk_lines(lines, MAX_TEXT)
    # Sections are cut at 3,000 characters; their count keeps the whole message within 40,000.
    room = min(MAX_BLOCKS - 2, (MAX_FALLBACK - len(header) - 500) // MAX_TEXT)
    if len(chunks) > room:
        overflow = [line for chunk in chunks[room - 1 :] for line in chunk]
        chunks = [*chunks[: room - 1], [_bounded_lines("", overflow, MAX_TEXT)]]
    blocks.extend(section("\n".join(chunk)) for chunk in chunks)
    blocks.append(
        context(f"Digest sent {now:%Y-%m-%d %H:%M:%S} UTC because this channel was over its message budget")
    )
    fallback = f"{len(transitions)} E-HPC {what} ({', '.join(f'{counts[s]} {s.value}' for s in counts)})"
    return SlackMessage(text=fallback, blocks=tuple(blocks))


def render_cluster_problem(*, cluster_name: str, code: str, message: str) -> SlackMessage:
    """A permanent API error for a cluster (bad credentials, cluster not found …), posted once per change."""
    line = (
        f":no_entry: *E-HPC cannot be polled for {escape(cluster_name)}*: `{escape(code)}`\n"
        f"{escape(message)}\nNotifications for this cluster are paused until this changes."
    )
    text = clip(line, MAX_TEXT)
    return SlackMessage(text=text, blocks=(section(text),))


def render_api_recovered(*, cluster_name: str, code: str) -> SlackMessage:
    """The cluster whose API problem was announced is polled again."""
    text = clip(
        f":white_check_mark: *E-HPC answers again for {escape(cluster_name)}* (it had refused with "
        f"`{escape(code)}`). Notifications for this cluster resume.",
        MAX_TEXT,
    )
    return SlackMessage(text=text, blocks=(section(text),))


def render_state_rebuilt(*, found: int, followed: int) -> SlackMessage:
    """The one notice posted in a channel after ehpc-bridge lost its state and rebuilt it from the channel."""
    line = (
        ":information_source: *ehpc-bridge lost its state* (its Redis was emptied or replaced) *and rebuilt "
        f"it from this channel*: {found} task message(s) found, {followed} still unfinished and followed "
        "again. Their messages are brought up to date in place, not posted again."
    )
    return SlackMessage(text="ehpc-bridge rebuilt its state from this channel", blocks=(section(line),))


def _status_words(task: Task) -> str:
    if task.status is TaskStatus.UNKNOWN and task.raw_status:
        return f"{STATUS_EMOJI[task.status]} {escape(task.raw_status)}"
    return f"{STATUS_EMOJI[task.status]} {_STATUS_WORDS[task.status]}"


def _duration(delta: timedelta) -> str:
    return duration(delta, parts=2)


def _instance_line(node: Instance) -> str:
    name, details = node_label(node)
    return f"• `{escape(name)}`{escape(details)}"


def _error_line(error: TaskError) -> str:
    code = f"`{escape(error.code)}` " if error.code else ""
    node = f"[{escape(error.instance_id)}] " if error.instance_id else ""
    return clip(f"• {node}{code}{escape(error_message(error))}", ERROR_LINE_LIMIT)


def _digest_line(transition: Transition, *, now: datetime) -> str:
    task = transition.task
    line = (
        f"{STATUS_EMOJI[task.status]} {escape(task.label)} on {escape(transition.cluster_name)} "
        f"· `{escape(clip(task.task_id, 80))}` · {_duration(now - transition.first_seen)}"
    )
    if transition.kind is TransitionKind.STARTED:
        return f"{line} · started"
    if transition.kind is TransitionKind.STALLED:
        return f"{line} · stalled on step {task.current_step}"
    if transition.kind is TransitionKind.PROGRESSED:
        return f"{line} · step {task.current_step}/{task.total_steps}"
    if task.status in _FAILED:
        first = next(iter(task.errors), None)
        cause = "no error details reported"
        if first is not None:
            code = f"{first.code}: " if first.code else ""
            cause = clip(code + (first.message if first.message is not None else str(first.raw)), 100)
        more = f" (+{len(task.errors) - 1} more)" if len(task.errors) > 1 else ""
        return f"{line} · {_STATUS_WORDS[task.status].lower()}: {escape(cause)}{more}"
    return line


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> Block:
    """A mrkdwn section block, its text cut to Slack's 3,000 characters."""
    return {"type": "section", "text": _mrkdwn(clip(text, MAX_TEXT))}


def context(text: str) -> Block:
    """A context block of one mrkdwn element, cut to Slack's 3,000 characters."""
    return {"type": "context", "elements": [_mrkdwn(clip(text, MAX_TEXT))]}


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut; never empty (Slack refuses empty texts)."""
    return cut(text, limit) or " "


def _more(count: int) -> str:
    return f"…and {count} more"


def _bounded_lines(title: str, lines: Sequence[str], limit: int) -> str:
    """``title`` then as many ``lines`` as fit in ``limit`` characters, ending with "…and N more"."""
    kept: list[str] = [title] if title else []
    used = len(title)
    for index, line in enumerate(lines):
        tail = len(_more(len(lines) - index - 1)) + 1 if index < len(lines) - 1 else 0
        if used + 1 + len(line) + tail > limit:
            kept.append(_more(len(lines) - index))
            break
        kept.append(line)
        used += 1 + len(line)
    return "\n".join(kept)


def chunk_lines(lines: Iterable[str], limit: int) -> list[list[str]]:
    """Group lines into chunks whose joined length stays within ``limit``."""
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for line in lines:
        if current and used + 1 + len(line) > limit:
            chunks.append(current)
            current, used = [], 0
        current.append(line)
        used += len(line) + (1 if used else 0)
    if current:
        chunks.append(current)
    return chunks
