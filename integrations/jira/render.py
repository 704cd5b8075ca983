"""Jira Cloud REST v3 bodies as data: issue fields in Atlassian Document Format, labels and JQL.

Everything is built from a :class:`~integrations.base.Transition` without HTTP. ADF text nodes are
literal (a mention is its own node type), so API text needs no escaping here; labels are reduced to the
characters Jira accepts (no spaces, at most 255 characters) and are the only values put into JQL.

Labels on each issue: ``ehpc-bridge``, ``ehpc-fp-<fingerprint>`` (the idempotency key: searched before
any create), ``ehpc-task-<cluster>_<task>``, ``ehpc-cluster-<cluster>`` and ``ehpc-type-<type>`` (what a
later success of the same type on the same cluster searches for), and ``ehpc-recovered`` once a recovery
comment was added.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.base import Transition
from integrations.card import Card, clip, recovery_line, task_card

__all__ = [
    "RECOVERED_LABEL",
    "clean_label",
    "failure_labels",
    "fingerprint_jql",
    "issue_fields",
    "label",
    "open_failures_jql",
    "recovery_comment",
]

Node = dict[str, Any]

BRIDGE_LABEL = "ehpc-bridge"
RECOVERED_LABEL = "ehpc-recovered"
_MAX_LABEL = 255
_MAX_SUMMARY = 255
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")


def label(prefix: str, value: str) -> str:
    """``prefix-value`` with every run of characters Jira labels refuse (spaces …) replaced by ``_``."""
    return clean_label(f"{prefix}-{value}")


def clean_label(value: str) -> str:
    """``value`` as a Jira label: runs of refused characters (spaces …) become ``_``, at most 255 long."""
    return clip(_LABEL_UNSAFE.sub("_", value), _MAX_LABEL)


def failure_labels(transition: Transition) -> list[str]:
    """The labels of the issue opened for a failed task (see the module docstring)."""
    task = transition.task
    return [
        BRIDGE_LABEL,
        label("ehpc-fp", transition.fingerprint),
        label("ehpc-task", transition.task_key),
        label("ehpc-cluster", task.cluster_id),
        label("ehpc-type", task.type_name),
    ]


def fingerprint_jql(transition: Transition) -> str:
    """JQL finding an issue already opened for this very transition (retry or restart)."""
    return f'labels = "{label("ehpc-fp", transition.fingerprint)}"'


def open_failures_jql(transition: Transition) -> str:
    """JQL finding the unresolved, not yet recovered issues of the same task type on the same cluster."""
    task = transition.task
    return (
        f'labels = "{label("ehpc-cluster", task.cluster_id)}" '
        f'AND labels = "{label("ehpc-type", task.type_name)}" '
        f'AND labels = "{BRIDGE_LABEL}" AND labels not in ("{RECOVERED_LABEL}") '
        "AND statusCategory != Done ORDER BY created ASC"
    )


def issue_fields(
    transition: Transition, *, project_key: str, issue_type: str, extra_labels: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The body of ``POST /rest/api/3/issue`` for a failed task."""
    card = task_card(transition)
    summary = clip(f"[E-HPC] {card.headline} (task {transition.task.task_id})", _MAX_SUMMARY)
    return {
        "fields": {
            "project": {"key": project_key},
            "issuetype": {"name": issue_type},
            "summary": " ".join(summary.split()),  # a summary is one line
            "description": _description(card, transition),
            "labels": [*failure_labels(transition), *(clean_label(extra) for extra in extra_labels)],
        }
    }


def recovery_comment(transition: Transition) -> dict[str, Any]:
    """The body of ``POST /rest/api/3/issue/{key}/comment`` linking the success that recovered the issue."""
    return {"body": _doc([_paragraph(_text(recovery_line(transition)))])}


def _description(card: Card, transition: Transition) -> Node:
    content: list[Node] = [
        _paragraph(_text(card.headline, strong=True)),
        _bullets([[_text(f"{name}: ", strong=True), _text(value)] for name, value in card.fields]),
    ]
    for title, lines in (("Errors", card.errors), ("Nodes", card.nodes)):
        if lines:
            content.append({"type": "heading", "attrs": {"level": 3}, "content": [_text(title)]})
            content.append(_bullets([[_text(line)] for line in lines]))
    content.append(_paragraph(_text(f"Opened by ehpc-bridge · fingerprint {transition.fingerprint}")))
    return _doc(content)


def _doc(content: list[Node]) -> Node:
    return {"type": "doc", "version": 1, "content": content}


def _paragraph(*inline: Node) -> Node:
    return {"type": "paragraph", "content": list(inline)}


def _bullets(items: list[list[Node]]) -> Node:
    return {
        "type": "bulletList",
        "content": [{"type": "listItem", "content": [_paragraph(*item)]} for item in items],
    }


def _text(value: str, *, strong: bool = False) -> Node:
    node: Node = {"type": "text", "text": value or "-"}  # ADF refuses empty text nodes
    if strong:
        node["marks"] = [{"type": "strong"}]
    return node
