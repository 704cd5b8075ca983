"""ServiceNow Table API bodies and encoded queries as data, built from a transition without HTTP.

There is no public machine-readable ServiceNow spec (see ``tests/contracts/README.md``), so
the field names follow the Table API and ``incident`` table documentation: ``short_description``,
``description``, ``urgency``/``impact`` (1 high … 3 low), ``correlation_id`` (String(100)), and on
resolution ``state`` 6 with ``close_code``/``close_notes``. Incident text is plain text: nothing to escape.

``correlation_id`` is ``ehpc/<cluster>/<type>/<task>``: the task's key, with the task type inserted so a
later success of the same type on the same cluster finds the incidents to resolve by prefix.
"""

from __future__ import annotations

import hashlib
from typing import Any

from integrations.base import Transition
from integrations.card import clip, recovery_line, task_card, text_lines
from integrations.ehpc.task import TaskStatus

__all__ = [
    "correlation_id",
    "incident_body",
    "open_incidents_query",
    "resolve_body",
    "same_task_query",
]

_MAX_CORRELATION = 100
_MAX_SHORT_DESCRIPTION = 160
# (urgency, impact): a failed operation is medium, a partly failed one low; 1 is reserved for humans.
_SEVERITY = {TaskStatus.FAIL: ("2", "2"), TaskStatus.PARTIAL_FAIL: ("3", "3")}
_DEFAULT_SEVERITY = ("3", "3")
_NOT_OPEN = "6,7,8"  # Resolved, Closed, Canceled
_RESOLVED = "6"


def correlation_id(transition: Transition, *, task_id: str | None = None) -> str:
    """The incident's idempotency key for the task (see the module docstring); at most 100 characters.

    ``task_id`` names another task of the same type on the same cluster (the failures a success recovers).
    """
    key = f"{_scope(transition)}{_safe(transition.task.task_id if task_id is None else task_id)}"
    if len(key) <= _MAX_CORRELATION:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{clip(_scope(transition), _MAX_CORRELATION - 33)}/{digest}"


def same_task_query(transition: Transition) -> str:
    """``sysparm_query`` finding the incident already opened for this task (retry or restart)."""
    return f"correlation_id={correlation_id(transition)}"


def open_incidents_query(transition: Transition) -> str:
    """``sysparm_query`` finding the open incidents of the same task type on the same cluster."""
    return f"correlation_idSTARTSWITH{_scope(transition)}^stateNOT IN{_NOT_OPEN}"


def incident_body(
    transition: Transition,
    *,
    assignment_group: str | None = None,
    caller_id: str | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """The body of ``POST /api/now/table/incident`` for a failed task."""
    card = task_card(transition)
    urgency, impact = _SEVERITY.get(card.status, _DEFAULT_SEVERITY)
    lines = [
        card.headline,
        "",
        *text_lines(card),
        "",
        f"Opened by ehpc-bridge · fingerprint {transition.fingerprint}",
    ]
    body: dict[str, Any] = {
        "short_description": clip(f"[E-HPC] {' '.join(card.headline.split())}", _MAX_SHORT_DESCRIPTION),
        "description": "\n".join(lines),
        "urgency": urgency,
        "impact": impact,
        "correlation_id": correlation_id(transition),
        "correlation_display": "ehpc-bridge",
    }
    optional = {"assignment_group": assignment_group, "caller_id": caller_id, "category": category}
    body.update({name: value for name, value in optional.items() if value})
    return body


def resolve_body(transition: Transition, *, close_code: str) -> dict[str, Any]:
    """The body of ``PATCH /api/now/table/incident/{sys_id}`` resolving an incident on recovery."""
    return {"state": _RESOLVED, "close_code": close_code, "close_notes": recovery_line(transition)}


def _scope(transition: Transition) -> str:
    task = transition.task
    return f"ehpc/{_safe(task.cluster_id)}/{_safe(task.type_name)}/"


def _safe(value: str) -> str:
    """Drop the characters that structure an encoded query (``^`` joins terms, ``=`` compares)."""
    return value.replace("^", "_").replace("=", "_")
