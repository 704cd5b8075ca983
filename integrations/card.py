"""What a ticket or a group-robot message says about a transition, before any vendor markup.

Jira, ServiceNow, DingTalk, Lark and WeCom show the same task card; this module decides *what* is said
and each vendor's ``render`` module decides *how*. Strings here are unescaped (they carry text from the
E-HPC API) except for :func:`defang`, which every chat vendor applies so that an error text such as
``@all`` or ``<at user_id="all">`` is shown and pings nobody.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from integrations.base import Transition, TransitionKind
from integrations.ehpc.task import Instance, TaskError, TaskStatus
from integrations.text import ERROR_LINE_LIMIT, clip, duration, error_message, node_label

__all__ = [
    "KEYWORD",
    "MAX_ITEMS",
    "Card",
    "chat_headline",
    "clip",
    "defang",
    "escape_markdown",
    "fit_lines",
    "is_failure",
    "is_recovery",
    "markdown_lines",
    "recovery_line",
    "task_card",
    "text_lines",
]

MAX_ITEMS = 20  # errors or nodes listed before "…and N more"
KEYWORD = "E-HPC"  # in every chat headline, for the robots' "custom keyword" security setting
_ZERO_WIDTH_SPACE = "\u200b"
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]~])")  # "(" is harmless once "]" is escaped

_STATUS_WORDS = {
    TaskStatus.PROCESSING: "in progress",
    TaskStatus.SUCCESS: "succeeded",
    TaskStatus.FAIL: "failed",
    TaskStatus.PARTIAL_FAIL: "partly failed",
    TaskStatus.UNKNOWN: "in an unknown state",
}
_FAILURES = frozenset({TaskStatus.FAIL, TaskStatus.PARTIAL_FAIL})


@dataclass(frozen=True)
class Card:
    """The facts of one transition: a headline, labelled fields, and error and node lines."""

    headline: str
    status: TaskStatus
    fields: tuple[tuple[str, str], ...]
    errors: tuple[str, ...]
    nodes: tuple[str, ...]


def task_card(transition: Transition) -> Card:
    """The card of ``transition``'s task as of this transition."""
    task = transition.task
    status = _STATUS_WORDS[task.status]
    if task.status is TaskStatus.UNKNOWN and task.raw_status:
        status = f"in state {task.raw_status}"
    if transition.kind is TransitionKind.LOST:
        status = "no longer reported by E-HPC"
    fields = [
        ("Cluster", f"{transition.cluster_name} ({task.cluster_id})"),
        ("Operation", task.label),
        ("Status", task.raw_status or task.status.value),
        ("Task ID", task.task_id),
        ("Steps", _steps(task.current_step, task.total_steps)),
        ("Elapsed", duration(transition.observed_at - transition.first_seen, minutes=True)),
        ("Observed", f"{transition.observed_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    if transition.kind is TransitionKind.LOST and transition.last_seen is not None:
        fields.append(("Last seen", f"{transition.last_seen:%Y-%m-%d %H:%M:%S} UTC"))
    return Card(
        headline=f"{task.label} {status} on {transition.cluster_name}",
        status=task.status,
        fields=tuple(fields),
        errors=_capped([_error_line(error) for error in task.errors]),
        nodes=_capped([_node_line(node) for node in task.instances]),
    )


def is_failure(transition: Transition) -> bool:
    """True when the transition is a task ending in Fail or PartialFail (what opens a ticket)."""
    return transition.kind is TransitionKind.FINISHED and transition.task.status in _FAILURES


def is_recovery(transition: Transition) -> bool:
    """True when the transition is a task ending in Success (what resolves earlier tickets of its kind)."""
    return transition.kind is TransitionKind.FINISHED and transition.task.status is TaskStatus.SUCCESS


def recovery_line(transition: Transition) -> str:
    """The sentence a ticket receives when a later task of the same type on the same cluster succeeds."""
    task = transition.task
    return (
        f"Recovered: a later {task.label.lower()} on {transition.cluster_name} succeeded "
        f"(task {task.task_id}, {transition.observed_at:%Y-%m-%d %H:%M:%S} UTC)."
    )


def chat_headline(card: Card) -> str:
    """The headline a group-robot message starts with, tagged with :data:`KEYWORD` and defanged."""
    return defang(f"[{KEYWORD}] {card.headline}")


def defang(text: str) -> str:
    """Break every mention syntax (``@all``, ``<@id>``, ``<at …>``, ``<!channel>``) by a zero-width space."""
    return text.replace("@", "@" + _ZERO_WIDTH_SPACE).replace("<", "<" + _ZERO_WIDTH_SPACE)


def escape_markdown(text: str) -> str:
    """Make API text inert in a chat markdown dialect: one line, no emphasis, links or mentions."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", defang(" ".join(text.split())))


def markdown_lines(card: Card) -> list[str]:
    """The card's fields, errors and nodes as escaped markdown lines (the headline is the vendor's)."""
    lines = [f"**{name}**: {escape_markdown(value)}" for name, value in card.fields]
    for title, items in (("Errors", card.errors), ("Nodes", card.nodes)):
        if items:
            lines += ["", f"**{title}**", *(f"- {escape_markdown(item)}" for item in items)]
    return lines


def text_lines(card: Card) -> list[str]:
    """The card's fields, errors and nodes as plain-text lines, for vendors that show no markup."""
    lines = [f"{name}: {value}" for name, value in card.fields]
    for title, items in (("Errors", card.errors), ("Nodes", card.nodes)):
        if items:
            lines += ["", f"{title}:", *(f"- {item}" for item in items)]
    return lines


def fit_lines(lines: Sequence[str], *, max_bytes: int, separator: str = "\n") -> str:
    """Join ``lines`` within ``max_bytes`` of UTF-8; lines that do not fit become "…and N more lines"."""
    kept: list[str] = []
    for index, line in enumerate(lines):
        rest = len(lines) - index - 1
        tail = [f"…and {rest} more lines"] if rest else []
        if len(separator.join([*kept, line, *tail]).encode()) > max_bytes:
            kept.append(f"…and {rest + 1} more lines")
            break
        kept.append(line)
    return separator.join(kept)


def _steps(current: int | None, total: int | None) -> str:
    if current is None or total is None:
        return "unknown"
    return f"{current}/{total}"


def _error_line(error: TaskError) -> str:
    parts = [f"[{error.instance_id}]" if error.instance_id else "", error.code or ""]
    return clip(" ".join([*filter(None, parts), error_message(error)]), ERROR_LINE_LIMIT)


def _node_line(node: Instance) -> str:
    name, details = node_label(node)
    return name + details


def _capped(lines: Sequence[str]) -> tuple[str, ...]:
    if len(lines) <= MAX_ITEMS:
        return tuple(lines)
    return (*lines[: MAX_ITEMS - 1], f"…and {len(lines) - MAX_ITEMS + 1} more")
